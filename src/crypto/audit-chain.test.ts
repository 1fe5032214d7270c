import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createSecretKey } from 'node:crypto';
import * as chainApi from './audit-chain.js';
import { AUDIT_GENESIS_PREV, AuditChainVerifier, auditHeadMac, auditRecordMac, canonicalJson, type ChainHead, type ChainRow } from './audit-chain.js';
import * as signingApi from './audit-signing.js';

const KEY_BYTES = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const key = createSecretKey(KEY_BYTES);

function chain(n: number): { rows: ChainRow[]; head: ChainHead } {
  const rows: ChainRow[] = [];
  let prev: Buffer = AUDIT_GENESIS_PREV;
  for (let seq = 1; seq <= n; seq++) {
    const body = canonicalJson({ kind: 'xks', operation: 'encrypt', kmsRequestId: `r-${seq}`, n: seq });
    const mac = auditRecordMac(key, seq, prev, body);
    rows.push({ seq, prev, mac, body });
    prev = mac;
  }
  return { rows, head: { seq: n, mac: prev, headMac: auditHeadMac(key, n, prev) } };
}

function verify(rows: ChainRow[], head: ChainHead | undefined) {
  const v = new AuditChainVerifier(key, head);
  for (const [i, r] of rows.entries()) {
    const p = v.push(r, rows[i + 1]);
    if (p) return p;
  }
  return v.finish() ?? { ok: v.count };
}

test('canonical JSON sorts keys, drops undefined and has no whitespace', () => {
  assert.equal(canonicalJson({ b: 1, a: 'x', c: undefined, d: { z: null, y: [1, 'two', true] } }), '{"a":"x","b":1,"d":{"y":[1,"two",true],"z":null}}');
  assert.equal(canonicalJson({ é: 1, e: 2, E: 3 }), '{"E":3,"e":2,"é":1}', 'ordered by UTF-16 code units');
  assert.equal(canonicalJson('line\nbreak "quoted" \u2028'), JSON.stringify('line\nbreak "quoted" \u2028'));
  assert.equal(canonicalJson(0.125), '0.125');
  assert.equal(canonicalJson([undefined]), '[null]');
});

test('the flat fast path and the general path write the same text', () => {
  const flat = { z: 'last', a: 1.5, m: null, b: true, u: undefined, q: 'quote " and \\ and \n', é: 'é' };
  assert.equal(canonicalJson(flat), '{"a":1.5,"b":true,"m":null,"q":"quote \\" and \\\\ and \\n","z":"last","é":"é"}');
  // Adding a nested value forces the general path; the flat part must not change.
  const nested = canonicalJson({ ...flat, n: {} });
  assert.equal(nested, canonicalJson(flat).replace('"m":null,', '"m":null,"n":{},'));
  assert.throws(() => canonicalJson({ a: Number.POSITIVE_INFINITY }), /non-finite/);
  assert.equal(canonicalJson(JSON.parse('{"__proto__":"x","a":1}')), '{"__proto__":"x","a":1}');
});

test('the flat fast path matches the general path on random objects, in and out of key order', () => {
  const keys = ['a', 'b', 'B', 'é', 'ka', 'k', '__proto__', 'z9', '\u2028', 'x"y', 'time', 'kind'];
  const values = ['', 'text', 'quote " \\ \n \u2028', 0, -0, 1.5, 1e21, 5e-7, -12, true, false, null, undefined];
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  for (let i = 0; i < 500; i++) {
    const members: [string, unknown][] = [];
    for (const k of keys) if (rnd(2)) members.push([k, values[rnd(values.length)]]);
    if (rnd(2)) members.sort((x, y) => (x[0] < y[0] ? -1 : 1));
    const flat = JSON.parse('{}') as Record<string, unknown>;
    for (const [k, v] of members) Object.defineProperty(flat, k, { value: v, enumerable: true, writable: true, configurable: true });
    // A nested member that sorts last forces the general path.
    const general = canonicalJson({ ...Object.fromEntries(members), '\uffff': {} });
    const expected = general.replace(/,?"\uffff":\{\}\}$/, '}');
    assert.equal(canonicalJson(flat), expected, JSON.stringify(members));
  }
});

