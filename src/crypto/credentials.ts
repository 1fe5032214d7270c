import { randomBytes } from 'node:crypto';

/** KMS-enforced formats for an XKS proxy credential (xks-spec §8.2). */
export const ACCESS_KEY_ID_RE = /^[A-Z2-7]{20,30}$/;
export const SECRET_ACCESS_KEY_RE = /^[a-zA-Z0-9/+=]{43,64}$/;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 without padding. */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** 26 chars of base32 from 128 random bits; independent of the secret. */
export function generateAccessKeyId(): string {
  return base32(randomBytes(16));
}

/** Base64 of 32 random bytes: 44 chars, 256 bits of entropy. */
export function generateSecretAccessKey(): string {
  return randomBytes(32).toString('base64');
}
