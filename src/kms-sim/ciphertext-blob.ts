/**
 * The simulator's ciphertext blobs. KMS's real layout is unpublished (kms-semantics §1.1);
 * this one follows the design sketch in §1.8. Every blob starts with a header that names
 * the KMS key and the KMS-side key material, and that header is authenticated together with
 * the encryption context, so a blob only ever decrypts under its own key and context.
 *
 * Header (both formats):
 *   +--------+---------+------------------+------------------------+
 *   | format | u8 idLen| key id (ASCII)   | key material id (32 B) |
 *   +--------+---------+------------------+------------------------+
 *
 * Native keys (AWS_KMS, EXTERNAL), format 0x01:
 *   header | nonce (12) | tag (16) | AES-256-GCM ciphertext
 *   AAD = header || canonical(EC)
 *
 * External key store keys, format 0x02 (KMS's double encryption):
 *   header | u8 ivLen | proxy IV | proxy tag (16) | u8 mdLen | ciphertextMetadata | proxy ciphertext
 *   inner      = nonce (12) | AES-256-GCM(HBK, plaintext, AAD) | tag (16)
 *   proxy ct   = what the XKS proxy returned for Encrypt(inner, proxyAad)
 *   proxyAad   = header || canonical(EC), or SHA-256 of it when longer than 8192 bytes
 *
 * canonical(EC) = u32be count, then for each pair sorted by key (UTF-8 byte order):
 *   u32be len | key | u32be len | value
 */
import { createHash } from 'node:crypto';

export const FORMAT_NATIVE = 0x01;
export const FORMAT_XKS = 0x02;
export const MATERIAL_ID_BYTES = 32;
const NONCE = 12;
const TAG = 16;
const MAX_PROXY_AAD = 8192;

export interface BlobHeader {
  format: number;
  keyId: string;
  materialId: Buffer;
  /** The header bytes exactly as they appear in the blob. */
  bytes: Buffer;
}

export interface NativeBlob {
  header: BlobHeader;
  nonce: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

export interface XksBlob {
  header: BlobHeader;
  proxyIv: Buffer;
  proxyTag: Buffer;
  metadata: Buffer | undefined;
  proxyCiphertext: Buffer;
}

export function encodeHeader(format: number, keyId: string, materialId: Buffer): Buffer {
  const id = Buffer.from(keyId, 'ascii');
  if (id.length > 255 || materialId.length !== MATERIAL_ID_BYTES) throw new RangeError('bad blob header fields');
  return Buffer.concat([Buffer.from([format, id.length]), id, materialId]);
}

function decodeHeader(blob: Buffer): BlobHeader | undefined {
  if (blob.length < 2) return undefined;
  const format = blob[0]!;
  const idLen = blob[1]!;
  const end = 2 + idLen + MATERIAL_ID_BYTES;
  if (idLen === 0 || blob.length < end) return undefined;
  const keyId = blob.subarray(2, 2 + idLen).toString('ascii');
  if (!/^[A-Za-z0-9-]+$/.test(keyId)) return undefined;
  return { format, keyId, materialId: blob.subarray(2 + idLen, end), bytes: blob.subarray(0, end) };
}

export function encodeNativeBlob(header: Buffer, nonce: Buffer, tag: Buffer, ciphertext: Buffer): Buffer {
  return Buffer.concat([header, nonce, tag, ciphertext]);
}

export function encodeXksBlob(header: Buffer, p: { iv: Buffer; tag: Buffer; metadata: Buffer | undefined; ciphertext: Buffer }): Buffer {
  const md = p.metadata ?? Buffer.alloc(0);
  return Buffer.concat([header, Buffer.from([p.iv.length]), p.iv, p.tag, Buffer.from([md.length]), md, p.ciphertext]);
}

/** Parses either format; undefined when the bytes are not a blob this simulator made. */
export function decodeBlob(blob: Buffer): { native: NativeBlob } | { xks: XksBlob } | undefined {
  const header = decodeHeader(blob);
  if (!header) return undefined;
  let at = header.bytes.length;
  if (header.format === FORMAT_NATIVE) {
    if (blob.length < at + NONCE + TAG) return undefined;
    const nonce = blob.subarray(at, at + NONCE);
    const tag = blob.subarray(at + NONCE, at + NONCE + TAG);
    return { native: { header, nonce, tag, ciphertext: blob.subarray(at + NONCE + TAG) } };
  }
  if (header.format === FORMAT_XKS) {
    const ivLen = blob[at];
    if (ivLen !== 12 && ivLen !== 16) return undefined;
    at += 1;
    if (blob.length < at + ivLen + TAG + 1) return undefined;
    const proxyIv = blob.subarray(at, at + ivLen);
    at += ivLen;
    const proxyTag = blob.subarray(at, at + TAG);
    at += TAG;
    const mdLen = blob[at]!;
    at += 1;
    if (mdLen > 20 || blob.length < at + mdLen + NONCE + TAG) return undefined;
    const metadata = mdLen === 0 ? undefined : blob.subarray(at, at + mdLen);
    at += mdLen;
    return { xks: { header, proxyIv, proxyTag, metadata, proxyCiphertext: blob.subarray(at) } };
  }
  return undefined;
}

export function canonicalEncryptionContext(ec: Record<string, string> | undefined): Buffer {
  const entries = Object.entries(ec ?? {}).map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const);
  entries.sort((a, b) => Buffer.compare(a[0], b[0]));
  const parts: Buffer[] = [u32(entries.length)];
  for (const [k, v] of entries) parts.push(u32(k.length), k, u32(v.length), v);
  return Buffer.concat(parts);
}

/** AAD of the KMS-side (native or inner) encryption. */
export function innerAad(header: Buffer, ec: Record<string, string> | undefined): Buffer {
  return Buffer.concat([header, canonicalEncryptionContext(ec)]);
}

/** The opaque AAD sent to the proxy; never longer than the 8192 bytes proxies must accept. */
export function proxyAad(header: Buffer, ec: Record<string, string> | undefined): Buffer {
  const full = innerAad(header, ec);
  return full.length <= MAX_PROXY_AAD ? full : createHash('sha256').update(full).digest();
}

/** inner = nonce | ciphertext | tag */
export function packInner(nonce: Buffer, ciphertext: Buffer, tag: Buffer): Buffer {
  return Buffer.concat([nonce, ciphertext, tag]);
}

export function unpackInner(inner: Buffer): { nonce: Buffer; ciphertext: Buffer; tag: Buffer } | undefined {
  if (inner.length < NONCE + TAG) return undefined;
  return { nonce: inner.subarray(0, NONCE), ciphertext: inner.subarray(NONCE, inner.length - TAG), tag: inner.subarray(inner.length - TAG) };
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
