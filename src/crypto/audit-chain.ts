import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * The audit log's hash chain. Every record is stored with its sequence number, the MAC of
 * the record before it, and its own MAC, keyed by the audit key (32 random bytes kept
 * sealed in storage):
 *
 *   row n   +----------+------------------+-----------------------------+-----------+
 *           | seq = n  | prev = mac(n-1)  | body (canonical JSON, UTF-8) | mac(n)    |
 *           +----------+------------------+-----------------------------+-----------+
 *
 *   mac(n)  = HMAC-SHA256(K, "keyhold/audit/v1" 0x00 | u64be(n) | prev (32) | u32be(|body|) | body)
 *   mac(0)  = 32 zero bytes (the prev of record 1)
 *
 *   head    = HMAC-SHA256(K, "keyhold/audit-head/v1" 0x00 | u64be(n) | mac(n))
 *
 * The seq inside the MAC pins each record to its position, prev pins it to its predecessor,
 * and the head (one row, rewritten with every append) pins the end of the log, so cutting
 * records off the end is detected too. Without K nobody can write a record that verifies.
 */
export const AUDIT_MAC_BYTES = 32;
export const AUDIT_GENESIS_PREV: Buffer = Buffer.alloc(AUDIT_MAC_BYTES);

const RECORD_DOMAIN = Buffer.from('keyhold/audit/v1\0', 'utf8');
const HEAD_DOMAIN = Buffer.from('keyhold/audit-head/v1\0', 'utf8');
const CHAIN_DOMAIN = Buffer.from('keyhold/audit-chain/v1\0', 'utf8');
const CHAIN_HEAD_DOMAIN = Buffer.from('keyhold/audit-head/v2\0', 'utf8');
const ANCHOR_DOMAIN = Buffer.from('keyhold/audit-anchor/v1\0', 'utf8');
const USAGE_DOMAIN = Buffer.from('keyhold/audit-usage/v1\0', 'utf8');

/**
 * The chain every data directory starts with (and the only one of a single node). Its
 * records and head are MAC'd exactly as before chains existed, so older logs verify as is.
 * Every other chain (one per writer node) starts from a prev derived from its id, and its
 * head MAC names the chain, so records or heads cannot be moved from one chain to another.
 */
export const AUDIT_ROOT_CHAIN = 'main';

/** Chain ids: short, printable, no separators that could confuse a report or a file name. */
export const AUDIT_CHAIN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Length-prefixed UTF-8 text (u16be), so adjacent fields cannot run into each other. */
function lp(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.length > 0xffff) throw new RangeError('field too long for the audit MAC');
  const out = Buffer.allocUnsafe(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
}

/** The prev of a chain's first record: 32 zero bytes for the root chain, else HMAC(K, chain domain | chain). */
export function auditGenesisPrev(key: KeyObject, chain: string): Buffer {
  if (chain === AUDIT_ROOT_CHAIN) return AUDIT_GENESIS_PREV;
  return createHmac('sha256', key).update(CHAIN_DOMAIN).update(lp(chain)).digest();
}

function writeU64be(b: Buffer, n: number, offset: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`sequence number ${n} is not a non-negative safe integer`);
  b.writeUInt32BE(Math.floor(n / 0x1_0000_0000), offset);
  b.writeUInt32BE(n >>> 0, offset + 4);
  return offset + 8;
}

function u64be(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  writeU64be(b, n, 0);
  return b;
}

/**
 * Canonical JSON: object keys sorted by UTF-16 code units, no insignificant whitespace,
 * strings and numbers as JSON.stringify writes them, properties whose value is undefined
 * left out. Only plain objects, arrays, strings, finite numbers, booleans and null are
 * accepted, so a Buffer, Date or class instance cannot slip into a record by accident.
 */
export function canonicalJson(value: unknown): string {
  return flatCanonicalJson(value) ?? canonicalValue(value);
}

/** `"key":` for the property names seen so far (records have a few dozen; bounded all the same). */
const quotedKeys = new Map<string, string>();

/**
 * The common case, a plain object whose values are all strings, finite numbers, booleans,
 * null or undefined: written member by member in sorted key order (same output as
 * canonicalValue; no sorted copy of the object, and the sort is skipped when the keys
 * already come in order). undefined when it does not apply.
 */
