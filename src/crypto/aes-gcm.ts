import { createCipheriv, createDecipheriv, randomFillSync, type KeyObject } from 'node:crypto';

export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;
export const AES256_KEY_BYTES = 32;

export interface GcmOutput {
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

/**
 * Fresh random IVs, drawn from the CSPRNG 4 KiB at a time: one randomBytes(12) per call
 * costs about as much as the encryption itself (the DRBG takes a lock per call). Each slice
 * is handed out once; a spent pool is dropped, never refilled in place, so an IV a caller
 * holds never changes.
 */
const IV_POOL_BYTES = 4096 - (4096 % GCM_IV_BYTES);
let ivPool = Buffer.alloc(0);
let ivOffset = 0;

export function randomIv(): Buffer {
  if (ivOffset + GCM_IV_BYTES > ivPool.length) {
    ivPool = randomFillSync(Buffer.allocUnsafeSlow(IV_POOL_BYTES));
    ivOffset = 0;
  }
  const iv = ivPool.subarray(ivOffset, ivOffset + GCM_IV_BYTES);
  ivOffset += GCM_IV_BYTES;
  return iv;
}

/** AES-256-GCM with a fresh random 96-bit IV (or the given one, for test vectors only). */
export function gcmEncrypt(key: KeyObject | Buffer, plaintext: Uint8Array, aad: Uint8Array, iv: Buffer = randomIv()): GcmOutput {
  const c = createCipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES });
  c.setAAD(aad);
  const first = c.update(plaintext);
  const last = c.final();
  const ciphertext = last.length === 0 ? first : Buffer.concat([first, last]);
  return { iv, ciphertext, tag: c.getAuthTag() };
}

/**
 * Returns the plaintext, or undefined when the tag does not verify (wrong key, IV, AAD,
 * ciphertext or tag). Accepts 12- and 16-byte IVs, as the XKS spec allows.
 */
export function gcmDecrypt(key: KeyObject | Buffer, iv: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array, aad: Uint8Array): Buffer | undefined {
  if (tag.length !== GCM_TAG_BYTES) return undefined;
  const d = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES });
  d.setAAD(aad);
  d.setAuthTag(tag);
  const first = d.update(ciphertext);
  try {
    const last = d.final();
    return last.length === 0 ? first : Buffer.concat([first, last]);
  } catch {
    first.fill(0);
    return undefined;
  }
}
