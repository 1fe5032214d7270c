/**
 * Key wrapping for bringing material in and out:
 * - AES key wrap with padding (RFC 5649, `id-aes256-wrap-pad`), what `keyhold key import
 *   --wrapped-with` reads: `openssl enc -id-aes256-wrap-pad -K <KEK hex> -iv A65959A6`.
 * - The wrapping AWS KMS's ImportKeyMaterial expects (kms-semantics §2.10):
 *
 *   RSAES_OAEP_SHA_256 / _SHA_1:
 *     RSA-OAEP(wrapping public key, hash, MGF1 same hash, empty label)(material)
 *
 *   RSA_AES_KEY_WRAP_SHA_256 / _SHA_1:
 *     +------------------------------------------+------------------------------------+
 *     | RSA-OAEP(ephemeral AES-256 key)          | AES-KWP(ephemeral key, material)   |
 *     | (modulus size: 256 / 384 / 512 bytes)    | (RFC 5649, 8-byte aligned)         |
 *     +------------------------------------------+------------------------------------+
 */
import { constants, createCipheriv, createDecipheriv, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';

const KWP_IV = Buffer.from('A65959A6', 'hex');

export type KmsWrappingAlgorithm = 'RSAES_OAEP_SHA_256' | 'RSAES_OAEP_SHA_1' | 'RSA_AES_KEY_WRAP_SHA_256' | 'RSA_AES_KEY_WRAP_SHA_1';

/** RFC 5649 wrap under a 32-byte key-encryption key. */
export function aesKeyWrapPad(kek: Uint8Array, material: Uint8Array): Buffer {
  const c = createCipheriv('id-aes256-wrap-pad', kek, KWP_IV);
  return Buffer.concat([c.update(material), c.final()]);
}

/** RFC 5649 unwrap; undefined when the integrity check fails (wrong KEK or damaged input). */
export function aesKeyUnwrapPad(kek: Uint8Array, wrapped: Uint8Array): Buffer | undefined {
  try {
    const d = createDecipheriv('id-aes256-wrap-pad', kek, KWP_IV);
    return Buffer.concat([d.update(wrapped), d.final()]);
  } catch {
    return undefined;
  }
}

/** Wraps material for ImportKeyMaterial with the public key (DER SubjectPublicKeyInfo) from GetParametersForImport. */
export function wrapForKmsImport(publicKeyDer: Uint8Array, algorithm: KmsWrappingAlgorithm, material: Uint8Array): Buffer {
  const key = createPublicKey({ key: Buffer.from(publicKeyDer), format: 'der', type: 'spki' });
  const oaepHash = algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256';
  if (algorithm.startsWith('RSAES_OAEP')) return publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, material);
  const ephemeral = randomBytes(32);
  try {
    const head = publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, ephemeral);
    return Buffer.concat([head, aesKeyWrapPad(ephemeral, material)]);
  } finally {
    ephemeral.fill(0);
  }
}
