import { createHash } from 'node:crypto';

/**
 * Ciphertext Data Integrity Value (XKS spec §6), SHA_256 variant:
 *
 *   SHA-256( AAD_raw || ciphertextMetadata || IV || ciphertext || tag )
 *
 * over decoded bytes, absent fields empty, no length prefixes. The AAD is the request's
 * raw AAD, not the GCM AAD construction.
 */
export function computeCdiv(parts: {
  aad?: Uint8Array | undefined;
  metadata?: Uint8Array | undefined;
  iv: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
}): Buffer {
  const h = createHash('sha256');
  if (parts.aad) h.update(parts.aad);
  if (parts.metadata) h.update(parts.metadata);
  h.update(parts.iv);
  h.update(parts.ciphertext);
  h.update(parts.tag);
  return h.digest();
}
