import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { isKeyholdError } from '../src/base/index.js';
import type { CredentialInfo, Key, KeyStore, KeyVersion, NewCredential, SecondaryPolicy, Storage } from '../src/domain/index.js';

/**
 * The behaviour every Storage implementation must have, written against the port only, so
 * the SQLite implementation runs it today and a PostgreSQL one runs the same suite later:
 *
 *   storageConformance('postgres', { create: async () => ({ storage, openAnother, dispose }) });
 */
export interface StorageUnderTest {
  /** A fresh, migrated, empty database. */
  storage: Storage;
  /** A second, independent connection to the same database (as another process would have). */
  openAnother(): Promise<Storage>;
  /** Closes whatever is still open and removes the database. */
  dispose(): Promise<void>;
}

export interface StorageFactory {
  create(): Promise<StorageUnderTest>;
}

let seq = 0;
const at = () => new Date(Date.UTC(2026, 0, 1, 0, 0, seq++)).toISOString();

export function keyStore(over: Partial<KeyStore> = {}): KeyStore {
  const name = over.name ?? `ks-${seq++}`;
  const t = at();
  return { id: randomUUID(), name, prefix: `/${name}`, regions: [], enabled: true, policy: null, createdAt: t, updatedAt: t, ...over };
}

export function credential(keyStoreId: string, over: Partial<CredentialInfo> = {}, sealedSecret = Buffer.from([1, 2, 3, 0, 255])): NewCredential {
  return { info: { id: randomUUID(), keyStoreId, accessKeyId: `AKID${String(seq++).padStart(20, 'A')}`, createdAt: at(), revokedAt: null, ...over }, sealedSecret };
}

export function key(keyStoreId: string, over: Partial<Key> = {}): Key {
  const t = at();
  return {
    id: randomUUID(),
    keyStoreId,
    externalId: `key-${seq++}`,
    protection: 'software',
    exportable: false,
    origin: 'keyhold',
    usage: ['encrypt', 'decrypt'],
    enabled: true,
    currentVersion: 1,
    aadLayout: 'keyhold-v1',
    description: '',
    tags: {},
    rotationPeriodDays: null,
    nextRotationAt: null,
    expiresAt: null,
    deletionDate: null,
    createdAt: t,
    updatedAt: t,
    ...over,
  };
}

export function version(k: Pick<Key, 'id'>, v: number, material: Buffer | null = Buffer.from(`material-${v}`)): KeyVersion {
  return { keyId: k.id, version: v, protection: 'software', sealedMaterial: material, hsmLabel: null, hsmId: null, createdAt: at() };
}

async function rejectsWith(p: Promise<unknown>, code: 'Conflict', what: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => isKeyholdError(e, code), what);
}

