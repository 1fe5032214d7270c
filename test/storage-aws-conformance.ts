import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { isKeyholdError } from '../src/base/index.js';
import type { AwsConnectionRecord, KeyStoreAwsLink, Storage } from '../src/domain/index.js';
import type { StorageFactory, StorageUnderTest } from './storage-conformance.js';

/** The AWS plane's storage (connections, custom key store and KMS key links) on every Storage implementation. */
const T0 = '2026-02-01T00:00:00.000Z';
const T1 = '2026-02-02T00:00:00.000Z';

export function awsConnection(over: Partial<AwsConnectionRecord> = {}): AwsConnectionRecord {
  return {
    id: randomUUID(),
    name: `conn-${randomUUID().slice(0, 8)}`,
    region: 'eu-west-1',
    regions: ['eu-west-1', 'us-east-1'],
    endpoint: null,
    stsEndpoint: null,
    caPem: null,
    accountId: '111122223333',
    credentialSource: 'static',
    accessKeyId: 'AKIAEXAMPLE000000001',
    sealedSecret: Buffer.from([9, 0, 255, 1]),
    roleArn: null,
    externalId: null,
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

function storeLink(keyStoreId: string, connectionId: string, over: Partial<KeyStoreAwsLink> = {}): KeyStoreAwsLink {
  return {
    keyStoreId,
    connectionId,
    region: 'eu-west-1',
    customKeyStoreId: 'cks-1234567890abcdef0',
    customKeyStoreName: 'keyhold-payments',
    endpoint: 'https://xks.example.com',
    connectivity: 'PUBLIC_ENDPOINT',
    vpcEndpointServiceName: null,
    awsAccessKeyId: 'AAAAAAAAAAAAAAAAAAAAAA',
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

export function awsStorageConformance(name: string, factory: StorageFactory): void {
  const withStorage = (fn: (s: Storage, u: StorageUnderTest) => Promise<void>) => async () => {
    const u = await factory.create();
    try {
      await fn(u.storage, u);
    } finally {
      await u.dispose();
    }
  };

  describe(`AWS storage conformance: ${name}`, () => {
    test(
      'stores a connection with its sealed secret and finds it by id or name',
      withStorage(async (s) => {
        const c = awsConnection({ caPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', endpoint: 'https://kms.local:4599' });
        await s.insertAwsConnection(c);
        assert.deepEqual(await s.getAwsConnection(c.id), c);
        assert.deepEqual(await s.getAwsConnection(c.name), c);
        assert.equal(await s.getAwsConnection('missing'), undefined);
      }),
    );

    test(
      'refuses a second connection with the same name',
      withStorage(async (s) => {
        const c = awsConnection();
        await s.insertAwsConnection(c);
        await assert.rejects(s.insertAwsConnection(awsConnection({ name: c.name })), (e) => isKeyholdError(e, 'Conflict'));
      }),
    );

    test(
      'replaces a connection, switching its credential source, and lists connections by name',
      withStorage(async (s) => {
        const a = awsConnection({ name: 'b-conn' });
        const b = awsConnection({ name: 'a-conn', credentialSource: 'default', accessKeyId: null, sealedSecret: null, accountId: null });
        await s.insertAwsConnection(a);
        await s.insertAwsConnection(b);
        const changed: AwsConnectionRecord = { ...a, credentialSource: 'assume-role', roleArn: 'arn:aws:iam::111122223333:role/keyhold', externalId: 'x-1', accessKeyId: null, sealedSecret: null, updatedAt: T1 };
        await s.replaceAwsConnection(changed);
        assert.deepEqual(await s.getAwsConnection(a.id), changed);
        assert.deepEqual((await s.listAwsConnections()).map((c) => c.name), ['a-conn', 'b-conn']);
        await s.deleteAwsConnection(a.id);
        assert.deepEqual((await s.listAwsConnections()).map((c) => c.name), ['a-conn']);
      }),
    );

    test(
      'keeps one custom key store link per key store, replaced in place',
      withStorage(async (s) => {
        const c = awsConnection();
        await s.insertAwsConnection(c);
        const first = storeLink('ks-1', c.id, { customKeyStoreId: null });
        await s.putKeyStoreAwsLink(first);
        assert.deepEqual(await s.getKeyStoreAwsLink('ks-1'), first);
        const second = storeLink('ks-1', c.id, { awsAccessKeyId: 'BBBBBBBBBBBBBBBBBBBBBB', updatedAt: T1 });
        await s.putKeyStoreAwsLink(second);
        assert.deepEqual(await s.listKeyStoreAwsLinks(), [second]);
        await s.deleteKeyStoreAwsLink('ks-1');
        assert.equal(await s.getKeyStoreAwsLink('ks-1'), undefined);
      }),
    );

    test(
      'stores the KMS key made for a key, one per key and one key per ARN',
      withStorage(async (s) => {
        const c = awsConnection();
        await s.insertAwsConnection(c);
        const arn = 'arn:aws:kms:eu-west-1:111122223333:key/0b5e2c9a-0000-4000-8000-000000000001';
        const link = { keyId: 'k1', connectionId: c.id, region: 'eu-west-1', kmsKeyArn: arn, alias: 'alias/payments', createdAt: T0 };
        await s.insertKeyAwsLink(link);
        assert.deepEqual(await s.getKeyAwsLink('k1'), link);
        await assert.rejects(s.insertKeyAwsLink({ ...link }), (e) => isKeyholdError(e, 'Conflict'));
        await assert.rejects(s.insertKeyAwsLink({ ...link, keyId: 'k2' }), (e) => isKeyholdError(e, 'Conflict'));
        assert.deepEqual(await s.listKeyAwsLinks(), [link]);
        await s.deleteKeyAwsLink('k1');
        assert.deepEqual(await s.listKeyAwsLinks(), []);
      }),
    );
  });
}