test('canonical JSON refuses what could smuggle binary or ambiguous values', () => {
  assert.throws(() => canonicalJson({ material: Buffer.from('secret') }), /plain objects/);
  assert.throws(() => canonicalJson({ at: new Date(0) }), /plain objects/);
  assert.throws(() => canonicalJson({ n: Number.NaN }), /non-finite/);
  assert.throws(() => canonicalJson({ n: 1n }), /bigint/);
});

test('the record MAC is HMAC-SHA256 over the drawn layout', () => {
  const body = '{"a":1}';
  const prev = Buffer.alloc(32, 0xab);
  const layout = Buffer.concat([
    Buffer.from('keyhold/audit/v1\0'),
    Buffer.from([0, 0, 0, 0, 0, 0, 0x01, 0x02]), // seq 258
    prev,
    Buffer.from([0, 0, 0, 7]),
    Buffer.from(body),
  ]);
  const expected = createHmac('sha256', KEY_BYTES).update(layout).digest();
  assert.deepEqual(auditRecordMac(key, 258, prev, body), expected);
  // A pinned vector (computed independently with Python's hmac module), so the layout cannot drift.
  assert.equal(auditRecordMac(key, 1, AUDIT_GENESIS_PREV, body).toString('hex'), '55d4cf00d0e70aed0fd08cd2237b09acd9aaa634cc7751749cbde45c11a37f42');
  const headLayout = Buffer.concat([Buffer.from('keyhold/audit-head/v1\0'), Buffer.from([0, 0, 0, 0, 0, 0, 0, 5]), prev]);
  assert.deepEqual(auditHeadMac(key, 5, prev), createHmac('sha256', KEY_BYTES).update(headLayout).digest());
});

test('the MAC binds seq, prev and every byte of the body', () => {
  const base = auditRecordMac(key, 7, AUDIT_GENESIS_PREV, '{"a":1}');
  assert.notDeepEqual(auditRecordMac(key, 8, AUDIT_GENESIS_PREV, '{"a":1}'), base);
  assert.notDeepEqual(auditRecordMac(key, 7, Buffer.alloc(32, 1), '{"a":1}'), base);
  assert.notDeepEqual(auditRecordMac(key, 7, AUDIT_GENESIS_PREV, '{"a":2}'), base);
  assert.notDeepEqual(auditRecordMac(createSecretKey(Buffer.alloc(32, 9)), 7, AUDIT_GENESIS_PREV, '{"a":1}'), base);
});

test('an intact chain verifies, and so does an empty log', () => {
  const { rows, head } = chain(20);
  assert.deepEqual(verify(rows, head), { ok: 20 });
  assert.deepEqual(verify([], undefined), { ok: 0 });
  assert.deepEqual(verify([], { seq: 0, mac: AUDIT_GENESIS_PREV, headMac: auditHeadMac(key, 0, AUDIT_GENESIS_PREV) }), { ok: 0 });
});

test('an edited body is reported as altered at its seq', () => {
  const { rows, head } = chain(10);
  rows[5] = { ...rows[5]!, body: rows[5]!.body.replace('encrypt', 'decrypt') };
  assert.deepEqual(verify(rows, head), { seq: 6, kind: 'altered', detail: 'its content does not match its MAC (the record was edited)' });
});

test('a deleted record is reported as missing', () => {
  const { rows, head } = chain(10);
  rows.splice(3, 1);
  const p = verify(rows, head);
  assert.equal((p as { seq: number }).seq, 4);
  assert.equal((p as { kind: string }).kind, 'missing');
});

test('deleting and renumbering is reported where the renumbered record sits', () => {
  const { rows, head } = chain(10);
  rows.splice(3, 1);
  for (const r of rows.slice(3)) r.seq -= 1;
  const p = verify(rows, head) as { seq: number; kind: string; detail: string };
  assert.equal(p.seq, 4);
  assert.equal(p.kind, 'moved');
  assert.match(p.detail, /written as seq 5/);
});

