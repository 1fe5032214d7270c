/**
 * ciphertextMetadata that Keyhold emits on Encrypt and reads back on Decrypt. KMS stores it
 * in its ciphertext blob and returns it unchanged; the spec caps it at 20 bytes.
 *
 *   +-----------+---------------------+
 *   | format u8 | key version u32be   |     5 bytes in format 1
 *   +-----------+---------------------+
 *
 * format 0x01: Keyhold v1, GCM AAD = buildGcmAad(AAD, MD) (the spec's recommended layout).
 * The format byte lets a later construction coexist with old ciphertexts.
 */
export const METADATA_FORMAT_V1 = 0x01;
export const MAX_CIPHERTEXT_METADATA = 20;

export interface CiphertextMetadata {
  format: number;
  keyVersion: number;
}

export function encodeCiphertextMetadata(md: CiphertextMetadata): Buffer {
  if (md.format !== METADATA_FORMAT_V1) throw new RangeError(`unknown metadata format ${md.format}`);
  if (!Number.isInteger(md.keyVersion) || md.keyVersion < 1 || md.keyVersion > 0xffffffff) {
    throw new RangeError('key version out of range');
  }
  const out = Buffer.allocUnsafe(5);
  out.writeUInt8(md.format, 0);
  out.writeUInt32BE(md.keyVersion, 1);
  return out;
}

/** Returns undefined for metadata that Keyhold did not write (wrong length or format). */
export function decodeCiphertextMetadata(bytes: Uint8Array | undefined): CiphertextMetadata | undefined {
  if (!bytes || bytes.length !== 5 || bytes[0] !== METADATA_FORMAT_V1) return undefined;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const keyVersion = b.readUInt32BE(1);
  if (keyVersion < 1) return undefined;
  return { format: METADATA_FORMAT_V1, keyVersion };
}
