/**
 * AES keys inside the token, addressed by label (and CKA_ID when known). Used by the HSM key
 * backend and the HSM seal. Object handles are cached per module generation; a stale handle
 * (the module was re-initialised, or the token reloaded its objects) is looked up again once.
 */
import { randomBytes } from 'node:crypto';
import { fail, KeyholdError } from '../base/index.js';
import { GCM_IV_BYTES, type KeyAttributes } from './pkcs11-protocol.js';
import { Pkcs11Error, type Pkcs11Session, type SessionPool } from './session-pool.js';

/** CKO_SECRET_KEY and CKK_AES from pkcs11t.h. */
const CKO_SECRET_KEY = 4;
const CKK_AES = 0x1f;

export interface TokenKeyRef {
  label: string;
  /** CKA_ID as hex; null to match on the label alone. */
  idHex: string | null;
}

export interface GcmResult {
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

export interface TokenKeys {
  readonly pool: SessionPool;
  /** Generates an AES-256 key in the token; refuses a label that is already taken. */
  generate(label: string, opts?: { deadline?: number }): Promise<TokenKeyRef>;
  /** The unique secret key with this label, or undefined. Throws if the label is ambiguous. */
  find(label: string, opts?: { deadline?: number }): Promise<TokenKeyRef | undefined>;
  attributes(ref: TokenKeyRef, opts?: { deadline?: number }): Promise<KeyAttributes>;
  encrypt(ref: TokenKeyRef, plaintext: Uint8Array, aad: Uint8Array, opts?: { deadline?: number }): Promise<GcmResult>;
  /** Plaintext, or undefined when the tag does not verify. */
  decrypt(ref: TokenKeyRef, iv: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array, aad: Uint8Array, opts?: { deadline?: number }): Promise<Buffer | undefined>;
  forget(label?: string): void;
}

export function isAes256(a: KeyAttributes): boolean {
  return a.objectClass === CKO_SECRET_KEY && a.keyType === CKK_AES && a.valueLen === 32;
}

export function createTokenKeys(pool: SessionPool): TokenKeys {
  const handles = new Map<string, { handle: string; generation: number }>();
  const cacheKey = (r: TokenKeyRef) => `${r.label}\0${r.idHex ?? ''}`;
  const where = () => `token '${pool.tokenLabel}'`;

  async function lookup(s: Pkcs11Session, ref: TokenKeyRef): Promise<string> {
    const hit = handles.get(cacheKey(ref));
    if (hit && hit.generation === s.generation) return hit.handle;
    const found = await s.call({ op: 'find', label: ref.label, idHex: ref.idHex ?? undefined });
    if (found.length === 0) {
      // Tell "the object is gone" from "the token is gone": this call fails with a device
      // error (and schedules re-initialisation) when the token itself went away.
      await s.call({ op: 'tokenInfo' });
      fail('KeyNotFound', `HSM key '${ref.label}' is not in ${where()}`);
    }
    if (found.length > 1) fail('Conflict', `several secret keys in ${where()} are labelled '${ref.label}'; give each key a unique label`);
    handles.set(cacheKey(ref), { handle: found[0]!, generation: s.generation });
    return found[0]!;
  }

  /** Runs fn with the key's handle; retries once with a fresh lookup if the handle is stale. */
  function withKey<T>(ref: TokenKeyRef, deadline: number | undefined, fn: (s: Pkcs11Session, handle: string) => Promise<T>): Promise<T> {
    return pool.withSession(
      async (s) => {
        const h = await lookup(s, ref);
        try {
          return await fn(s, h);
        } catch (e) {
          if (!(e instanceof Pkcs11Error) || e.failureClass !== 'object') throw e;
          handles.delete(cacheKey(ref));
          return fn(s, await lookup(s, ref));
        }
      },
      { deadline },
    );
  }

  return {
    pool,

    generate(label, opts = {}) {
      return pool.withSession(
        async (s) => {
          const existing = await s.call({ op: 'find', label });
          if (existing.length > 0) fail('Conflict', `${where()} already holds a key labelled '${label}'`);
          const idHex = randomBytes(16).toString('hex');
          const handle = await s.call({ op: 'generate', label, idHex });
          handles.set(cacheKey({ label, idHex }), { handle, generation: s.generation });
          return { label, idHex };
        },
        { deadline: opts.deadline },
      );
    },

    find(label, opts = {}) {
      return pool.withSession(
        async (s) => {
          const found = await s.call({ op: 'find', label });
          if (found.length === 0) {
            await s.call({ op: 'tokenInfo' }); // an absent token fails here, not as "no such key"
            return undefined;
          }
          if (found.length > 1) fail('Conflict', `several secret keys in ${where()} are labelled '${label}'; give each key a unique label`);
          const a = await s.call({ op: 'attributes', handle: found[0]! });
          return { label, idHex: a.idHex === '' ? null : a.idHex };
        },
        { deadline: opts.deadline },
      );
    },

    attributes(ref, opts = {}) {
      return withKey(ref, opts.deadline, (s, handle) => s.call({ op: 'attributes', handle }));
    },

    encrypt(ref, plaintext, aad, opts = {}) {
      const max = pool.profile.maxDataBytes;
      if (max !== undefined && plaintext.length > max) fail('TooLarge', `plaintext of ${plaintext.length} bytes exceeds this HSM's ${max}-byte limit`);
      const strategy = pool.profile.ivStrategy;
      return withKey(ref, opts.deadline, async (s, handle) => {
        // A fresh IV for every attempt, including the retry after a stale handle.
        const iv = strategy === 'caller' && pool.profile.callerIvSource === 'host' ? randomBytes(GCM_IV_BYTES) : undefined;
        const out = await s.call({ op: 'encrypt', handle, plaintext, aad, ivStrategy: strategy, iv });
        return { iv: Buffer.from(out.iv), ciphertext: Buffer.from(out.ciphertext), tag: Buffer.from(out.tag) };
      });
    },

    async decrypt(ref, iv, ciphertext, tag, aad, opts = {}) {
      // encrypt() never produces an empty ciphertext, so none can be genuine.
      if (ciphertext.length === 0) return undefined;
      try {
        return await withKey(ref, opts.deadline, async (s, handle) => Buffer.from(await s.call({ op: 'decrypt', handle, iv, ciphertext, tag, aad })));
      } catch (e) {
        // The tag did not verify (or the ciphertext was refused as malformed): a data error,
        // the session was kept.
        if (e instanceof Pkcs11Error && e.code === 'InvalidCiphertext') return undefined;
        throw e;
      }
    },

    forget(label) {
      if (label === undefined) return handles.clear();
      for (const k of handles.keys()) if (k.startsWith(label + '\0')) handles.delete(k);
    },
  };
}

/** Wraps a failure that is not already a KeyholdError (keeps messages free of data). */
export function asKeyholdError(e: unknown, what: string): KeyholdError {
  if (e instanceof KeyholdError) return e;
  return new KeyholdError('BackendUnavailable', `${what}: ${e instanceof Error ? e.message : String(e)}`);
}
