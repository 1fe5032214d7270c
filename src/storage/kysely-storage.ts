import { Migrator, type Kysely } from 'kysely';
import { KeyholdError, ownedCopy } from '../base/index.js';
import type { AadLayout, CredentialInfo, Key, KeyOrigin, KeyStore, KeyTags, KeyUsage, KeyVersion, Protection, RateQuota, SecondaryPolicy } from '../domain/model.js';
import type { ChangeFeed, LiveCredential, NewCredential, Storage } from '../domain/ports.js';
import type { CredentialsTable, Database, KeysTable, KeyStoresTable, KeyVersionsTable } from './schema.js';
import { migrationProvider } from './migrations.js';
import { createAdminRepos } from './admin-storage.js';
import { createAwsRepos } from './aws-storage.js';
import { createClusterRepo } from './cluster-repo.js';
import { createAwsKeyRepos } from './aws-key-storage.js';

/**
 * The Storage port over Kysely. Dialect-specific parts (connection, change detection,
 * unique-violation detection) come from the caller, so SQLite and PostgreSQL share this.
 */
export interface DialectParts {
  db: Kysely<Database>;
  binaryType: 'blob' | 'bytea';
  changes: ChangeFeed;
  isUniqueViolation(e: unknown): boolean;
  /**
   * After key material was destroyed: make the dialect drop old copies of the pages it
   * lived in (SQLite: checkpoint and truncate the WAL). Best effort.
   */
  afterDestroy?(): Promise<void>;
  close(): Promise<void>;
}

export async function migrate(db: Kysely<Database>, binaryType: 'blob' | 'bytea'): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider(binaryType) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    // A node older than the database (a rolling upgrade gone backwards, or an old node
    // restarted after a newer one migrated) is refused with a message that says so.
    const newer = error instanceof Error ? /previously executed migration (\S+) is missing/.exec(error.message) : null;
    if (newer) throw new KeyholdError('ConfigInvalid', `the database schema is newer than this Keyhold: it has migration ${newer[1]}, which this version does not know; run the newer Keyhold version on this node (docs/deployment.md, rolling upgrade)`, { cause: error });
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new KeyholdError('Internal', `database migration ${failed} failed`, { cause: error });
  }
}

