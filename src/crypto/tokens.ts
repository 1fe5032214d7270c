import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Bearer secrets of the admin plane (session tokens, API keys, one-time passwords).
 * Tokens carry 256 random bits, so storage keeps only their SHA-256: a stolen database
 * yields nothing that authenticates, and no salt or slow hash is needed for that entropy.
 */
export function generateToken(prefix: string, bytes = 32): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}

/** Hex SHA-256 of a token, the only form in which storage sees it. */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

const PASSWORD_ALPHABET = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** A one-time password a person can type: 20 characters (about 117 bits), no look-alikes. */
export function generateOneTimePassword(length = 20): string {
  const out: string[] = [];
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      // Rejection sampling keeps every character equally likely.
      if (b < 256 - (256 % PASSWORD_ALPHABET.length) && out.length < length) out.push(PASSWORD_ALPHABET[b % PASSWORD_ALPHABET.length]!);
    }
  }
  return out.join('');
}