export function storageConformance(name: string, factory: StorageFactory): void {
  /** Runs fn against a fresh database and always disposes it. */
  const withStorage = (fn: (s: Storage, u: StorageUnderTest) => Promise<void>) => async () => {
    const u = await factory.create();
    try {
      await fn(u.storage, u);
    } finally {
      await u.dispose();
    }
  };

  describe(`storage conformance: ${name}`, () => {
    test('a fresh database answers empty lists and undefined lookups, and pings', withStorage(async (s) => {
      await s.ping();
      assert.deepEqual(await s.listKeyStores(), []);
      assert.deepEqual(await s.listKeys(), []);
      assert.deepEqual(await s.listLiveCredentials(), []);
      assert.equal(await s.getKeyStore('nope'), undefined);
      assert.equal(await s.getKeyStoreByPrefix(''), undefined);
      assert.equal(await s.getKey(randomUUID()), undefined);
      assert.equal(await s.getKeyByExternalId('nope'), undefined);
      assert.equal(await s.getMeta('nope'), undefined);
      assert.equal(await s.countKeys(randomUUID()), 0);
      assert.deepEqual(await s.listVersions(randomUUID()), []);
    }));

    test('key stores round-trip every field and are found by id, name and prefix', withStorage(async (s) => {
      const policy: SecondaryPolicy = { default: 'deny', rules: [{ id: 'r', effect: 'allow', principals: ['arn:*'], operations: ['Encrypt'] }] };
      const a = keyStore({ name: 'alpha', prefix: '', regions: ['eu-west-1', 'us-east-1'], enabled: false, policy });
      const b = keyStore({ name: 'beta', prefix: '/b/c_d-e' });
      await s.insertKeyStore(b, null);
      await s.insertKeyStore(a, credential(a.id));
      assert.deepEqual(await s.getKeyStore(a.id), a);
      assert.deepEqual(await s.getKeyStore('alpha'), a);
      assert.deepEqual(await s.getKeyStoreByPrefix(''), a);
      assert.deepEqual(await s.getKeyStoreByPrefix('/b/c_d-e'), b);
      assert.equal(await s.getKeyStoreByPrefix('/b'), undefined, 'prefixes match exactly');
      assert.deepEqual(await s.listKeyStores(), [a, b], 'ordered by name');
    }));

    test('key store names and prefixes are unique; a refused insert writes nothing', withStorage(async (s) => {
      const a = keyStore({ name: 'same', prefix: '/one' });
      await s.insertKeyStore(a, credential(a.id));
      const sameName = keyStore({ name: 'same', prefix: '/two' });
      await rejectsWith(s.insertKeyStore(sameName, credential(sameName.id)), 'Conflict', 'same name');
      const samePrefix = keyStore({ name: 'other', prefix: '/one' });
      await rejectsWith(s.insertKeyStore(samePrefix, credential(samePrefix.id)), 'Conflict', 'same prefix');
      assert.deepEqual((await s.listKeyStores()).map((k) => k.id), [a.id]);
      assert.deepEqual((await s.listLiveCredentials()).map((c) => c.keyStoreId), [a.id], "the refused stores' credentials were not written");
    }));

    test('updating a key store changes only the given fields', withStorage(async (s) => {
      const a = keyStore({ regions: ['eu-west-1'], policy: { default: 'allow', rules: [] } });
      await s.insertKeyStore(a, null);
      await s.updateKeyStore(a.id, { enabled: false });
      assert.deepEqual(await s.getKeyStore(a.id), { ...a, enabled: false });
      await s.updateKeyStore(a.id, { policy: null, updatedAt: '2030-01-01T00:00:00.000Z' });
      assert.deepEqual(await s.getKeyStore(a.id), { ...a, enabled: false, policy: null, updatedAt: '2030-01-01T00:00:00.000Z' });
      await s.updateKeyStore(a.id, { regions: [], enabled: true });
      assert.deepEqual(await s.getKeyStore(a.id), { ...a, regions: [], policy: null, updatedAt: '2030-01-01T00:00:00.000Z' });
    }));

    test('credentials: listed without secrets, live ones with their sealed secret byte for byte, revocation is final', withStorage(async (s) => {
      const a = keyStore();
      const b = keyStore();
      const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const c1 = credential(a.id, {}, allBytes);
      await s.insertKeyStore(a, c1);
      await s.insertKeyStore(b, null);
      const c2 = credential(a.id);
      const c3 = credential(b.id);
      await s.insertCredential(c2);
      await s.insertCredential(c3);
      assert.deepEqual(await s.listCredentials(a.id), [c1.info, c2.info], 'ordered by creation, no secret');
      for (const c of await s.listCredentials(a.id)) assert.ok(!('sealedSecret' in c));
      const live = await s.listLiveCredentials();
      assert.equal(live.length, 3);
      const l1 = live.find((c) => c.id === c1.info.id)!;
      assert.ok(Buffer.isBuffer(l1.sealedSecret));
      assert.ok(l1.sealedSecret.equals(allBytes));
      assert.deepEqual({ ...l1, sealedSecret: undefined }, { ...c1.info, sealedSecret: undefined });

      await s.revokeCredential(c1.info.id, '2031-01-01T00:00:00.000Z');
      await s.revokeCredential(c1.info.id, '2032-01-01T00:00:00.000Z');
      assert.deepEqual((await s.listCredentials(a.id)).map((c) => c.revokedAt), ['2031-01-01T00:00:00.000Z', null], 'a second revocation does not move the date');
      assert.deepEqual((await s.listLiveCredentials()).map((c) => c.id).sort(), [c2.info.id, c3.info.id].sort());

      await rejectsWith(s.insertCredential(credential(b.id, { accessKeyId: c2.info.accessKeyId })), 'Conflict', 'access key ids are unique across stores');
      await rejectsWith(s.insertCredential(credential(b.id, { accessKeyId: c1.info.accessKeyId })), 'Conflict', 'even a revoked id is never reused');
    }));

    test("deleting a key store deletes its credentials, and only its own", withStorage(async (s) => {
      const a = keyStore();
      const b = keyStore();
      await s.insertKeyStore(a, credential(a.id));
      await s.insertKeyStore(b, credential(b.id));
      await s.insertCredential(credential(a.id));
      await s.deleteKeyStore(a.id);
      assert.equal(await s.getKeyStore(a.id), undefined);
      assert.deepEqual(await s.listCredentials(a.id), []);
      assert.deepEqual((await s.listLiveCredentials()).map((c) => c.keyStoreId), [b.id]);
      // The name and prefix are free again.
      await s.insertKeyStore(keyStore({ name: a.name, prefix: a.prefix }), null);
    }));

    test('keys round-trip every field, including an empty usage, and are listed per store in id order', withStorage(async (s) => {
      const a = keyStore();
      const b = keyStore();
      await s.insertKeyStore(a, null);
      await s.insertKeyStore(b, null);
      const k1 = key(a.id, { externalId: 'zeta', usage: [] });
      const k2 = key(a.id, { externalId: 'alpha.1_x-y', usage: ['decrypt'], enabled: false, aadLayout: 'sample-proxy' });
      const k3 = key(b.id, { externalId: 'mid', usage: ['encrypt'] });
      for (const k of [k1, k2, k3]) await s.insertKey(k, version(k, 1));
      assert.deepEqual(await s.getKey(k1.id), k1);
      assert.deepEqual(await s.getKeyByExternalId('alpha.1_x-y'), k2);
      assert.deepEqual(await s.listKeys(a.id), [k2, k1]);
      assert.deepEqual(await s.listKeys(), [k2, k3, k1]);
      assert.equal(await s.countKeys(a.id), 2);
      assert.equal(await s.countKeys(b.id), 1);
    }));

    test('external key ids are unique across the endpoint; a refused insert leaves no version behind', withStorage(async (s) => {
      const a = keyStore();
      const b = keyStore();
      await s.insertKeyStore(a, null);
      await s.insertKeyStore(b, null);
      const k = key(a.id, { externalId: 'shared' });
      await s.insertKey(k, version(k, 1));
      const dup = key(b.id, { externalId: 'shared' });
      await rejectsWith(s.insertKey(dup, version(dup, 1)), 'Conflict', 'same external id in another store');
      assert.deepEqual(await s.listVersions(dup.id), []);
      assert.equal(await s.countKeys(b.id), 0);
    }));

    test('updating a key changes only the given fields', withStorage(async (s) => {
      const a = keyStore();
      await s.insertKeyStore(a, null);
      const k = key(a.id);
      await s.insertKey(k, version(k, 1));
      await s.updateKey(k.id, { usage: [] });
      assert.deepEqual(await s.getKey(k.id), { ...k, usage: [] });
      await s.updateKey(k.id, { enabled: false, usage: ['decrypt'], updatedAt: '2030-01-01T00:00:00.000Z' });
      assert.deepEqual(await s.getKey(k.id), { ...k, enabled: false, usage: ['decrypt'], updatedAt: '2030-01-01T00:00:00.000Z' });
    }));

    test('versions: addVersion makes the new one current atomically; a stale or duplicate version is refused and changes nothing', withStorage(async (s) => {
      const a = keyStore();
      await s.insertKeyStore(a, null);
      const k = key(a.id);
      const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i));
      await s.insertKey(k, version(k, 1, allBytes));
      await s.addVersion(version(k, 2), '2030-01-01T00:00:00.000Z');
      const hsm: KeyVersion = { ...version(k, 3, null), protection: 'hsm', hsmLabel: 'keyhold/k/3', hsmId: '0a0b' };
      await s.addVersion(hsm, '2030-01-02T00:00:00.000Z');
      const got = await s.getKey(k.id);
      assert.equal(got?.currentVersion, 3);
      assert.equal(got?.updatedAt, '2030-01-02T00:00:00.000Z');
      const versions = await s.listVersions(k.id);
      assert.deepEqual(versions.map((v) => v.version), [1, 2, 3]);
      assert.ok(versions[0]!.sealedMaterial!.equals(allBytes), 'binary material round-trips byte for byte');
      assert.deepEqual(versions[2], hsm);

      // A writer that read version 2 as current loses against the one that already made 3.
      await rejectsWith(s.addVersion(version(k, 3), 'x'), 'Conflict', 'duplicate version');
      await rejectsWith(s.addVersion(version(k, 5), 'x'), 'Conflict', 'skipping a version');
      assert.equal((await s.getKey(k.id))?.currentVersion, 3);
      assert.deepEqual((await s.listVersions(k.id)).map((v) => v.version), [1, 2, 3], 'the refused version was not stored');
    }));

    test('meta values are set, overwritten and read back', withStorage(async (s) => {
      await s.setMeta('seal.kind', 'keyfile');
      await s.setMeta('other', '');
      assert.equal(await s.getMeta('seal.kind'), 'keyfile');
      await s.setMeta('seal.kind', 'passphrase');
      assert.equal(await s.getMeta('seal.kind'), 'passphrase');
      assert.equal(await s.getMeta('other'), '');
    }));

    test('change feed: own writes notify subscribers at once; unsubscribing stops notifications', withStorage(async (s) => {
      let calls = 0;
      const off = s.changes.subscribe(() => calls++);
      const a = keyStore();
      await s.insertKeyStore(a, null);
      assert.ok(calls >= 1, 'insert notified');
      const before = calls;
      await s.updateKeyStore(a.id, { enabled: false });
      assert.ok(calls > before, 'update notified');
      off();
      const after = calls;
      await s.updateKeyStore(a.id, { enabled: true });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(calls, after);
    }));

    test('change feed: a write through another connection reaches subscribers, and the data is visible', withStorage(async (s, u) => {
      const other = await u.openAnother();
      try {
        let seen = 0;
        const off = s.changes.subscribe(() => seen++);
        const a = keyStore({ name: 'from-elsewhere' });
        await other.insertKeyStore(a, credential(a.id));
        const deadline = Date.now() + 5000;
        while (seen === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        off();
        assert.ok(seen > 0, 'the subscriber heard of the other connection\'s commit');
        assert.deepEqual(await s.getKeyStore('from-elsewhere'), a);
        assert.equal((await s.listLiveCredentials()).length, 1);
      } finally {
        await other.close();
      }
    }));

    test('data survives closing and reopening (migrations run once and keep data)', withStorage(async (s, u) => {
      const a = keyStore();
      await s.insertKeyStore(a, credential(a.id));
      const k = key(a.id);
      await s.insertKey(k, version(k, 1));
      const again = await u.openAnother();
      try {
        assert.deepEqual(await again.getKeyStore(a.id), a);
        assert.deepEqual(await again.getKey(k.id), k);
        assert.equal((await again.listVersions(k.id)).length, 1);
      } finally {
        await again.close();
      }
    }));
  });
}
