/**
 * The HSM seal: the root wrapping key is an AES-256 key in the token (sensitive, not
 * extractable). Every sealed value (software key material, SigV4 secrets, AWS credentials)
 * is AES-256-GCM encrypted by the token under it, in the sealed-value layout with format
 * 0x02 and the value's storage place as AAD. A copy of the database without the token
 * opens nothing.
 */
import { KeyholdError } from '../base/index.js';
import { decodeSealedValue, encodeSealedValue, sealAad, SEALED_FORMAT_HSM, type SealContext } from '../crypto/index.js';
import type { Seal } from '../domain/ports.js';
import { createTokenKeys, isAes256, type SessionPool, type TokenKeyRef } from '../hsm/index.js';

export const DEFAULT_SEAL_KEY_LABEL = 'keyhold-seal';

export type HsmSeal = Seal & { readonly key: TokenKeyRef };

function unsealFailed(ctx: SealContext): KeyholdError {
  return new KeyholdError('SealError', `sealed value ${ctx.table}/${ctx.id}/${ctx.column} does not open with the HSM seal (wrong token or key, or the stored value was altered or moved)`);
}

function wrap(ref: TokenKeyRef, pool: SessionPool): HsmSeal {
  const keys = createTokenKeys(pool);
  return {
    kind: 'hsm',
    key: ref,
    async seal(plaintext, ctx) {
      const out = await keys.encrypt(ref, plaintext, sealAad(ctx));
      if (out.iv.length !== 12) throw new KeyholdError('SealError', `the token returned a ${out.iv.length}-byte IV; the sealed-value layout needs 12 bytes`);
      return encodeSealedValue({ format: SEALED_FORMAT_HSM, nonce: out.iv, ciphertext: out.ciphertext, tag: out.tag });
    },
    async unseal(sealed, ctx) {
      const parts = decodeSealedValue(sealed);
      if (!parts || parts.format !== SEALED_FORMAT_HSM) throw unsealFailed(ctx);
      const plain = await keys.decrypt(ref, parts.nonce, parts.ciphertext, parts.tag, sealAad(ctx));
      if (!plain) throw unsealFailed(ctx);
      return plain;
    },
    async close() {
      keys.forget();
    },
  };
}

/**
 * For `keyhold init --seal hsm`: uses the token key with this label if it exists (for
 * example one the HSM team created under dual control), or generates it.
 */
export async function createHsmSeal(pool: SessionPool, label = DEFAULT_SEAL_KEY_LABEL, opts: { managementTimeoutMs?: number } = {}): Promise<HsmSeal & { created: boolean }> {
  const keys = createTokenKeys(pool);
  const deadline = () => ({ deadline: Date.now() + (opts.managementTimeoutMs ?? 10_000) });
  let ref = await keys.find(label, deadline());
  let created = false;
  if (ref) {
    const a = await keys.attributes(ref, deadline());
    if (!isAes256(a) || !a.encrypt || !a.decrypt) throw new KeyholdError('SealError', `token key '${label}' is not an AES-256 key allowed to encrypt and decrypt`);
    if (!a.sensitive || a.extractable) throw new KeyholdError('SealError', `token key '${label}' can leave the token (not sensitive, or extractable); the seal key must not`);
  } else {
    ref = await keys.generate(label, deadline());
    created = true;
  }
  return Object.assign(wrap(ref, pool), { created });
}

/** Opens the seal recorded at init: the token key with this label (and CKA_ID). */
export function openHsmSeal(pool: SessionPool, ref: TokenKeyRef): HsmSeal {
  return wrap(ref, pool);
}