function flatCanonicalJson(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return undefined;
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o);
  let ordered = true;
  for (let i = 0; i < keys.length; i++) {
    const v = o[keys[i]!];
    const t = typeof v;
    if (!(t === 'string' || t === 'boolean' || v === undefined || v === null || (t === 'number' && Number.isFinite(v)))) return undefined;
    if (i > 0 && keys[i - 1]! > keys[i]!) ordered = false;
  }
  // Keys already in order (records built in sorted order): JSON.stringify writes the same
  // text (it leaves out undefined members and writes these values as above), natively.
  if (ordered) return JSON.stringify(o);
  keys.sort();
  let out = '{';
  for (const k of keys) {
    const v = o[k];
    if (v === undefined) continue;
    let q = quotedKeys.get(k);
    if (q === undefined) {
      q = JSON.stringify(k) + ':';
      if (quotedKeys.size < 512) quotedKeys.set(k, q);
    }
    // For finite numbers, booleans and null, String() writes what JSON.stringify does.
    out += (out.length > 1 ? ',' : '') + q + (typeof v === 'string' ? JSON.stringify(v) : String(v));
  }
  return out + '}';
}

function canonicalValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no representation for a non-finite number');
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) return '[' + value.map((v) => (v === undefined ? 'null' : canonicalValue(v))).join(',') + ']';
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new TypeError('canonical JSON accepts only plain objects');
      const o = value as Record<string, unknown>;
      const parts: string[] = [];
      for (const k of Object.keys(o).sort()) {
        const v = o[k];
        if (v === undefined) continue;
        parts.push(JSON.stringify(k) + ':' + canonicalValue(v));
      }
      return '{' + parts.join(',') + '}';
    }
    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
  }
}

/** mac(n) as drawn above. `body` is the canonical JSON text exactly as stored. */
export function auditRecordMac(key: KeyObject, seq: number, prev: Uint8Array, body: string): Buffer {
  if (prev.length !== AUDIT_MAC_BYTES) throw new RangeError(`prev must be ${AUDIT_MAC_BYTES} bytes`);
  // One buffer, one update: this runs once per record on the hot path.
  const fixed = RECORD_DOMAIN.length + 8 + AUDIT_MAC_BYTES + 4;
  const input = Buffer.allocUnsafe(fixed + Buffer.byteLength(body, 'utf8'));
  let o = RECORD_DOMAIN.copy(input, 0);
  o = writeU64be(input, seq, o);
  o += Buffer.from(prev.buffer, prev.byteOffset, prev.byteLength).copy(input, o);
  const n = input.write(body, fixed, 'utf8');
  input.writeUInt32BE(n, o);
  return createHmac('sha256', key).update(input).digest();
}

/**
 * The head MAC over the last record's seq and MAC (seq 0 with the genesis MAC for an empty
 * log). The root chain's head is as it always was; another chain's head names its chain.
 */
export function auditHeadMac(key: KeyObject, seq: number, lastMac: Uint8Array, chain: string = AUDIT_ROOT_CHAIN): Buffer {
  if (lastMac.length !== AUDIT_MAC_BYTES) throw new RangeError(`lastMac must be ${AUDIT_MAC_BYTES} bytes`);
  if (chain === AUDIT_ROOT_CHAIN) return createHmac('sha256', key).update(HEAD_DOMAIN).update(u64be(seq)).update(lastMac).digest();
  return createHmac('sha256', key).update(CHAIN_HEAD_DOMAIN).update(lp(chain)).update(u64be(seq)).update(lastMac).digest();
}

/**
 * The MAC of an archive anchor: records 1..seq of `chain` were archived, record seq had MAC
 * `mac`, and `usage` (canonical JSON) is what those records added to the key usage view.
 */
export function auditAnchorMac(key: KeyObject, chain: string, seq: number, mac: Uint8Array, usage: string, at: string): Buffer {
  if (mac.length !== AUDIT_MAC_BYTES) throw new RangeError(`mac must be ${AUDIT_MAC_BYTES} bytes`);
  return createHmac('sha256', key).update(ANCHOR_DOMAIN).update(lp(chain)).update(u64be(seq)).update(mac).update(lp(at)).update(Buffer.from(usage, 'utf8')).digest();
}

