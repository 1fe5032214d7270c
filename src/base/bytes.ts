/** Small byte helpers shared by every layer. */

/** 6-bit value of each standard Base64 character (RFC 4648 §4) by char code; 255 for others. */
const BASE64_VALUE = new Uint8Array(128).fill(255);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((c, i) => (BASE64_VALUE[c.charCodeAt(0)] = i));
const EQ = 0x3d;

/**
 * True when text is canonical standard Base64 with padding: the same language as
 *   /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$/
 * checked with a table instead of a regular expression (it runs on every XKS field). The
 * last character before padding carries unused bits, which canonical Base64 leaves zero
 * (RFC 4648 §3.5): 4 unused bits before "==", 2 before "=".
 */
export function isBase64(text: string): boolean {
  const n = text.length;
  if (n % 4 !== 0) return false;
  if (n === 0) return true;
  let end = n;
  let unusedMask = 0;
  if (text.charCodeAt(n - 1) === EQ) {
    if (text.charCodeAt(n - 2) === EQ) {
      end = n - 2;
      unusedMask = 0x0f;
    } else {
      end = n - 1;
      unusedMask = 0x03;
    }
  }
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c > 127 || BASE64_VALUE[c] === 255) return false;
  }
  return (BASE64_VALUE[text.charCodeAt(end - 1)]! & unusedMask) === 0;
}

/**
 * Strict standard Base64 with padding (RFC 4648 §4). Node's decoder silently skips bad
 * characters and accepts URL-safe input; the XKS spec requires rejecting both.
 * Returns undefined for anything that is not canonical Base64.
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (!isBase64(text)) return undefined;
  return Buffer.from(text, 'base64');
}

/** Largest decoded size a Base64 string of this length can have. */
export function base64DecodedMax(length: number): number {
  return Math.floor(length / 4) * 3;
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Overwrite a buffer that held a secret once it is no longer needed. */
export function wipe(buf: Uint8Array | undefined): void {
  if (buf) buf.fill(0);
}

/**
 * A copy of `bytes` in memory of its own, exactly as large. For bytes that are kept (cached
 * key material, sealed values): `Buffer.from(bytes)` and `Buffer.copyBytesFrom` put small
 * copies in Node's shared 8 KiB pool, and one kept slice keeps its whole slab alive, with
 * whatever short-lived data the rest of the slab held.
 */
export function ownedCopy(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(bytes.byteLength);
  out.set(bytes);
  return out;
}
