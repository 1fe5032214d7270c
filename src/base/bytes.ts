/** Small byte helpers shared by every layer. */

// The last character before padding carries unused bits, which canonical Base64 leaves zero
// (RFC 4648 §3.5): 4 unused bits before "==", 2 before "=".
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$/;

/**
 * Strict standard Base64 with padding (RFC 4648 §4). Node's decoder silently skips bad
 * characters and accepts URL-safe input; the XKS spec requires rejecting both.
 * Returns undefined for anything that is not canonical Base64.
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (text.length % 4 !== 0 || !BASE64_RE.test(text)) return undefined;
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
