/**
 * The GCM additional authenticated data Keyhold feeds to AES-GCM, built from the AAD that
 * KMS sent and the ciphertextMetadata the proxy emits. This is the construction the XKS
 * spec recommends (§6): length prefixes stop bytes being shifted between the two parts.
 *
 *   +----------------+--------------+-------------+--------------+
 *   | u16be len(AAD) | AAD (0..N B) | u8 len(MD)  | MD (0..20 B) |
 *   +----------------+--------------+-------------+--------------+
 *
 * An absent AAD or MD has length 0.
 */
export function buildGcmAad(aad: Uint8Array | undefined, metadata: Uint8Array | undefined): Buffer {
  const a = aad?.length ?? 0;
  const m = metadata?.length ?? 0;
  if (a > 0xffff) throw new RangeError('AAD longer than 65535 bytes cannot be length-prefixed');
  if (m > 0xff) throw new RangeError('metadata longer than 255 bytes cannot be length-prefixed');
  const out = Buffer.allocUnsafe(2 + a + 1 + m);
  out.writeUInt16BE(a, 0);
  if (aad && a) out.set(aad, 2);
  out.writeUInt8(m, 2 + a);
  if (metadata && m) out.set(metadata, 3 + a);
  return out;
}
