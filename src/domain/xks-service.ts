import { fail, KeyholdError, systemClock, type Clock } from '../base/index.js';
import { buildGcmAad, buildSampleProxyAad, computeCdiv, decodeCiphertextMetadata, encodeCiphertextMetadata, METADATA_FORMAT_V1 } from '../crypto/index.js';
import { isExpired, type KeyStore, type KeyUsage, type RequestContext } from './model.js';
import type { KeyBackend } from './ports.js';
import type { Directory, ResolvedKey } from './directory.js';
import type { HealthReport, HealthService } from './health-service.js';
import { backendFor, type Backends } from './key-service.js';
import { evaluatePolicy, type PolicyDecision } from './policy.js';
import type { QuotaGate } from './quota-gate.js';

export interface EncryptRequest {
  plaintext: Buffer;
  aad: Buffer | undefined;
  wantCdiv: boolean;
}

export interface EncryptResult {
  ciphertext: Buffer;
  iv: Buffer;
  tag: Buffer;
  metadata: Buffer;
  cdiv: Buffer | undefined;
  keyVersion: number;
}

export interface DecryptRequest {
  ciphertext: Buffer;
  iv: Buffer;
  tag: Buffer;
  aad: Buffer | undefined;
  metadata: Buffer | undefined;
}

export interface KeyMetadataResult {
  /** 'AES_256'; an HSM key whose token attributes say otherwise reports what it is (KMS then refuses it). */
  keySpec: string;
  keyUsage: ('ENCRYPT' | 'DECRYPT')[];
  keyStatus: 'ENABLED' | 'DISABLED';
}

/** What the surface may log about a call (never plaintext or secrets). */
export interface CallFacts {
  keyVersion?: number;
  policy?: PolicyDecision;
}

export type XksService = ReturnType<typeof createXksService>;

/**
 * The four XKS operations on an already authenticated key store. Order per design.md:
 * key lookup → key store and key state → usage → secondary authorization → quota → crypto.
 * Health is neither authorized nor throttled: KMS would read a refused health check as an
 * outage.
 */
