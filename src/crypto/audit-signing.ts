import { createPrivateKey, createPublicKey, hkdfSync, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from './audit-chain.js';

/**
 * Signatures for what leaves the database: head checkpoints and archived segments. The
 * signing key is Ed25519, derived from the audit key (HKDF-SHA256, info
 * "keyhold/audit-sign/v1"), so nothing more is stored or sealed; its public key is printed
 * in every signed document and by `keyhold audit checkpoint`, and anyone holding a copy of
 * it can check a document without the audit key (the HMAC chain needs the audit key).
 */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface AuditSigningKey {
  privateKey: KeyObject;
  /** Raw 32-byte public key, hex. */
  publicKeyHex: string;
}

export function deriveAuditSigningKey(auditKey: KeyObject): AuditSigningKey {
  const raw = auditKey.export();
  let seed: Buffer | undefined;
  try {
    seed = Buffer.from(hkdfSync('sha256', raw, Buffer.alloc(0), 'keyhold/audit-sign/v1', 32));
    const der = Buffer.concat([PKCS8_ED25519_PREFIX, seed]);
    const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    der.fill(0);
    return { privateKey, publicKeyHex: publicKeyHexOf(createPublicKey(privateKey)) };
  } finally {
    raw.fill(0);
    seed?.fill(0);
  }
}

function publicKeyHexOf(k: KeyObject): string {
  const spki = k.export({ format: 'der', type: 'spki' });
  return spki.subarray(spki.length - 32).toString('hex');
}

function publicKeyFromHex(hex: string): KeyObject {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new RangeError('an Ed25519 public key is 64 hex digits');
  return createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(hex, 'hex')]), format: 'der', type: 'spki' });
}

/** Signs a document: the signature covers the canonical JSON of every member but `signature`. */
export function signAuditDocument<T extends Record<string, unknown>>(k: AuditSigningKey, doc: T): T & { publicKey: string; signature: string } {
  const body = { ...doc, publicKey: k.publicKeyHex };
  const signature = sign(null, Buffer.from(canonicalJson(body), 'utf8'), k.privateKey).toString('base64');
  return { ...body, signature };
}

/** Whether `doc` carries a valid signature by the key with public key `publicKeyHex`. */
export function verifyAuditDocument(doc: Record<string, unknown>, publicKeyHex: string): boolean {
  const { signature, ...body } = doc;
  if (typeof signature !== 'string' || body.publicKey !== publicKeyHex) return false;
  try {
    return verify(null, Buffer.from(canonicalJson(body), 'utf8'), publicKeyFromHex(publicKeyHex), Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