const toKeyStore = (r: KeyStoresTable): KeyStore => ({
  id: r.id,
  name: r.name,
  prefix: r.prefix,
  regions: JSON.parse(r.regions) as string[],
  enabled: r.enabled === 1,
  policy: r.policy === null ? null : (JSON.parse(r.policy) as SecondaryPolicy),
  // Absent when there is none (the field is optional on KeyStore).
  ...(r.quota !== null && r.quota !== undefined ? { quota: JSON.parse(r.quota) as RateQuota } : {}),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const toCredential = (r: Omit<CredentialsTable, 'secret_sealed'>): CredentialInfo => ({
  id: r.id,
  keyStoreId: r.keystore_id,
  accessKeyId: r.access_key_id,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

const toKey = (r: KeysTable): Key => ({
  id: r.id,
  keyStoreId: r.keystore_id,
  externalId: r.external_id,
  protection: r.protection as Protection,
  exportable: r.exportable === 1,
  origin: r.origin as KeyOrigin,
  usage: r.usage === '' ? [] : (r.usage.split(',') as KeyUsage[]),
  enabled: r.enabled === 1,
  currentVersion: r.current_version,
  aadLayout: r.aad_layout as AadLayout,
  description: r.description,
  tags: JSON.parse(r.tags) as KeyTags,
  rotationPeriodDays: r.rotation_period_days,
  nextRotationAt: r.next_rotation_at,
  expiresAt: r.expires_at,
  deletionDate: r.deletion_date,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const toVersion = (r: KeyVersionsTable): KeyVersion => ({
  keyId: r.key_id,
  version: r.version,
  protection: r.protection as Protection,
  // Kept as long as the key is cached: a copy of its own, not a slice of a shared 8 KiB slab.
  sealedMaterial: r.material_sealed === null ? null : ownedCopy(r.material_sealed),
  hsmLabel: r.hsm_label,
  hsmId: r.hsm_id,
  createdAt: r.created_at,
});

const credentialRow = (c: NewCredential): CredentialsTable => ({
  id: c.info.id,
  keystore_id: c.info.keyStoreId,
  access_key_id: c.info.accessKeyId,
  secret_sealed: c.sealedSecret,
  created_at: c.info.createdAt,
  revoked_at: c.info.revokedAt,
});

export function createKyselyStorage(parts: DialectParts): Storage {
  const { db, changes } = parts;

  /** Runs a write, turning unique violations into Conflict, then tells listeners. */
  async function write<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      const r = await fn();
      await changes.notify();
      return r;
    } catch (e) {
      if (parts.isUniqueViolation(e)) throw new KeyholdError('Conflict', `${what}: already exists`, { cause: e });
      throw e;
    }
  }

  /** Admin-plane writes: same error mapping, but the XKS read model does not care about them. */
  async function quietWrite<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (parts.isUniqueViolation(e)) throw new KeyholdError('Conflict', `${what}: already exists`, { cause: e });
      throw e;
    }
  }

  return {
    ...createAdminRepos(db, quietWrite),
    ...createAwsRepos(db, quietWrite),
    ...createAwsKeyRepos(db, quietWrite),

    changes,

    cluster: createClusterRepo(db, parts.binaryType),

    async ping() {
      await db.selectFrom('meta').select('name').limit(1).execute();
    },

    close: () => parts.close(),

    // --- key stores
    insertKeyStore: (ks, first) =>
      write(`key store ${ks.name} or prefix '${ks.prefix}'`, () =>
        db.transaction().execute(async (tx) => {
          await tx
            .insertInto('keystores')
            .values({
              id: ks.id,
              name: ks.name,
              prefix: ks.prefix,
              regions: JSON.stringify(ks.regions),
              enabled: ks.enabled ? 1 : 0,
              policy: ks.policy === null ? null : JSON.stringify(ks.policy),
              quota: ks.quota ? JSON.stringify(ks.quota) : null,
              created_at: ks.createdAt,
              updated_at: ks.updatedAt,
            })
            .execute();
          if (first) await tx.insertInto('credentials').values(credentialRow(first)).execute();
        }),
      ),

    updateKeyStore: (id, patch) =>
      write('key store', async () => {
        await db
          .updateTable('keystores')
          .set({
            ...(patch.enabled !== undefined && { enabled: patch.enabled ? 1 : 0 }),
            ...(patch.policy !== undefined && { policy: patch.policy === null ? null : JSON.stringify(patch.policy) }),
            ...(patch.regions !== undefined && { regions: JSON.stringify(patch.regions) }),
            ...(patch.quota !== undefined && { quota: patch.quota === null ? null : JSON.stringify(patch.quota) }),
            ...(patch.updatedAt !== undefined && { updated_at: patch.updatedAt }),
          })
          .where('id', '=', id)
          .execute();
      }),

    deleteKeyStore: (id) =>
      write('key store', async () => {
        await db.transaction().execute(async (tx) => {
          await tx.deleteFrom('credentials').where('keystore_id', '=', id).execute();
          await tx.deleteFrom('keystores').where('id', '=', id).execute();
        });
      }),

    async getKeyStore(idOrName) {
      const r = await db.selectFrom('keystores').selectAll().where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)])).executeTakeFirst();
      return r && toKeyStore(r);
    },

    async getKeyStoreByPrefix(prefix) {
      const r = await db.selectFrom('keystores').selectAll().where('prefix', '=', prefix).executeTakeFirst();
      return r && toKeyStore(r);
    },

    async listKeyStores() {
      return (await db.selectFrom('keystores').selectAll().orderBy('name').execute()).map(toKeyStore);
    },

    // --- credentials
    insertCredential: (c) =>
      write('credential', async () => {
        await db.insertInto('credentials').values(credentialRow(c)).execute();
      }),

    async listCredentials(keyStoreId) {
      const rows = await db
        .selectFrom('credentials')
        .select(['id', 'keystore_id', 'access_key_id', 'created_at', 'revoked_at'])
        .where('keystore_id', '=', keyStoreId)
        .orderBy('created_at')
        .execute();
      return rows.map(toCredential);
    },

    async listLiveCredentials() {
      const rows = await db.selectFrom('credentials').selectAll().where('revoked_at', 'is', null).execute();
      return rows.map((r): LiveCredential => ({ ...toCredential(r), sealedSecret: Buffer.from(r.secret_sealed) }));
    },

    revokeCredential: (id, at) =>
      write('credential', async () => {
        await db.updateTable('credentials').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute();
      }),

    // --- keys
    insertKey: (key, first) =>
      write(`key ${key.externalId}`, () =>
        db.transaction().execute(async (tx) => {
          await tx
            .insertInto('keys')
            .values({
              id: key.id,
              keystore_id: key.keyStoreId,
              external_id: key.externalId,
              protection: key.protection,
              exportable: key.exportable ? 1 : 0,
              origin: key.origin,
              usage: key.usage.join(','),
              enabled: key.enabled ? 1 : 0,
              current_version: key.currentVersion,
              aad_layout: key.aadLayout,
              description: key.description,
              tags: JSON.stringify(key.tags),
              rotation_period_days: key.rotationPeriodDays,
              next_rotation_at: key.nextRotationAt,
              expires_at: key.expiresAt,
              deletion_date: key.deletionDate,
              created_at: key.createdAt,
              updated_at: key.updatedAt,
            })
            .execute();
          await tx.insertInto('key_versions').values(versionRow(first)).execute();
        }),
      ),

    updateKey: (id, patch) =>
      write('key', async () => {
        await db
          .updateTable('keys')
          .set({
            ...(patch.enabled !== undefined && { enabled: patch.enabled ? 1 : 0 }),
            ...(patch.usage !== undefined && { usage: patch.usage.join(',') }),
            ...(patch.description !== undefined && { description: patch.description }),
            ...(patch.tags !== undefined && { tags: JSON.stringify(patch.tags) }),
            ...(patch.rotationPeriodDays !== undefined && { rotation_period_days: patch.rotationPeriodDays }),
            ...(patch.nextRotationAt !== undefined && { next_rotation_at: patch.nextRotationAt }),
            ...(patch.expiresAt !== undefined && { expires_at: patch.expiresAt }),
            ...(patch.deletionDate !== undefined && { deletion_date: patch.deletionDate }),
            ...(patch.updatedAt !== undefined && { updated_at: patch.updatedAt }),
          })
          .where('id', '=', id)
          .execute();
      }),

    // Sealed material is overwritten before its row is deleted, so the bytes do not stay
    // behind in a free page; SQLite also runs with secure_delete and truncates its WAL.
    deleteVersion: (keyId, version) =>
      write(`key version ${version}`, async () => {
        await db.transaction().execute(async (tx) => {
          await scrubVersions(tx, keyId, version);
          await tx.deleteFrom('key_versions').where('key_id', '=', keyId).where('version', '=', version).execute();
        });
        await parts.afterDestroy?.();
      }),

    deleteKey: (id) =>
      write('key', async () => {
        await db.transaction().execute(async (tx) => {
          await scrubVersions(tx, id);
          await tx.deleteFrom('key_versions').where('key_id', '=', id).execute();
          await tx.deleteFrom('keys').where('id', '=', id).execute();
        });
        await parts.afterDestroy?.();
      }),

    async listKeysDue(nowIso) {
      const rows = await db
        .selectFrom('keys')
        .selectAll()
        .where((eb) => eb.or([eb('deletion_date', '<=', nowIso), eb.and([eb('deletion_date', 'is', null), eb('next_rotation_at', '<=', nowIso)])]))
        .orderBy('external_id')
        .execute();
      return rows.map(toKey);
    },

    addVersion: (v, updatedAt) =>
      write(`key version ${v.version}`, () =>
        db.transaction().execute(async (tx) => {
          await tx.insertInto('key_versions').values(versionRow(v)).execute();
          const res = await tx
            .updateTable('keys')
            .set({ current_version: v.version, updated_at: updatedAt })
            .where('id', '=', v.keyId)
            .where('current_version', '=', v.version - 1)
            .executeTakeFirst();
          if (Number(res.numUpdatedRows) !== 1) throw new KeyholdError('Conflict', 'the key was rotated concurrently; try again');
        }),
      ),

    async getKey(id) {
      const r = await db.selectFrom('keys').selectAll().where('id', '=', id).executeTakeFirst();
      return r && toKey(r);
    },

    async getKeyByExternalId(externalId) {
      const r = await db.selectFrom('keys').selectAll().where('external_id', '=', externalId).executeTakeFirst();
      return r && toKey(r);
    },

    async listKeys(keyStoreId) {
      let q = db.selectFrom('keys').selectAll().orderBy('external_id');
      if (keyStoreId !== undefined) q = q.where('keystore_id', '=', keyStoreId);
      return (await q.execute()).map(toKey);
    },

    async countKeys(keyStoreId) {
      const r = await db.selectFrom('keys').select((eb) => eb.fn.countAll<number>().as('n')).where('keystore_id', '=', keyStoreId).executeTakeFirstOrThrow();
      return Number(r.n);
    },

    async listVersions(keyId) {
      return (await db.selectFrom('key_versions').selectAll().where('key_id', '=', keyId).orderBy('version').execute()).map(toVersion);
    },

    // --- meta
    async getMeta(name) {
      return (await db.selectFrom('meta').select('value').where('name', '=', name).executeTakeFirst())?.value;
    },

    setMeta: (name, value) =>
      write('setting', async () => {
        await db.insertInto('meta').values({ name, value }).onConflict((oc) => oc.column('name').doUpdateSet({ value })).execute();
      }),
  };
}

/** Overwrites sealed material with zeros of the same length (one version, or all of a key). */
async function scrubVersions(tx: Kysely<Database>, keyId: string, version?: number): Promise<void> {
  let q = tx.selectFrom('key_versions').select(['version', 'material_sealed']).where('key_id', '=', keyId);
  if (version !== undefined) q = q.where('version', '=', version);
  for (const r of await q.execute()) {
    if (r.material_sealed === null) continue;
    await tx
      .updateTable('key_versions')
      .set({ material_sealed: Buffer.alloc(r.material_sealed.length), hsm_label: null, hsm_id: null })
      .where('key_id', '=', keyId)
      .where('version', '=', r.version)
      .execute();
  }
}

function versionRow(v: KeyVersion): KeyVersionsTable {
  return {
    key_id: v.keyId,
    version: v.version,
    protection: v.protection,
    material_sealed: v.sealedMaterial,
    hsm_label: v.hsmLabel,
    hsm_id: v.hsmId,
    created_at: v.createdAt,
  };
}
