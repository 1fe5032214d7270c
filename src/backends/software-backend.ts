import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { KeyholdError } from '../base/index.js';
import { AES256_KEY_BYTES, aesKeyUnwrapPad, buildGcmAad, gcmDecrypt, gcmEncrypt, type SealContext } from '../crypto/index.js';
import type { KeyVersion } from '../domain/model.js';
import type { BackendHealth, KeyBackend, MetaRepo, Seal } from '../domain/ports.js';

export const HEALTH_KEY_META = 'health.software_key';

export function versionSealContext(keyId: string, version: number): SealContext {
  return { table: 'key_versions', id: `${keyId}/${version}`, column: 'material' };
}

const HEALTH_CTX: SealContext = { table: 'meta', id: HEALTH_KEY_META, column: 'value' };

/**
 * Software-protected keys: 32 random bytes per version, sealed at rest, unsealed on demand
 * into a bounded cache of KeyObjects (so raw key bytes do not linger in JS buffers).
 */
export function createSoftwareBackend(deps: { seal: Seal; meta: MetaRepo; cacheSize?: number }): KeyBackend & { ensureHealthKey(): Promise<void> } {
  const cacheSize = deps.cacheSize ?? 100_000;
  const cache = new Map<string, KeyObject>();
  const pending = new Map<string, Promise<KeyObject>>();

  async function material(v: KeyVersion): Promise<KeyObject> {
    const id = `${v.keyId}/${v.version}`;
    const hit = cache.get(id);
    if (hit) return hit;
    let p = pending.get(id);
    if (!p) {
      p = (async () => {
        if (!v.sealedMaterial) throw new KeyholdError('Internal', `key version ${id} has no software material`);
        const raw = await deps.seal.unseal(v.sealedMaterial, versionSealContext(v.keyId, v.version));
        const k = createSecretKey(raw);
        raw.fill(0);
        if (cache.size >= cacheSize) {
          const oldest = cache.keys().next().value;
          if (oldest !== undefined) cache.delete(oldest);
        }
        cache.set(id, k);
        return k;
      })().finally(() => pending.delete(id));
      pending.set(id, p);
    }
    return p;
  }

  async function healthKey(): Promise<Buffer> {
    const stored = await deps.meta.getMeta(HEALTH_KEY_META);
    if (!stored) throw new KeyholdError('Internal', 'the software health-check key is missing');
    return deps.seal.unseal(Buffer.from(stored, 'base64'), HEALTH_CTX);
  }

  return {
    protection: 'software',

    async createVersion(key, version) {
      const raw = randomBytes(AES256_KEY_BYTES);
      try {
        const sealedMaterial = await deps.seal.seal(raw, versionSealContext(key.id, version));
        return { sealedMaterial, hsmLabel: null, hsmId: null };
      } finally {
        raw.fill(0);
      }
    },

    async importVersion(key, version, given) {
      if (given.length !== AES256_KEY_BYTES) throw new KeyholdError('ValidationFailed', `key material must be ${AES256_KEY_BYTES} bytes, not ${given.length}`);
      return { sealedMaterial: await deps.seal.seal(given, versionSealContext(key.id, version)), hsmLabel: null, hsmId: null };
    },

    async exportVersion(v) {
      if (!v.sealedMaterial) throw new KeyholdError('Internal', `key version ${v.keyId}/${v.version} has no software material`);
      return deps.seal.unseal(v.sealedMaterial, versionSealContext(v.keyId, v.version));
    },

    async unwrapKey(v, wrapped) {
      const kek = (await material(v)).export();
      try {
        return aesKeyUnwrapPad(kek, wrapped);
      } finally {
        kek.fill(0);
      }
    },

    async encrypt(v, plaintext, gcmAad) {
      return gcmEncrypt(await material(v), plaintext, gcmAad);
    },

    async decrypt(v, iv, ciphertext, tag, gcmAad) {
      return gcmDecrypt(await material(v), iv, ciphertext, tag, gcmAad);
    },

    /** A dedicated key, never linked to a KMS key, so health traffic never looks like key use. */
    async ensureHealthKey() {
      if (await deps.meta.getMeta(HEALTH_KEY_META)) return;
      const raw = randomBytes(AES256_KEY_BYTES);
      await deps.meta.setMeta(HEALTH_KEY_META, (await deps.seal.seal(raw, HEALTH_CTX)).toString('base64'));
      raw.fill(0);
    },

    async selfTest(): Promise<BackendHealth> {
      const model = `Keyhold software keys (AES-256-GCM, OpenSSL ${process.versions.openssl})`;
      try {
        const key = await healthKey();
        const probe = randomBytes(32);
        const aad = buildGcmAad(Buffer.from('keyhold-health'), undefined);
        const out = gcmEncrypt(key, probe, aad);
        const back = gcmDecrypt(key, out.iv, out.ciphertext, out.tag, aad);
        key.fill(0);
        const ok = back !== undefined && back.equals(probe);
        return { id: 'software', model, status: ok ? 'ACTIVE' : 'UNAVAILABLE', ...(ok ? {} : { detail: 'test encryption did not round-trip' }) };
      } catch (e) {
        return { id: 'software', model, status: 'UNAVAILABLE', detail: e instanceof Error ? e.message : 'self-test failed' };
      }
    },

    evict(keyId) {
      if (keyId === undefined) return cache.clear();
      for (const id of cache.keys()) if (id.startsWith(keyId + '/')) cache.delete(id);
    },

    async close() {
      cache.clear();
    },
  };
}
