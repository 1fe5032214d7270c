import { randomBytes, scrypt as scryptCb, createCipheriv, createDecipheriv } from 'node:crypto';
import { chmod, readFile, writeFile, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { KeyholdError } from '../base/index.js';
import { decodeSealedValue, encodeSealedValue, sealAad, SEALED_FORMAT_SOFTWARE, type SealContext } from '../crypto/index.js';
import type { Seal } from '../domain/ports.js';

const scrypt = promisify(scryptCb) as (pw: string | Buffer, salt: Buffer, len: number, opts: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

/** scrypt parameters for passphrase seals (OWASP: N=2^17, r=8, p=1). Stored beside the salt. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 17, r: 8, p: 1 };

/**
 * A seal whose root key is a 256-bit AES key held in memory: read from a key file, or
 * derived from an operator passphrase. Values are AES-256-GCM sealed with their storage
 * place as AAD (see crypto/sealed-value.ts).
 */
export function createSoftwareSeal(rootKey: Buffer, kind: 'keyfile' | 'passphrase'): Seal {
  if (rootKey.length !== 32) throw new KeyholdError('SealError', 'the seal root key must be 32 bytes');
  const key = Buffer.from(rootKey);
  return {
    kind,
    async seal(plaintext, ctx) {
      const nonce = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, nonce);
      c.setAAD(sealAad(ctx));
      const ciphertext = Buffer.concat([c.update(plaintext), c.final()]);
      return encodeSealedValue({ format: SEALED_FORMAT_SOFTWARE, nonce, ciphertext, tag: c.getAuthTag() });
    },
    async unseal(sealed, ctx) {
      const parts = decodeSealedValue(sealed);
      if (!parts || parts.format !== SEALED_FORMAT_SOFTWARE) throw unsealFailed(ctx);
      const d = createDecipheriv('aes-256-gcm', key, parts.nonce);
      d.setAAD(sealAad(ctx));
      d.setAuthTag(parts.tag);
      const first = d.update(parts.ciphertext);
      try {
        return Buffer.concat([first, d.final()]);
      } catch {
        first.fill(0);
        throw unsealFailed(ctx);
      }
    },
    async close() {
      key.fill(0);
    },
  };
}

function unsealFailed(ctx: SealContext): KeyholdError {
  return new KeyholdError('SealError', `sealed value ${ctx.table}/${ctx.id}/${ctx.column} does not open with this seal (wrong seal, or the stored value was altered or moved)`);
}

/** Creates a new key file with 32 random bytes (base64), readable by the owner only. */
export async function createKeyFile(path: string): Promise<void> {
  const exists = await stat(path).then(() => true, () => false);
  if (exists) throw new KeyholdError('Conflict', `seal key file ${path} already exists; refusing to overwrite it`);
  await writeFile(path, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  await chmod(path, 0o600);
}

export async function readKeyFile(path: string): Promise<Buffer> {
  let text: string;
  try {
    const st = await stat(path);
    if ((st.mode & 0o077) !== 0) {
      throw new KeyholdError('SealError', `seal key file ${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 on it`);
    }
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (e instanceof KeyholdError) throw e;
    throw new KeyholdError('SealError', `cannot read seal key file ${path}`, { cause: e });
  }
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32) throw new KeyholdError('SealError', `seal key file ${path} does not hold 32 base64-encoded bytes`);
  return key;
}

export async function deriveRootKey(passphrase: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  if (passphrase.length < 12) throw new KeyholdError('SealError', 'the seal passphrase must be at least 12 characters');
  return scrypt(passphrase.normalize('NFKC'), salt, 32, { ...params, maxmem: 256 * params.N * params.r + 16 * 1024 * 1024 });
}
