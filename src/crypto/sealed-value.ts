/**
 * Layout of a value sealed at rest (key material, SigV4 secrets, AWS secrets, PINs).
 * Storage is untrusted: the AAD binds the value to its place (table, row id, column), so a
 * sealed value copied into another row or column fails to open.
 *
 *   +-----------+-------------+-----------------+-------------+
 *   | format u8 | nonce (12)  | ciphertext (n)  | tag (16)    |
 *   +-----------+-------------+-----------------+-------------+
 *
 *   AAD = "keyhold/sealed/v1" 0x00 table 0x00 id 0x00 column
 *
 * format 0x01: AES-256-GCM under a software root key.
 * format 0x02: AES-256-GCM under a key held in an HSM (same layout; the tag is the HSM's).
 */
export const SEALED_FORMAT_SOFTWARE = 0x01;
export const SEALED_FORMAT_HSM = 0x02;

export interface SealContext {
  table: string;
  id: string;
  column: string;
}

export interface SealedParts {
  format: number;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

export function sealAad(ctx: SealContext): Buffer {
  for (const part of [ctx.table, ctx.id, ctx.column]) {
    if (part.includes('\0')) throw new RangeError('seal context parts must not contain NUL');
  }
  return Buffer.from(`keyhold/sealed/v1\0${ctx.table}\0${ctx.id}\0${ctx.column}`, 'utf8');
}

export function encodeSealedValue(p: SealedParts): Buffer {
  if (p.nonce.length !== 12 || p.tag.length !== 16) throw new RangeError('nonce must be 12 bytes and tag 16');
  return Buffer.concat([Buffer.of(p.format), p.nonce, p.ciphertext, p.tag]);
}

export function decodeSealedValue(bytes: Uint8Array): SealedParts | undefined {
  if (bytes.length < 1 + 12 + 16) return undefined;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    format: b[0]!,
    nonce: b.subarray(1, 13),
    ciphertext: b.subarray(13, b.length - 16),
    tag: b.subarray(b.length - 16),
  };
}
