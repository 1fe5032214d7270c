import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openPostgresStorage } from '../src/storage/postgres.js';
import type { Storage } from '../src/domain/index.js';
import { startPostgres, type ThrowawayPostgres } from './support/postgres.js';
import { storageConformance, type StorageFactory } from './storage-conformance.js';
import { adminStorageConformance } from './storage-admin-conformance.js';
import { awsStorageConformance } from './storage-aws-conformance.js';

let pg: ThrowawayPostgres;
let dbSeq = 0;

before(async () => {
  pg = await startPostgres();
});

after(async () => {
  await pg?.stop();
});

/** The same behaviour suite SQLite runs, on a real PostgreSQL server (a database per test). */
const postgresFactory: StorageFactory = {
  async create() {
    const url = await pg.createDatabase(`conformance_${dbSeq++}`);
    const opened: Storage[] = [];
    const open = async () => {
      const s = await openPostgresStorage({ url, poolSize: 4 });
      opened.push(s);
      return s;
    };
    const storage = await open();
    return {
      storage,
      openAnother: open,
      async dispose() {
        for (const s of opened) await s.close().catch(() => undefined);
      },
    };
  },
};
storageConformance('postgres', postgresFactory);
adminStorageConformance('postgres', postgresFactory);
awsStorageConformance('postgres', postgresFactory);

const now = '2026-11-25T00:00:00.000Z';

test('PostgreSQL storage migrates, stores key stores, keys, versions and sealed bytes', async () => {
  const s = await openPostgresStorage({ url: await pg.createDatabase('basic') });
  try {
    await s.insertKeyStore({ id: 'ks1', name: 'a', prefix: '/a', regions: ['eu-west-1'], enabled: true, policy: null, createdAt: now, updatedAt: now }, {
      info: { id: 'c1', keyStoreId: 'ks1', accessKeyId: 'AAAAAAAAAAAAAAAAAAAAAA', createdAt: now, revokedAt: null },
      sealedSecret: Buffer.from([0, 1, 2, 255]),
    });
    const live = await s.listLiveCredentials();
    assert.deepEqual(live.map((c) => [c.accessKeyId, [...c.sealedSecret]]), [['AAAAAAAAAAAAAAAAAAAAAA', [0, 1, 2, 255]]]);
    await s.insertKey(
      {
        id: 'k1',
        keyStoreId: 'ks1',
        externalId: 'key-1',
        protection: 'software',
        usage: ['encrypt'],
        enabled: true,
        currentVersion: 1,
        aadLayout: 'keyhold-v1',
        description: '',
        tags: {},
        rotationPeriodDays: null,
        nextRotationAt: null,
        expiresAt: null,
        deletionDate: null,
        createdAt: now,
        updatedAt: now,
      },
      { keyId: 'k1', version: 1, protection: 'software', sealedMaterial: Buffer.alloc(61, 7), hsmLabel: null, hsmId: null, createdAt: now },
    );
    await s.addVersion({ keyId: 'k1', version: 2, protection: 'software', sealedMaterial: Buffer.alloc(61, 8), hsmLabel: null, hsmId: null, createdAt: now }, now);
    assert.equal((await s.getKeyByExternalId('key-1'))?.currentVersion, 2);
    assert.deepEqual((await s.listVersions('k1')).map((v) => v.sealedMaterial?.[0]), [7, 8]);
    assert.equal(await s.countKeys('ks1'), 1);
    await assert.rejects(s.insertKeyStore({ id: 'ks2', name: 'b', prefix: '/a', regions: [], enabled: true, policy: null, createdAt: now, updatedAt: now }, null), { code: 'Conflict' });
    await assert.rejects(s.addVersion({ keyId: 'k1', version: 2, protection: 'software', sealedMaterial: Buffer.alloc(1), hsmLabel: null, hsmId: null, createdAt: now }, now), { code: 'Conflict' });
  } finally {
    await s.close();
  }
});

test('a change committed by one node reaches another node through LISTEN/NOTIFY', async () => {
  const url = await pg.createDatabase('feed');
  const a: Storage = await openPostgresStorage({ url });
  const b: Storage = await openPostgresStorage({ url });
  try {
    const seen = new Promise<void>((resolve) => b.changes.subscribe(resolve));
    await new Promise((r) => setTimeout(r, 200)); // let b's LISTEN connection come up
    await a.setMeta('x', '1');
    await seen;
    assert.equal(await b.getMeta('x'), '1');
  } finally {
    await a.close();
    await b.close();
  }
});