test('two swapped records are reported at the first of them', () => {
  const { rows, head } = chain(10);
  const a = rows[6]!;
  const b = rows[7]!;
  rows[6] = { ...b, seq: 7 };
  rows[7] = { ...a, seq: 8 };
  const p = verify(rows, head) as { seq: number; kind: string; detail: string };
  assert.equal(p.seq, 7);
  assert.equal(p.kind, 'moved');
  assert.match(p.detail, /written as seq 8/);
});

test('a record inserted without the key is reported as inserted, whatever its prev', () => {
  const { rows, head } = chain(10);
  const forgedBody = canonicalJson({ kind: 'admin', action: 'key.create' });
  const forgedMac = createHmac('sha256', Buffer.alloc(32, 7)).update(forgedBody).digest();
  rows.splice(2, 0, { seq: 3, prev: rows[1]!.mac, mac: forgedMac, body: forgedBody });
  for (const r of rows.slice(3)) r.seq += 1;
  assert.deepEqual(verify(rows, head), { seq: 3, kind: 'inserted', detail: 'it was inserted: the record after it is the one written as seq 3' });
  rows[2] = { ...rows[2]!, prev: Buffer.alloc(32, 1) };
  assert.equal((verify(rows, head) as { kind: string }).kind, 'inserted');
  // Without the row after it (the caller has none at hand) it is still named, as forged.
  const v = new AuditChainVerifier(key, head);
  for (const r of rows.slice(0, 2)) assert.equal(v.push(r), undefined);
  assert.equal(v.push(rows[2]!)!.kind, 'forged');
});

test('a forged record appended after the head is reported as inserted', () => {
  const { rows, head } = chain(5);
  rows.push({ seq: 6, prev: rows[4]!.mac, mac: Buffer.alloc(32, 3), body: '{"kind":"admin"}' });
  assert.deepEqual(verify(rows, head), { seq: 6, kind: 'inserted', detail: 'it was added after record 5, the last one Keyhold wrote' });
});

test('cutting records off the end is caught by the head', () => {
  const { rows, head } = chain(10);
  const p = verify(rows.slice(0, 7), head) as { seq: number; kind: string; detail: string };
  assert.equal(p.seq, 8);
  assert.equal(p.kind, 'missing');
  assert.match(p.detail, /records 8 to 10 are missing/);
  // Rewriting the head to match the shorter log needs the key.
  const fake = { seq: 7, mac: rows[6]!.mac, headMac: Buffer.alloc(32) };
  assert.equal((verify(rows.slice(0, 7), fake) as { kind: string }).kind, 'head');
  assert.equal((verify(rows, undefined) as { kind: string }).kind, 'head');
});

test('a record appended after the head is reported as extra', () => {
  const { rows, head } = chain(10);
  const { rows: longer } = chain(11);
  assert.deepEqual(verify(longer, head), { seq: 11, kind: 'extra', detail: 'records after 10 were appended outside Keyhold' });
  assert.deepEqual(verify(rows, head), { ok: 10 });
});

test('a changed prev or mac column is reported, whatever its length', () => {
  const { rows, head } = chain(5);
  rows[2] = { ...rows[2]!, mac: Buffer.from('short') };
  assert.equal((verify(rows, head) as { seq: number }).seq, 3);
});

