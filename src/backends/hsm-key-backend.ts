/**
 * HSM-protected keys (protection 'hsm'): each key version is an AES-256 key generated inside
 * the token (sensitive, not extractable, encrypt/decrypt only). Storage keeps only its label
 * and CKA_ID; AES-GCM runs in the token through the session pool.
 */
import { randomBytes } from 'node:crypto';
import { fail, KeyholdError } from '../base/index.js';
import { buildGcmAad } from '../crypto/index.js';
import type { KeyUsage, KeyVersion } from '../domain/model.js';
import type { AdoptedMaterial, BackendHealth, BackendKeyInfo, KeyBackend } from '../domain/ports.js';
import { createTokenKeys, isAes256, type SessionPool, type TokenKeyRef, type TokenKeys } from '../hsm/index.js';

export interface HsmKeyBackendOptions {
  pool: SessionPool;
  /** Prefix of the labels Keyhold gives the keys it generates. */
  labelPrefix?: string | undefined;
  /** Budget for management calls (key generation, adoption), which KMS does not wait on. */
  managementTimeoutMs?: number | undefined;
}

export type HsmKeyBackend = KeyBackend & {
  readonly keys: TokenKeys;
  /** Makes sure the dedicated health-check key exists in the token. */
  ensureHealthKey(): Promise<void>;
};

function refOf(v: KeyVersion): TokenKeyRef {
  if (!v.hsmLabel) throw new KeyholdError('Internal', `key version ${v.keyId}/${v.version} has no HSM label`);
  return { label: v.hsmLabel, idHex: v.hsmId };
}

export function createHsmKeyBackend(opts: HsmKeyBackendOptions): HsmKeyBackend {
  const { pool } = opts;
  const prefix = opts.labelPrefix ?? 'keyhold';
  const healthLabel = `${prefix}-health`;
  const mgmtMs = opts.managementTimeoutMs ?? 10_000;
  const keys = createTokenKeys(pool);
  const mgmt = () => ({ deadline: Date.now() + mgmtMs });

  function model(): string {
    const t = pool.stats().token;
    return t ? `${t.manufacturer} ${t.model} firmware ${t.firmware} (PKCS#11 token '${t.label}')` : `PKCS#11 token '${pool.tokenLabel}'`;
  }

  return {
    protection: 'hsm',
    keys,

    async createVersion(key, version) {
      const ref = await keys.generate(`${prefix}-${key.id}-v${version}`, mgmt());
      return { sealedMaterial: null, hsmLabel: ref.label, hsmId: ref.idHex };
    },

    encrypt(v, plaintext, gcmAad) {
      return keys.encrypt(refOf(v), plaintext, gcmAad);
    },

    decrypt(v, iv, ciphertext, tag, gcmAad) {
      return keys.decrypt(refOf(v), iv, ciphertext, tag, gcmAad);
    },

    async describe(v): Promise<BackendKeyInfo> {
      const a = await keys.attributes(refOf(v));
      const usage: KeyUsage[] = [];
      if (a.encrypt) usage.push('encrypt');
      if (a.decrypt) usage.push('decrypt');
      return { keySpec: isAes256(a) ? 'AES_256' : a.keyType === 0x1f ? `AES_${(a.valueLen ?? 0) * 8}` : 'UNSUPPORTED', usage };
    },

    async adopt(label): Promise<AdoptedMaterial> {
      const ref = (await keys.find(label, mgmt())) ?? fail('KeyNotFound', `no secret key labelled '${label}' in token '${pool.tokenLabel}'`);
      const a = await keys.attributes(ref, mgmt());
      if (!isAes256(a)) fail('ValidationFailed', `key '${label}' in token '${pool.tokenLabel}' is not an AES-256 secret key`);
      if (!a.encrypt || !a.decrypt) fail('ValidationFailed', `key '${label}' in token '${pool.tokenLabel}' does not allow both encrypt and decrypt (CKA_ENCRYPT/CKA_DECRYPT)`);
      const warnings: string[] = [];
      if (!a.sensitive) warnings.push(`key '${label}' is not CKA_SENSITIVE: its value can be read from the token`);
      if (a.extractable) warnings.push(`key '${label}' is CKA_EXTRACTABLE: it can be wrapped out of the token`);
      return { hsmLabel: ref.label, hsmId: ref.idHex, warnings };
    },

    async ensureHealthKey() {
      if (!(await keys.find(healthLabel, mgmt()))) await keys.generate(healthLabel, mgmt());
    },

    /**
     * Test encryption and decryption on the dedicated health key (never a key linked to KMS).
     * A token that is gone is UNAVAILABLE; one that answers but not within the time budget
     * is DEGRADED.
     */
    async selfTest(): Promise<BackendHealth> {
      const id = `hsm:${pool.tokenLabel}`;
      try {
        const ref: TokenKeyRef = { label: healthLabel, idHex: null };
        const deadline = Date.now() + pool.callTimeoutMs;
        const probe = randomBytes(32);
        const aad = buildGcmAad(Buffer.from('keyhold-health'), undefined);
        const out = await keys.encrypt(ref, probe, aad, { deadline });
        const back = await keys.decrypt(ref, out.iv, out.ciphertext, out.tag, aad, { deadline });
        const ok = back !== undefined && back.equals(probe);
        return ok ? { id, model: model(), status: 'ACTIVE' } : { id, model: model(), status: 'UNAVAILABLE', detail: 'test encryption did not round-trip' };
      } catch (e) {
        // Slow but present: DEGRADED. Gone or broken (even if finding that out was slow too):
        // UNAVAILABLE.
        const trouble = pool.stats().deviceTrouble;
        const slow = e instanceof KeyholdError && e.code === 'DependencyTimeout' && trouble === undefined;
        const detail = trouble ?? (e instanceof Error ? e.message : 'self-test failed');
        return { id, model: model(), status: slow ? 'DEGRADED' : 'UNAVAILABLE', detail };
      }
    },

    evict() {
      keys.forget();
    },

    async close() {
      keys.forget();
    },
  };
}

