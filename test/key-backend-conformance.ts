/**
 * One behaviour suite for every KeyBackend (style.md, example 10). Each implementation's
 * test file calls `keyBackendConformance` with a fixture that builds a fresh backend; the
 * same assertions run on software keys and on SoftHSM2 keys.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { buildGcmAad, encodeCiphertextMetadata, METADATA_FORMAT_V1 } from '../src/crypto/index.js';
import { isKeyholdError } from '../src/base/index.js';
import type { KeyBackend, KeyVersion, Protection } from '../src/domain/index.js';

export interface BackendFixture {
  backend: KeyBackend;
  /** Ready for selfTest (health key in place). */
  close(): Promise<void>;
}

export function keyBackendConformance(name: string, protection: Protection, setup: () => Promise<BackendFixture>): void {
  describe(`key backend conformance: ${name}`, () => {
    let fx: BackendFixture;
    let b: KeyBackend;

    async function newVersion(version = 1, keyId: string = randomUUID()): Promise<KeyVersion> {
      const material = await b.createVersion({ id: keyId, externalId: `conf-${keyId.slice(0, 8)}` }, version);
      return { keyId, version, protection, createdAt: new Date().toISOString(), ...material };
    }

    const aadFor = (version: number, raw: Buffer | undefined = Buffer.from('encryption-context')) =>
      buildGcmAad(raw, encodeCiphertextMetadata({ format: METADATA_FORMAT_V1, keyVersion: version }));

    before(async () => {
      fx = await setup();
      b = fx.backend;
    });
    after(async () => {
      await fx.close();
    });

    test('reports its protection', () => {
      assert.equal(b.protection, protection);
    });

    test('stores only what its protection needs', async () => {
      const v = await newVersion();
      if (protection === 'software') {
        assert.ok(v.sealedMaterial && v.sealedMaterial.length > 32, 'software keys keep sealed material');
        assert.equal(v.hsmLabel, null);
      } else {
        assert.equal(v.sealedMaterial, null, 'HSM keys keep no material outside the token');
        assert.ok(v.hsmLabel, 'HSM keys keep the token label');
        assert.match(v.hsmId ?? '', /^[0-9a-f]{32}$/);
      }
    });

    test('round-trips plaintexts from 1 to 4300 bytes (XKS refuses empty ones at the edge)', async () => {
      const v = await newVersion();
      for (const size of [1, 15, 16, 17, 32, 1024, 4300]) {
        const pt = randomBytes(size);
        const aad = aadFor(1);
        const out = await b.encrypt(v, pt, aad);
        assert.equal(out.ciphertext.length, size, 'GCM ciphertext is as long as the plaintext');
        assert.equal(out.iv.length, 12);
        assert.equal(out.tag.length, 16);
        const back = await b.decrypt(v, out.iv, out.ciphertext, out.tag, aad);
        assert.ok(back, `size ${size} decrypts`);
        assert.deepEqual(back, pt);
      }
    });

    test('uses a fresh IV for every encryption', async () => {
      const v = await newVersion();
      const pt = Buffer.from('same plaintext');
      const ivs = new Set<string>();
      for (let i = 0; i < 20; i++) ivs.add((await b.encrypt(v, pt, aadFor(1))).iv.toString('hex'));
      assert.equal(ivs.size, 20);
    });

    test('rejects a decrypt whose tag was altered', async () => {
      const v = await newVersion();
      const out = await b.encrypt(v, Buffer.from('secret'), aadFor(1));
      const tag = Buffer.from(out.tag);
      tag[15]! ^= 0x01;
      assert.equal(await b.decrypt(v, out.iv, out.ciphertext, tag, aadFor(1)), undefined);
    });

    test('rejects a decrypt whose ciphertext, IV or AAD was altered', async () => {
      const v = await newVersion();
      const out = await b.encrypt(v, Buffer.from('secret data'), aadFor(1));
      const ct = Buffer.from(out.ciphertext);
      ct[0]! ^= 0x80;
      assert.equal(await b.decrypt(v, out.iv, ct, out.tag, aadFor(1)), undefined, 'ciphertext');
      const iv = Buffer.from(out.iv);
      iv[0]! ^= 0x01;
      assert.equal(await b.decrypt(v, iv, out.ciphertext, out.tag, aadFor(1)), undefined, 'IV');
      assert.equal(await b.decrypt(v, out.iv, out.ciphertext, out.tag, aadFor(1, Buffer.from('other-context'))), undefined, 'AAD');
      assert.equal(await b.decrypt(v, out.iv, out.ciphertext, out.tag, aadFor(2)), undefined, 'metadata in the AAD');
      assert.equal(await b.decrypt(v, out.iv, out.ciphertext.subarray(1), out.tag, aadFor(1)), undefined, 'truncated ciphertext');
    });

    test('keeps working after a refused decrypt', async () => {
      const v = await newVersion();
      const out = await b.encrypt(v, Buffer.from('x'), aadFor(1));
      for (let i = 0; i < 5; i++) assert.equal(await b.decrypt(v, out.iv, out.ciphertext, Buffer.alloc(16), aadFor(1)), undefined);
      assert.deepEqual(await b.decrypt(v, out.iv, out.ciphertext, out.tag, aadFor(1)), Buffer.from('x'));
    });

    test('each version has its own key: one version cannot open another version', async () => {
      const keyId = randomUUID();
      const v1 = await newVersion(1, keyId);
      const v2 = await newVersion(2, keyId);
      const out = await b.encrypt(v1, Buffer.from('rotated'), aadFor(1));
      assert.equal(await b.decrypt(v2, out.iv, out.ciphertext, out.tag, aadFor(1)), undefined);
      assert.deepEqual(await b.decrypt(v1, out.iv, out.ciphertext, out.tag, aadFor(1)), Buffer.from('rotated'));
    });

    test('serves concurrent requests on several keys', async () => {
      const versions = await Promise.all([newVersion(), newVersion(), newVersion()]);
      const jobs = Array.from({ length: 48 }, async (_, i) => {
        const v = versions[i % versions.length]!;
        const pt = randomBytes(32);
        const out = await b.encrypt(v, pt, aadFor(1));
        assert.deepEqual(await b.decrypt(v, out.iv, out.ciphertext, out.tag, aadFor(1)), pt);
      });
      await Promise.all(jobs);
    });

    test('refuses a version whose material it does not hold, with a Keyhold error', async () => {
      const v = await newVersion();
      const broken: KeyVersion = { ...v, sealedMaterial: null, hsmLabel: protection === 'hsm' ? `missing-${randomUUID()}` : null, hsmId: null };
      await assert.rejects(b.encrypt(broken, Buffer.from('x'), aadFor(1)), (e) => isKeyholdError(e));
    });

    test('passes its self-test on the dedicated health key', async () => {
      const h = await b.selfTest();
      assert.equal(h.status, 'ACTIVE', h.detail);
      assert.ok(h.id.length > 0 && h.model.length > 0);
    });
  });
}
