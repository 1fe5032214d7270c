import type { Kysely } from 'kysely';
import type { AwsKeyCopy, AwsKeyRecord, AwsKeyRepo } from '../domain/index.js';
import type { AwsKeyCopiesTable, AwsKeysTable, Database } from './schema.js';
import type { Writer } from './admin-storage.js';

const toRecord = (r: AwsKeysTable): AwsKeyRecord => ({
  arn: r.arn,
  keyId: r.key_id,
  connectionId: r.connection_id,
  accountId: r.account_id,
  region: r.region,
  keySpec: r.key_spec,
  keyUsage: r.key_usage,
  origin: r.origin,
  keyManager: r.key_manager,
  state: r.state,
  description: r.description,
  aliases: JSON.parse(r.aliases) as string[],
  tags: JSON.parse(r.tags) as Record<string, string>,
  policy: r.policy,
  rotation: r.rotation === null ? null : (JSON.parse(r.rotation) as AwsKeyRecord['rotation']),
  expirationModel: r.expiration_model,
  validTo: r.valid_to,
  multiRegion: r.multi_region === 1,
  customKeyStoreId: r.custom_key_store_id,
  xksKeyId: r.xks_key_id,
  localKeyId: r.local_key_id,
  awsCreatedAt: r.aws_created_at,
  deletionDate: r.deletion_date,
  syncRun: r.sync_run,
  syncedAt: r.synced_at,
  goneAt: r.gone_at,
});

const recordRow = (k: AwsKeyRecord): AwsKeysTable => ({
  arn: k.arn,
  key_id: k.keyId,
  connection_id: k.connectionId,
  account_id: k.accountId,
  region: k.region,
  key_spec: k.keySpec,
  key_usage: k.keyUsage,
  origin: k.origin,
  key_manager: k.keyManager,
  state: k.state,
  description: k.description,
  aliases: JSON.stringify(k.aliases),
  tags: JSON.stringify(k.tags),
  policy: k.policy,
  rotation: k.rotation === null ? null : JSON.stringify(k.rotation),
  expiration_model: k.expirationModel,
  valid_to: k.validTo,
  multi_region: k.multiRegion ? 1 : 0,
  custom_key_store_id: k.customKeyStoreId,
  xks_key_id: k.xksKeyId,
  local_key_id: k.localKeyId,
  aws_created_at: k.awsCreatedAt,
  deletion_date: k.deletionDate,
  sync_run: k.syncRun,
  synced_at: k.syncedAt,
  gone_at: k.goneAt,
});

const toCopy = (r: AwsKeyCopiesTable): AwsKeyCopy => ({
  id: r.id,
  localKeyId: r.local_key_id,
  localVersion: r.local_version,
  connectionId: r.connection_id,
  region: r.region,
  awsKeyArn: r.aws_key_arn,
  expirationModel: r.expiration_model as AwsKeyCopy['expirationModel'],
  validTo: r.valid_to,
  keyMaterialId: r.key_material_id,
  copiedBy: r.copied_by,
  copiedAt: r.copied_at,
});

/** AWS keys and copies over Kysely (SQLite and PostgreSQL alike). */
export function createAwsKeyRepos(db: Kysely<Database>, write: Writer): AwsKeyRepo {
  return {
    putAwsKey: (k) =>
      write(`AWS key ${k.arn}`, async () => {
        const row = recordRow(k);
        const { arn: _arn, ...rest } = row;
        await db.insertInto('aws_keys').values(row).onConflict((oc) => oc.column('arn').doUpdateSet(rest)).execute();
      }),

    async getAwsKey(arn) {
      const r = await db.selectFrom('aws_keys').selectAll().where('arn', '=', arn).executeTakeFirst();
      return r && toRecord(r);
    },

    async listAwsKeys(filter = {}) {
      let q = db.selectFrom('aws_keys').selectAll().orderBy('region').orderBy('key_id');
      if (filter.connectionId !== undefined) q = q.where('connection_id', '=', filter.connectionId);
      if (filter.region !== undefined) q = q.where('region', '=', filter.region);
      if (filter.state !== undefined) q = q.where('state', '=', filter.state);
      return (await q.execute()).map(toRecord);
    },

    markAwsKeysGone: (connectionId, region, syncRun, at) =>
      write('AWS keys', () =>
        db.transaction().execute(async (tx) => {
          const rows = await tx
            .selectFrom('aws_keys')
            .select('arn')
            .where('connection_id', '=', connectionId)
            .where('region', '=', region)
            .where('sync_run', '!=', syncRun)
            .where('gone_at', 'is', null)
            .execute();
          if (rows.length > 0) {
            await tx
              .updateTable('aws_keys')
              .set({ state: 'Gone', gone_at: at })
              .where('arn', 'in', rows.map((r) => r.arn))
              .execute();
          }
          return rows.map((r) => r.arn).sort();
        }),
      ),

    deleteAwsKey: (arn) =>
      write(`AWS key ${arn}`, async () => {
        await db.deleteFrom('aws_keys').where('arn', '=', arn).execute();
      }),

    insertAwsKeyCopy: (c) =>
      write('AWS key copy', async () => {
        await db
          .insertInto('aws_key_copies')
          .values({
            id: c.id,
            local_key_id: c.localKeyId,
            local_version: c.localVersion,
            connection_id: c.connectionId,
            region: c.region,
            aws_key_arn: c.awsKeyArn,
            expiration_model: c.expirationModel,
            valid_to: c.validTo,
            key_material_id: c.keyMaterialId,
            copied_by: c.copiedBy,
            copied_at: c.copiedAt,
          })
          .execute();
      }),

    async listAwsKeyCopies(filter) {
      let q = db.selectFrom('aws_key_copies').selectAll().orderBy('copied_at').orderBy('id');
      if (filter.localKeyId !== undefined) q = q.where('local_key_id', '=', filter.localKeyId);
      if (filter.awsKeyArn !== undefined) q = q.where('aws_key_arn', '=', filter.awsKeyArn);
      return (await q.execute()).map(toCopy);
    },
  };
}
