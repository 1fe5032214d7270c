/** Small byte helpers shared by every layer. */

/** 1 for the 64 characters of the standard Base64 alphabet (RFC 4648 §4), by char code. */
const BASE64_ALPHABET = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') BASE64_ALPHABET[c.charCodeAt(0)] = 1;
const EQ = 0x3d;

/**
 * True when text is standard Base64 with padding: the same language as
 *   /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
 * checked with a table instead of a regular expression (it runs on every XKS field).
 */
export function isBase64(text: string): boolean {
  const n = text.length;
  if (n % 4 !== 0) return false;
  if (n === 0) return true;
  let end = n;
  if (text.charCodeAt(n - 1) === EQ) end = text.charCodeAt(n - 2) === EQ ? n - 2 : n - 1;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c > 127 || BASE64_ALPHABET[c] !== 1) return false;
  }
  return true;
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
