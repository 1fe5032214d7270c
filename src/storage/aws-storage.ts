import type { Kysely } from 'kysely';
import { ownedCopy } from '../base/index.js';
import type { AwsConnectionRecord, AwsCredentialSource, AwsRepo, KeyAwsLink, KeyStoreAwsLink } from '../domain/index.js';
import type { AwsConnectionsTable, AwsKeyLinksTable, AwsKeyStoreLinksTable, Database } from './schema.js';
import type { Writer } from './admin-storage.js';

const toConnection = (r: AwsConnectionsTable): AwsConnectionRecord => ({
  id: r.id,
  name: r.name,
  region: r.region,
  regions: JSON.parse(r.regions) as string[],
  endpoint: r.endpoint,
  stsEndpoint: r.sts_endpoint,
  caPem: r.ca_pem,
  accountId: r.account_id,
  credentialSource: r.credential_source as AwsCredentialSource,
  accessKeyId: r.access_key_id,
  sealedSecret: r.secret_sealed === null ? null : ownedCopy(r.secret_sealed),
  roleArn: r.role_arn,
  externalId: r.external_id,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const connectionRow = (c: AwsConnectionRecord): AwsConnectionsTable => ({
  id: c.id,
  name: c.name,
  region: c.region,
  regions: JSON.stringify(c.regions),
  endpoint: c.endpoint,
  sts_endpoint: c.stsEndpoint,
  ca_pem: c.caPem,
  account_id: c.accountId,
  credential_source: c.credentialSource,
  access_key_id: c.accessKeyId,
  secret_sealed: c.sealedSecret,
  role_arn: c.roleArn,
  external_id: c.externalId,
  created_at: c.createdAt,
  updated_at: c.updatedAt,
});

const toStoreLink = (r: AwsKeyStoreLinksTable): KeyStoreAwsLink => ({
  keyStoreId: r.keystore_id,
  connectionId: r.connection_id,
  region: r.region,
  customKeyStoreId: r.custom_key_store_id,
  customKeyStoreName: r.custom_key_store_name,
  endpoint: r.endpoint,
  connectivity: r.connectivity as KeyStoreAwsLink['connectivity'],
  vpcEndpointServiceName: r.vpc_endpoint_service_name,
  awsAccessKeyId: r.aws_access_key_id,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const storeLinkRow = (l: KeyStoreAwsLink): AwsKeyStoreLinksTable => ({
  keystore_id: l.keyStoreId,
  connection_id: l.connectionId,
  region: l.region,
  custom_key_store_id: l.customKeyStoreId,
  custom_key_store_name: l.customKeyStoreName,
  endpoint: l.endpoint,
  connectivity: l.connectivity,
  vpc_endpoint_service_name: l.vpcEndpointServiceName,
  aws_access_key_id: l.awsAccessKeyId,
  created_at: l.createdAt,
  updated_at: l.updatedAt,
});

const toKeyLink = (r: AwsKeyLinksTable): KeyAwsLink => ({
  keyId: r.key_id,
  connectionId: r.connection_id,
  region: r.region,
  kmsKeyArn: r.kms_key_arn,
  alias: r.alias,
  createdAt: r.created_at,
});

/** Connections and AWS links over Kysely; the same SQL on SQLite and PostgreSQL. */
export function createAwsRepos(db: Kysely<Database>, write: Writer): AwsRepo {
  return {
    insertAwsConnection: (c) =>
      write(`AWS connection ${c.name}`, async () => {
        await db.insertInto('aws_connections').values(connectionRow(c)).execute();
      }),

    replaceAwsConnection: (c) =>
      write(`AWS connection ${c.name}`, async () => {
        const { id: _id, created_at: _created, ...rest } = connectionRow(c);
        await db.updateTable('aws_connections').set(rest).where('id', '=', c.id).execute();
      }),

    deleteAwsConnection: (id) =>
      write('AWS connection', async () => {
        await db.deleteFrom('aws_connections').where('id', '=', id).execute();
      }),

    async getAwsConnection(idOrName) {
      const r = await db.selectFrom('aws_connections').selectAll().where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)])).executeTakeFirst();
      return r && toConnection(r);
    },

    async listAwsConnections() {
      return (await db.selectFrom('aws_connections').selectAll().orderBy('name').execute()).map(toConnection);
    },

    putKeyStoreAwsLink: (l) =>
      write('AWS custom key store link', () =>
        db.transaction().execute(async (tx) => {
          await tx.deleteFrom('aws_keystore_links').where('keystore_id', '=', l.keyStoreId).execute();
          await tx.insertInto('aws_keystore_links').values(storeLinkRow(l)).execute();
        }),
      ),

    async getKeyStoreAwsLink(keyStoreId) {
      const r = await db.selectFrom('aws_keystore_links').selectAll().where('keystore_id', '=', keyStoreId).executeTakeFirst();
      return r && toStoreLink(r);
    },

    async listKeyStoreAwsLinks() {
      return (await db.selectFrom('aws_keystore_links').selectAll().orderBy('keystore_id').execute()).map(toStoreLink);
    },

    deleteKeyStoreAwsLink: (keyStoreId) =>
      write('AWS custom key store link', async () => {
        await db.deleteFrom('aws_keystore_links').where('keystore_id', '=', keyStoreId).execute();
      }),

    insertKeyAwsLink: (l) =>
      write(`AWS key link of ${l.keyId}`, async () => {
        await db
          .insertInto('aws_key_links')
          .values({ key_id: l.keyId, connection_id: l.connectionId, region: l.region, kms_key_arn: l.kmsKeyArn, alias: l.alias, created_at: l.createdAt })
          .execute();
      }),

    async getKeyAwsLink(keyId) {
      const r = await db.selectFrom('aws_key_links').selectAll().where('key_id', '=', keyId).executeTakeFirst();
      return r && toKeyLink(r);
    },

    async listKeyAwsLinks() {
      return (await db.selectFrom('aws_key_links').selectAll().orderBy('key_id').execute()).map(toKeyLink);
    },

    deleteKeyAwsLink: (keyId) =>
      write('AWS key link', async () => {
        await db.deleteFrom('aws_key_links').where('key_id', '=', keyId).execute();
      }),
  };
}
