import { createHash } from 'node:crypto';

/**
 * The GCM additional authenticated data that AWS's sample XKS proxy
 * (aws-samples/aws-kms-xks-proxy) fed to its HSM. Keyhold accepts it on decrypt for keys
 * adopted from that proxy, so ciphertexts it produced stay readable after a migration.
 *
 *   +----------------+--------------------------------+------------+--------------+
 *   | u16be len(AAD) | SHA-256(AAD) (32 B)            | u8 len(MD) | MD (0..20 B) |
 *   |                | only when the AAD field was    |            |              |
 *   |                | present in the request         |            |              |
 *   +----------------+--------------------------------+------------+--------------+
 *
 * Differences from Keyhold's own layout (gcm-aad.ts): the AAD is replaced by its digest
 * (to keep the HSM input small), and the digest is present whenever the request carried an
 * `additionalAuthenticatedData` field, even an empty one. So "absent" and "present but
 * empty" give different bytes: 00 00 00 versus 00 00 ‖ SHA-256("") ‖ 00. The length prefix
 * is the length of the raw AAD, not of the digest. MD is whatever ciphertextMetadata the
 * request carries (the sample proxy emitted a fixed value from its settings, or none).
 */
export function buildSampleProxyAad(aad: Uint8Array | undefined, metadata: Uint8Array | undefined): Buffer {
  const a = aad?.length ?? 0;
  const m = metadata?.length ?? 0;
  if (a > 0xffff) throw new RangeError('AAD longer than 65535 bytes cannot be length-prefixed');
  if (m > 0xff) throw new RangeError('metadata longer than 255 bytes cannot be length-prefixed');
  const digest = aad ? createHash('sha256').update(aad).digest() : undefined;
  const out = Buffer.allocUnsafe(2 + (digest?.length ?? 0) + 1 + m);
  out.writeUInt16BE(a, 0);
  let at = 2;
  if (digest) {
    out.set(digest, at);
    at += digest.length;
  }
  out.writeUInt8(m, at);
  if (metadata && m) out.set(metadata, at + 1);
  return out;
}