export function createXksService(deps: {
  directory: Directory;
  backends: Backends;
  health: HealthService;
  clock?: Clock;
  quota?: Pick<QuotaGate, 'admit'> | undefined;
  /** In a cluster, the custody lease (domain/cluster.ts): without it no key is used. */
  custody?: { assertCustody(): void } | undefined;
}) {
  const { directory, backends } = deps;
  const clock = deps.clock ?? systemClock;
  const quota = deps.quota;

  async function resolve(ks: KeyStore, externalId: string): Promise<ResolvedKey> {
    const r = await directory.key(externalId);
    // A key in another store is indistinguishable from a missing one.
    if (!r || r.key.keyStoreId !== ks.id) fail('KeyNotFound', `key '${externalId}' does not exist in this key store`);
    if (!ks.enabled) fail('KeyStoreDisabled', `key store '${ks.name}' is disabled`);
    return r;
  }

  /**
   * A key pending deletion answers InvalidStateException, as KMS does for PendingDeletion
   * (the deletion can still be cancelled); once destroyed its row is gone and it answers
   * KeyNotFoundException. An expired key refuses encrypt but still decrypts.
   */
  function requireUsable(r: ResolvedKey, usage: KeyUsage): void {
    if (r.key.deletionDate !== null) fail('InvalidState', `key '${r.key.externalId}' is pending deletion`);
    if (!r.key.enabled) fail('KeyDisabled', `key '${r.key.externalId}' is disabled`);
    if (usage === 'encrypt' && isExpired(r.key, clock.now())) fail('InvalidState', `key '${r.key.externalId}' expired at ${r.key.expiresAt}; it only decrypts`);
    if (!r.key.usage.includes(usage)) fail('InvalidKeyUsage', `key '${r.key.externalId}' does not allow ${usage}`);
  }

  function authorize(ks: KeyStore, ctx: RequestContext, externalId: string, facts: CallFacts): void {
    const d = evaluatePolicy(ks.policy, ctx, externalId);
    facts.policy = d;
    if (!d.allowed) fail('AccessDenied', `denied by key store policy (${d.decidedBy})`);
  }

  /**
   * The custody lease, then the key store's rate quota (Throttled), after the policy: only
   * calls it would serve spend a token. A node that lost its database refuses here, before
   * any key is used, as its cache may hold a key disabled elsewhere.
   */
  function admit(ks: KeyStore): void {
    deps.custody?.assertCustody();
    quota?.admit(ks);
  }

  function version(r: ResolvedKey, v: number) {
    return r.versions.get(v);
  }

  return {
    async getKeyMetadata(ks: KeyStore, externalId: string, ctx: RequestContext, facts: CallFacts = {}): Promise<KeyMetadataResult> {
      const r = await resolve(ks, externalId);
      authorize(ks, ctx, externalId, facts);
      admit(ks);
      let keySpec = 'AES_256';
      let usage = r.key.usage;
      // HSM keys: the token's own attributes (key type and size, CKA_ENCRYPT/CKA_DECRYPT)
      // have the last word over what Keyhold recorded.
      const current = version(r, r.key.currentVersion);
      const backend = current ? backends[current.protection] : undefined;
      if (current && backend?.describe) {
        const info = await backend.describe(current);
        keySpec = info.keySpec;
        usage = usage.filter((u) => info.usage.includes(u));
      }
      return {
        keySpec,
        keyUsage: usage.map((u) => (u === 'encrypt' ? 'ENCRYPT' : 'DECRYPT')),
        keyStatus: r.key.enabled && r.key.deletionDate === null ? 'ENABLED' : 'DISABLED',
      };
    },

    async encrypt(ks: KeyStore, externalId: string, ctx: RequestContext, req: EncryptRequest, facts: CallFacts = {}): Promise<EncryptResult> {
      const r = await resolve(ks, externalId);
      requireUsable(r, 'encrypt');
      // The CDIV promise is backed by a real decrypt, which this key must allow.
      if (req.wantCdiv && !r.key.usage.includes('decrypt')) {
        fail('InvalidKeyUsage', `key '${externalId}' does not allow decrypt, which the ciphertext integrity check needs`);
      }
      authorize(ks, ctx, externalId, facts);
      admit(ks);
      const v = version(r, r.key.currentVersion) ?? fail('Internal', `key '${externalId}' has no version ${r.key.currentVersion}`);
      facts.keyVersion = v.version;
      const backend: KeyBackend = backendFor(backends, v.protection);
      const metadata = encodeCiphertextMetadata({ format: METADATA_FORMAT_V1, keyVersion: v.version });
      const gcmAad = buildGcmAad(req.aad, metadata);
      const out = await backend.encrypt(v, req.plaintext, gcmAad);
      let cdiv: Buffer | undefined;
      if (req.wantCdiv) {
        // Order matters (spec §6): compute the CDIV from the output first, then prove it decrypts.
        cdiv = computeCdiv({ aad: req.aad, metadata, iv: out.iv, ciphertext: out.ciphertext, tag: out.tag });
        const back = await backend.decrypt(v, out.iv, out.ciphertext, out.tag, gcmAad);
        const ok = back !== undefined && back.equals(req.plaintext);
        back?.fill(0);
        if (!ok) throw new KeyholdError('Internal', 'the verifying decrypt of a fresh ciphertext failed');
      }
      return { ...out, metadata, cdiv, keyVersion: v.version };
    },

    async decrypt(ks: KeyStore, externalId: string, ctx: RequestContext, req: DecryptRequest, facts: CallFacts = {}): Promise<Buffer> {
      const r = await resolve(ks, externalId);
      requireUsable(r, 'decrypt');
      authorize(ks, ctx, externalId, facts);
      admit(ks);
      const md = decodeCiphertextMetadata(req.metadata);
      const v = md ? version(r, md.keyVersion) : undefined;
      if (v) {
        facts.keyVersion = v.version;
        const plaintext = await backendFor(backends, v.protection).decrypt(v, req.iv, req.ciphertext, req.tag, buildGcmAad(req.aad, req.metadata));
        if (plaintext) return plaintext;
      }
      // Keys adopted from the AWS sample proxy: ciphertexts it produced carry its own metadata
      // (or none) and used its AAD layout, under the adopted token key (version 1).
      if (r.key.aadLayout === 'sample-proxy') {
        const adopted = version(r, 1);
        if (adopted) {
          const plaintext = await backendFor(backends, adopted.protection).decrypt(adopted, req.iv, req.ciphertext, req.tag, buildSampleProxyAad(req.aad, req.metadata));
          if (plaintext) {
            facts.keyVersion = adopted.version;
            return plaintext;
          }
        }
      }
      if (!md) fail('InvalidCiphertext', 'ciphertextMetadata is missing or was not written by this key');
      if (!v) fail('InvalidCiphertext', 'ciphertextMetadata names a key version this key does not have');
      fail('InvalidCiphertext', 'the ciphertext, IV, tag, AAD or metadata does not match');
    },

    health(): Promise<HealthReport> {
      return deps.health.report();
    },
  };
}