/** The fields of a key usage row its MAC covers, in this order. */
export interface UsageMacFields {
  chain: string;
  keyId: string;
  keyStore: string;
  kmsKeyArn: string;
  principal: string;
  operation: string;
  kmsOperation: string;
  outcome: string;
  count: number;
  firstAt: string;
  lastAt: string;
}

/** The MAC of one row of the key usage aggregate (recomputed when the row changes, once per batch). */
export function auditUsageMac(key: KeyObject, u: UsageMacFields): Buffer {
  const h = createHmac('sha256', key).update(USAGE_DOMAIN);
  for (const f of [u.chain, u.keyId, u.keyStore, u.kmsKeyArn, u.principal, u.operation, u.kmsOperation, u.outcome]) h.update(lp(f));
  return h.update(u64be(u.count)).update(lp(u.firstAt)).update(lp(u.lastAt)).digest();
}

export function sameMac(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** One stored record as the verifier sees it. */
export interface ChainRow {
  seq: number;
  prev: Uint8Array;
  mac: Uint8Array;
  body: string;
}

export interface ChainHead {
  seq: number;
  mac: Uint8Array;
  headMac: Uint8Array;
}

/**
 * What is wrong, at the first record where something is:
 * - missing: records were deleted (a gap in seq, or the end of the log cut off);
 * - altered: the record follows its predecessor but its content (or MAC) was changed;
 * - inserted: the record was not written by Keyhold, and the record after it is the one
 *   Keyhold wrote at this position (or it lies beyond the head);
 * - moved: the record is authentic but was written at another position (reordered, or
 *   renumbered after a deletion or insertion);
 * - forged: the record does not verify at any nearby position (inserted or replaced);
 * - unlinked: the record verifies at its position but does not follow its predecessor;
 * - head: the head row is missing, altered, or names another last record;
 * - extra: records after the head (appended by something other than Keyhold).
 */
export type ChainProblemKind = 'missing' | 'altered' | 'inserted' | 'moved' | 'forged' | 'unlinked' | 'head' | 'extra';

export interface ChainProblem {
  seq: number;
  kind: ChainProblemKind;
  detail: string;
}

/** How far the verifier looks for the original position of a record found out of place. */
const MOVED_SEARCH = 64;

/**
 * Checks a log record by record, in seq order, and then its head. Stops being useful at the
 * first problem (the caller reports it); everything before that point is proven intact.
 * Knowing the head up front, and seeing the next row, lets it tell an insertion from an edit.
 */
export class AuditChainVerifier {
  private lastSeq: number;
  private lastMac: Buffer;
  private readonly baseSeq: number;
  private readonly chain: string;

  /**
   * `start`: where the chain continues from when its beginning was archived (the anchor's
   * seq and MAC); `chain`: which chain (its genesis prev and head MAC depend on it).
   */
  constructor(
    private readonly key: KeyObject,
    private readonly head?: ChainHead,
    opts: { chain?: string; start?: { seq: number; mac: Uint8Array } } = {},
  ) {
    this.chain = opts.chain ?? AUDIT_ROOT_CHAIN;
    this.baseSeq = opts.start?.seq ?? 0;
    this.lastSeq = this.baseSeq;
    this.lastMac = opts.start ? Buffer.from(opts.start.mac) : auditGenesisPrev(key, this.chain);
  }

  /** Records verified so far (after the archived ones). */
  get count(): number {
    return this.lastSeq - this.baseSeq;
  }

  /** The last verified record's seq and MAC (the start, before any). */
  get last(): { seq: number; mac: Buffer } {
    return { seq: this.lastSeq, mac: this.lastMac };
  }

  /** `next` is the row after this one, when the caller has it at hand. */
  push(row: ChainRow, next?: ChainRow): ChainProblem | undefined {
    const expected = this.lastSeq + 1;
    if (row.seq !== expected) {
      if (row.seq < expected) return { seq: row.seq, kind: 'moved', detail: `record ${row.seq} appears after record ${this.lastSeq}` };
      const range = row.seq - 1 === expected ? `record ${expected} is` : `records ${expected} to ${row.seq - 1} are`;
      return { seq: expected, kind: 'missing', detail: `${range} missing (deleted)` };
    }
    if (row.prev.length !== AUDIT_MAC_BYTES || row.mac.length !== AUDIT_MAC_BYTES) {
      return { seq: row.seq, kind: 'altered', detail: 'its chain fields (prev, mac) were changed' };
    }
    const macOk = same(auditRecordMac(this.key, row.seq, row.prev, row.body), row.mac);
    const linkOk = same(row.prev, this.lastMac);
    if (macOk && linkOk) {
      this.lastSeq = row.seq;
      this.lastMac = Buffer.from(row.mac);
      return undefined;
    }
    if (macOk) return { seq: row.seq, kind: 'unlinked', detail: `it is authentic but does not follow record ${this.lastSeq} (the chain was spliced)` };
    // Not authentic here. Written elsewhere (moved)? Beyond the head, or pushing the real
    // record one place down (inserted)? Following its predecessor (edited)? Or none (forged).
    const origin = linkOk ? undefined : this.originalSeq(row);
    if (origin !== undefined) {
      const how = origin > row.seq ? 'records before it were deleted or reordered' : 'records were inserted or reordered before it';
      return { seq: row.seq, kind: 'moved', detail: `it holds the record written as seq ${origin} (${how})` };
    }
    if (this.head && row.seq > this.head.seq) {
      return { seq: row.seq, kind: 'inserted', detail: `it was added after record ${this.head.seq}, the last one Keyhold wrote` };
    }
    if (next && next.seq === row.seq + 1 && this.writtenAt(next, row.seq)) {
      return { seq: row.seq, kind: 'inserted', detail: `it was inserted: the record after it is the one written as seq ${row.seq}` };
    }
    if (linkOk) return { seq: row.seq, kind: 'altered', detail: 'its content does not match its MAC (the record was edited)' };
    return { seq: row.seq, kind: 'forged', detail: 'it was not written by Keyhold (inserted or replaced)' };
  }

  /** Call after the last row; `head` is the stored head row, if any (default: the one given at construction). */
  finish(head: ChainHead | undefined = this.head): ChainProblem | undefined {
    if (head && (head.mac.length !== AUDIT_MAC_BYTES || head.headMac.length !== AUDIT_MAC_BYTES)) {
      return { seq: Math.max(1, Math.min(head.seq, this.lastSeq + 1)), kind: 'head', detail: 'the log head was altered' };
    }
    if (!head) {
      if (this.lastSeq === 0) return undefined;
      return { seq: this.lastSeq, kind: 'head', detail: 'the log head is missing, so the end of the log cannot be checked' };
    }
    if (!same(auditHeadMac(this.key, head.seq, head.mac, this.chain), head.headMac)) {
      return { seq: Math.max(1, Math.min(head.seq, this.lastSeq + 1)), kind: 'head', detail: 'the log head was altered' };
    }
    if (head.seq > this.lastSeq) {
      const range = head.seq === this.lastSeq + 1 ? `record ${head.seq} is` : `records ${this.lastSeq + 1} to ${head.seq} are`;
      return { seq: this.lastSeq + 1, kind: 'missing', detail: `${range} missing (the end of the log was deleted)` };
    }
    if (head.seq < this.lastSeq) return { seq: head.seq + 1, kind: 'extra', detail: `records after ${head.seq} were appended outside Keyhold` };
    if (!same(head.mac, this.lastMac)) return { seq: this.lastSeq, kind: 'head', detail: 'the log head names a different last record' };
    return undefined;
  }

  /** Whether `row` is the record Keyhold wrote at `seq`, right after the last verified one. */
  private writtenAt(row: ChainRow, seq: number): boolean {
    if (row.prev.length !== AUDIT_MAC_BYTES || row.mac.length !== AUDIT_MAC_BYTES) return false;
    return same(row.prev, this.lastMac) && same(auditRecordMac(this.key, seq, row.prev, row.body), row.mac);
  }

  private originalSeq(row: ChainRow): number | undefined {
    const from = Math.max(this.baseSeq + 1, row.seq - MOVED_SEARCH);
    for (let s = from; s <= row.seq + MOVED_SEARCH; s++) {
      if (s !== row.seq && same(auditRecordMac(this.key, s, row.prev, row.body), row.mac)) return s;
    }
    return undefined;
  }
}