test('chains other than the root start from a prev bound to their id, and their heads name them', () => {
  const { AUDIT_ROOT_CHAIN, auditGenesisPrev } = chainApi;
  assert.deepEqual(auditGenesisPrev(key, AUDIT_ROOT_CHAIN), AUDIT_GENESIS_PREV, 'the root chain is as logs were before chains');
  assert.notDeepEqual(auditGenesisPrev(key, 'node-a'), auditGenesisPrev(key, 'node-b'));
  const rows: ChainRow[] = [];
  let prev = auditGenesisPrev(key, 'node-a');
  for (let seq = 1; seq <= 3; seq++) {
    const body = canonicalJson({ kind: 'admin', n: seq });
    const mac = auditRecordMac(key, seq, prev, body);
    rows.push({ seq, prev, mac, body });
    prev = mac;
  }
  const head = { seq: 3, mac: prev, headMac: auditHeadMac(key, 3, prev, 'node-a') };
  const run = (chain: string, h: ChainHead) => {
    const v = new AuditChainVerifier(key, h, { chain });
    for (const r of rows) {
      const p = v.push(r);
      if (p) return p.kind;
    }
    return v.finish(h)?.kind ?? 'ok';
  };
  assert.equal(run('node-a', head), 'ok');
  assert.equal(run('node-b', { ...head, headMac: auditHeadMac(key, 3, prev, 'node-b') }), 'unlinked', 'a chain moved under another id does not link');
  assert.equal(run('node-a', { ...head, headMac: auditHeadMac(key, 3, prev) }), 'head', "the root chain's head does not fit another chain");
  // A verifier started at an anchor checks only what follows it.
  const v = new AuditChainVerifier(key, head, { chain: 'node-a', start: { seq: 1, mac: rows[0]!.mac } });
  assert.equal(v.push(rows[1]!), undefined);
  assert.equal(v.push(rows[2]!), undefined);
  assert.equal(v.finish(), undefined);
  assert.equal(v.count, 2);
});

test('anchor and usage MACs bind every field', () => {
  const { auditAnchorMac, auditUsageMac } = chainApi;
  const mac = Buffer.alloc(32, 7);
  const a = auditAnchorMac(key, 'main', 10, mac, '[]', '2025-01-01T00:00:00.000Z');
  assert.notDeepEqual(a, auditAnchorMac(key, 'main', 11, mac, '[]', '2025-01-01T00:00:00.000Z'));
  assert.notDeepEqual(a, auditAnchorMac(key, 'other', 10, mac, '[]', '2025-01-01T00:00:00.000Z'));
  assert.notDeepEqual(a, auditAnchorMac(key, 'main', 10, mac, '[{}]', '2025-01-01T00:00:00.000Z'));
  const u = { chain: 'main', keyId: 'k', keyStore: 's', kmsKeyArn: 'a', principal: 'p', operation: 'encrypt', kmsOperation: 'Encrypt', outcome: 'ok', count: 5, firstAt: 't1', lastAt: 't2' };
  const m = auditUsageMac(key, u);
  for (const [field, value] of Object.entries({ chain: 'x', keyId: 'x', principal: 'x', outcome: 'x', count: 6, firstAt: 'x', lastAt: 'x' })) {
    assert.notDeepEqual(auditUsageMac(key, { ...u, [field]: value }), m, `${field} is covered`);
  }
  // Length prefixes: moving a character from one field to the next changes the MAC.
  assert.notDeepEqual(auditUsageMac(key, { ...u, keyId: 'ks', keyStore: '' }), auditUsageMac(key, { ...u, keyId: 'k', keyStore: 's' }));
});

test('signed documents verify with the derived public key and fail when any member changes', () => {
  const { deriveAuditSigningKey, signAuditDocument, verifyAuditDocument } = signingApi;
  const k = deriveAuditSigningKey(key);
  assert.equal(deriveAuditSigningKey(key).publicKeyHex, k.publicKeyHex, 'derived, not random');
  assert.notEqual(deriveAuditSigningKey(createSecretKey(Buffer.alloc(32, 1))).publicKeyHex, k.publicKeyHex);
  const doc = signAuditDocument(k, { type: 't', chains: [{ chain: 'main', seq: 4, mac: 'ab' }], time: 'now' });
  assert.equal(verifyAuditDocument(doc, k.publicKeyHex), true);
  assert.equal(verifyAuditDocument({ ...doc, chains: [{ chain: 'main', seq: 5, mac: 'ab' }] }, k.publicKeyHex), false);
  assert.equal(verifyAuditDocument({ ...doc, extra: 1 }, k.publicKeyHex), false);
  assert.equal(verifyAuditDocument(doc, deriveAuditSigningKey(createSecretKey(Buffer.alloc(32, 1))).publicKeyHex), false);
});
