import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';

/**
 * Admin password hashes: scrypt (RFC 7914) with a random 16-byte salt, stored with its
 * parameters so the cost can be raised later without breaking old hashes:
 *
 *   $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt, base64>$<32-byte hash, base64>
 *
 * The default cost follows OWASP (N=2^17, r=8, p=1: 128 MiB, a few hundred ms).
 */
export interface PasswordHashParams {
  /** log2 of scrypt's N. */
  ln: number;
  r: number;
  p: number;
}

export const DEFAULT_PASSWORD_HASH: PasswordHashParams = { ln: 17, r: 8, p: 1 };
/** Lowest cost accepted from configuration. */
export const MIN_PASSWORD_HASH_LN = 14;

const HASH_BYTES = 32;
const FORMAT_RE = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/=]{16,64})\$([A-Za-z0-9+/=]{40,64})$/;

function scrypt(password: string, salt: Buffer, params: PasswordHashParams): Promise<Buffer> {
  const N = 2 ** params.ln;
  // Node refuses memory above maxmem; allow exactly what these parameters need, plus slack.
  const maxmem = 128 * N * params.r * params.p + 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    scryptCb(password.normalize('NFKC'), salt, HASH_BYTES, { N, r: params.r, p: params.p, maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string, params: PasswordHashParams = DEFAULT_PASSWORD_HASH): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, params);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Parameters of a stored hash, or undefined when it is not one of ours. */
export function passwordHashParams(stored: string): PasswordHashParams | undefined {
  const m = FORMAT_RE.exec(stored);
  return m ? { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) } : undefined;
}

/** Constant-time comparison of the derived hash; false for malformed stored values. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = FORMAT_RE.exec(stored);
  if (!m) return false;
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (params.ln < 10 || params.ln > 22 || params.r < 1 || params.p < 1) return false;
  const expected = Buffer.from(m[5]!, 'base64');
  const actual = await scrypt(password, Buffer.from(m[4]!, 'base64'), params);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
