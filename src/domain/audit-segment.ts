import { createHash } from 'node:crypto';
import { verifyAuditDocument } from '../crypto/index.js';

/**
 * An archived audit segment (written by `keyhold audit archive` or the retention task) is
 * self-verifying: its signed trailer carries the signer's Ed25519 public key, the SHA-256 of
 * every line before it and where each chain's records start and end. Checking it needs no
 * data directory: the signature (by the pinned key, else the embedded one), the hash, and
 * that every record links to the one before it. With the log's MAC key (a data directory)
 * each record's MAC is checked too.
 */
export interface SegmentReport {
  ok: boolean;
  count: number;
  chains: { chain: string; from: number; to: number; count: number }[];
  before?: string;
  /** The key that signed the segment (hex Ed25519). */
  publicKey?: string;
  /** Whether that key was pinned (given, or the log's own) rather than read from the file. */
  pinned?: boolean;
  detail?: string;
}

export function createSegmentHash(): { update(s: string): void; digest(): string } {
  const h = createHash('sha256');
  return { update: (s) => void h.update(s, 'utf8'), digest: () => h.digest('hex') };
}

export const AUDIT_PUBLIC_KEY_RE = /^[0-9a-f]{64}$/;

/** Largest segment line read (a record is a few KiB at most). */
const MAX_LINE = 1024 * 1024;

export function verifyAuditSegment(text: string, opts: { publicKeyHex?: string | undefined; recordMac?: ((seq: number, prev: Buffer, body: string) => Buffer) | undefined } = {}): SegmentReport {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const bad = (detail: string): SegmentReport => ({ ok: false, count: 0, chains: [], detail });
  if (lines.length < 2) return bad('the file is not an audit segment (too short)');
  if (lines.some((l) => l.length > MAX_LINE)) return bad('the file is not an audit segment (a line is too long)');
  let trailer: Record<string, unknown>;
  try {
    trailer = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
  } catch {
    return bad('the last line is not JSON (the file was cut short)');
  }
  if (trailer.type !== 'keyhold-audit-segment-end') return bad('the file has no signed trailer (it was cut short or is not an audit segment)');
  const embedded = typeof trailer.publicKey === 'string' && AUDIT_PUBLIC_KEY_RE.test(trailer.publicKey) ? trailer.publicKey : undefined;
  const publicKey = opts.publicKeyHex ?? embedded;
  if (publicKey === undefined) return bad('the trailer names no valid public key');
  if (!verifyAuditDocument(trailer, publicKey)) {
    return bad(opts.publicKeyHex !== undefined ? `the trailer's signature does not verify with the pinned key ${publicKey}` : "the trailer's signature does not verify");
  }
  const hash = createSegmentHash();
  for (const l of lines.slice(0, -1)) hash.update(l + '\n');
  if (hash.digest() !== trailer.sha256) return bad('the records do not match the signed hash (the file was edited)');
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(lines[0]!) as Record<string, unknown>;
  } catch {
    return bad('the first line is not JSON');
  }
  if (header.type !== 'keyhold-audit-segment' || header.before !== trailer.before) return bad('the header does not match the trailer');
  if (!Array.isArray(trailer.chains)) return bad('the trailer lists no chains');
  const chains = trailer.chains as { chain: string; from: number; to: number; prev: string; last: string; count: number }[];
  const state = new Map(chains.map((c) => [c.chain, { ...c, seq: c.from - 1, mac: c.prev, n: 0 }]));
  for (const l of lines.slice(1, -1)) {
    let r: { chain: string; seq: number; prev: string; mac: string; body: string };
    try {
      r = JSON.parse(l) as typeof r;
    } catch {
      return bad('a record line is not JSON');
    }
    const st = state.get(r.chain);
    if (!st || r.seq !== st.seq + 1 || r.prev !== st.mac) return bad(`record ${r.seq} of chain '${r.chain}' is out of place`);
    if (opts.recordMac && opts.recordMac(r.seq, Buffer.from(r.prev, 'hex'), r.body).toString('hex') !== r.mac) return bad(`record ${r.seq} of chain '${r.chain}' fails its MAC`);
    st.seq = r.seq;
    st.mac = r.mac;
    st.n++;
  }
  let count = 0;
  for (const st of state.values()) {
    if (st.seq !== st.to || st.mac !== st.last || st.n !== st.count) return bad(`chain '${st.chain}' does not end where the trailer says`);
    count += st.n;
  }
  return { ok: true, count, chains: chains.map(({ chain, from, to, count: n }) => ({ chain, from, to, count: n })), before: String(trailer.before), publicKey, pinned: opts.publicKeyHex !== undefined };
}
