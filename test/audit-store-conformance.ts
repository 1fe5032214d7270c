/**
 * One behaviour suite for every audit store (SQLite, PostgreSQL): group commit, one chain
 * under concurrent writers, the usage aggregate, filtered exports, failed commits, and
 * verification catching an edited row.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSecretKey, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { systemClock } from '../src/base/index.js';
import { createAuditService, type AuditRecord, type XksAuditRecord } from '../src/domain/index.js';
import type { AuditSinkOptions, AuditStore } from '../src/storage/index.js';

export interface AuditStoreFixture {
  /** Another handle on the same log (another process or node, as far as the store can tell). */
  openStore(): AuditStore;
  /** Runs SQL against the database directly (as someone with access to it would). */
  sql(text: string): Promise<void>;
  sinkMode?: AuditSinkOptions['mode'];
  dispose(): Promise<void>;
}

export function xksRecord(over: Partial<XksAuditRecord> = {}): XksAuditRecord {
  return {
    kind: 'xks',
    time: new Date().toISOString(),
    node: 'n1',
    operation: 'encrypt',
    kmsRequestId: randomUUID(),
    kmsOperation: 'Encrypt',
    keyStore: 'ks',
    keyId: 'k1',
    keyVersion: 1,
    authenticated: true,
    awsPrincipalArn: 'arn:aws:iam::111122223333:role/App',
    kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/a',
    status: 200,
    outcome: 'ok',
    latencyMs: 0.5,
    ...over,
  };
}

export function genesisRecord(): AuditRecord {
  return { kind: 'admin', time: '2024-12-31T00:00:00.000Z', node: 'test', actor: 'keyhold', source: 'audit', action: 'audit.start', target: 'main', outcome: 'ok' };
}

/** The verdict without the per-chain details. */
function verdict(r: { ok: boolean; count: number }) {
  return { ok: r.ok, count: r.count };
}

function strip(r: XksAuditRecord) {
  const { kind: _k, node: _n, ...rest } = r;
  return rest;
}

export function auditStoreConformance(name: string, create: () => Promise<AuditStoreFixture>): void {
  async function withLog(fn: (f: AuditStoreFixture, svc: ReturnType<typeof service>, key: KeyObject) => Promise<void>) {
    const f = await create();
    const key = createSecretKey(randomBytes(32));
    const stores: AuditStore[] = [];
    // The key's creation writes the root chain's first record (seq 1), as loadAuditKey does.
    const first = f.openStore();
    stores.push(first);
    await first.keys.initSealedAuditKey(Buffer.from('sealed-key-stand-in'), { key, genesis: genesisRecord() });
    const svc = service(f, key, stores);
    try {
      await fn(f, svc, key);
    } finally {
      await svc.close().catch(() => undefined);
      for (const s of stores) await s.close().catch(() => undefined);
      await f.dispose();
    }
  }

  function service(f: AuditStoreFixture, key: KeyObject, stores: AuditStore[], maxBatch = 500) {
    const store = f.openStore();
    stores.push(store);
    return createAuditService({ sink: store.openSink({ key, mode: f.sinkMode, maxBatch }), reader: store.reader, key, node: 'test', clock: systemClock, maintenance: store.maintenance });
  }

  const ok = (count: number, extra: object = {}) => ({ ok: true, count, ...extra });

  test(`${name}: concurrent appends share transactions, each caller gets its own seq, and the chain verifies`, () =>
    withLog(async (f, _svc, key) => {
      const store = f.openStore();
      const sink = store.openSink({ key, mode: f.sinkMode, maxBatch: 500 });
      const svc = createAuditService({ sink, reader: store.reader, key, node: 'test', clock: systemClock });
      const n = 1500;
      const entries = await Promise.all(Array.from({ length: n }, (_, i) => svc.xks(strip(xksRecord({ kmsRequestId: `r-${i}` })))));
      assert.deepEqual(
        entries.map((e) => e.seq).sort((a, b) => a - b),
        Array.from({ length: n }, (_, i) => i + 2),
        'every record got exactly one seq after the first record, no gaps',
      );
      const s = sink.stats();
      assert.equal(s.items, n);
      assert.ok(s.batches < n / 10, `group commit batched ${n} records into ${s.batches} transactions`);
      assert.ok(s.largestBatch <= 500, 'no transaction exceeds max_batch');
      const bySeq = new Map(entries.map((e) => [e.seq, e]));
      for (let i = 3; i <= n + 1; i++) assert.equal(bySeq.get(i)!.prev, bySeq.get(i - 1)!.mac);
      assert.deepEqual(verdict(await svc.verify()), ok(n + 1));
      await svc.close();
      await store.close();
    }));

  test(`${name}: two writers on one log keep one chain`, () =>
    withLog(async (f, svc, key) => {
      const other = f.openStore();
      const sinkB = other.openSink({ key, mode: f.sinkMode });
      const per = 300;
      const write = async (append: (r: AuditRecord) => Promise<unknown>, tag: string) => {
        const all: Promise<unknown>[] = [];
        for (let i = 0; i < per; i++) {
          all.push(append({ kind: 'admin', time: new Date().toISOString(), node: tag, actor: tag, source: 'test', action: 'test.append', target: `${tag}-${i}`, outcome: 'ok' }));
          if (i % 25 === 0) await new Promise((r) => setTimeout(r, 1));
        }
        await Promise.all(all);
      };
      await Promise.all([write((r) => svc.admin(r as never), 'a'), write((r) => sinkB.append([r]), 'b')]);
      await sinkB.close();
      await other.close();
      assert.deepEqual(verdict(await svc.verify()), ok(2 * per + 1));
      const targets = new Set<string>();
      for await (const r of svc.export()) if (r.kind === 'admin') targets.add(r.target);
      for (const tag of ['a', 'b']) for (let i = 0; i < per; i++) assert.ok(targets.has(`${tag}-${i}`), `${tag}-${i} recorded`);
    }));

  test(`${name}: the usage view counts authenticated calls per KMS key, principal, operation and outcome`, () =>
    withLog(async (_f, svc) => {
      const arnA = 'arn:aws:kms:us-east-1:111122223333:key/a';
      const arnB = 'arn:aws:kms:eu-west-1:111122223333:key/b';
      await Promise.all([
        ...Array.from({ length: 5 }, () => svc.xks(strip(xksRecord({ time: '2025-01-01T00:00:01.000Z' })))),
        ...Array.from({ length: 3 }, () =>
          svc.xks(strip(xksRecord({ time: '2025-01-02T00:00:00.000Z', operation: 'decrypt', kmsOperation: 'Decrypt', kmsKeyArn: arnB, awsPrincipalArn: 'arn:aws:iam::444455556666:role/Other' }))),
        ),
        svc.xks(strip(xksRecord({ time: '2025-01-03T00:00:00.000Z', operation: 'decrypt', kmsOperation: 'Decrypt', outcome: 'error', status: 400, errorName: 'InvalidCiphertextException' }))),
        // Unauthenticated: the key id is whatever the sender wrote; it must not count.
        svc.xks(strip(xksRecord({ time: '2025-01-04T00:00:00.000Z', authenticated: false, outcome: 'error', status: 401, errorName: 'AuthenticationFailedException' }))),
        svc.xks(strip(xksRecord({ keyId: 'other' }))),
        svc.xks(strip(xksRecord({ operation: 'health', keyId: undefined }))),
      ]);
      const v = await svc.usage('k1');
      assert.equal(v.calls, 9);
      assert.equal(v.keyStore, 'ks');
      assert.equal(v.firstUsedAt, '2025-01-01T00:00:01.000Z');
      assert.equal(v.lastUsedAt, '2025-01-03T00:00:00.000Z');
      assert.deepEqual(v.kmsKeyArns.map((a) => [a.kmsKeyArn, a.calls]), [[arnA, 6], [arnB, 3]]);
      assert.deepEqual(v.principals.map((p) => [p.principal, p.calls]), [['arn:aws:iam::111122223333:role/App', 6], ['arn:aws:iam::444455556666:role/Other', 3]]);
      assert.deepEqual(
        v.operations.map((o) => [o.operation, o.kmsOperation, o.outcome, o.calls]),
        [
          ['encrypt', 'Encrypt', 'ok', 5],
          ['decrypt', 'Decrypt', 'ok', 3],
          ['decrypt', 'Decrypt', 'InvalidCiphertextException', 1],
        ],
      );
      assert.equal((await svc.usage('never-used')).calls, 0);
    }));

  test(`${name}: export filters by time, key and key store and keeps seq order`, () =>
    withLog(async (_f, svc) => {
      const times = ['2025-03-01T10:00:00.000Z', '2025-03-01T10:00:02.000Z', '2025-03-01T10:00:01.000Z', '2025-03-01T10:00:03.000Z', '2025-03-02T00:00:00.000Z'];
      for (const [i, time] of times.entries()) await svc.xks(strip(xksRecord({ time, keyId: i % 2 ? 'odd' : 'even', keyStore: i < 3 ? 'ks1' : 'ks2', kmsRequestId: `r${i}` })));
      const ids = async (q: Parameters<typeof svc.export>[0]) => {
        const out: string[] = [];
        for await (const r of svc.export(q)) if (r.kind === 'xks') out.push(r.kmsRequestId!);
        return out;
      };
      assert.deepEqual(await ids({}), ['r0', 'r1', 'r2', 'r3', 'r4']);
      assert.deepEqual(await ids({ since: '2025-03-01T10:00:01Z', until: '2025-03-01T10:00:03Z' }), ['r1', 'r2'], 'since inclusive, until exclusive, records out of time order included');
      assert.deepEqual(await ids({ since: '2025-03-01T11:00:01+01:00' }), ['r1', 'r2', 'r3', 'r4'], 'time zones are normalised');
      assert.deepEqual(await ids({ keyId: 'odd' }), ['r1', 'r3']);
      assert.deepEqual(await ids({ keyStore: 'ks2' }), ['r3', 'r4']);
      assert.deepEqual(await ids({ keyId: 'even', keyStore: 'ks1', until: '2025-03-01T10:00:01.500Z' }), ['r0', 'r2']);
      await assert.rejects(ids({ since: 'yesterday-ish' }), /not a date or time/);
    }));

  test(`${name}: a failed commit rejects the callers of that batch, and the chain continues intact`, () =>
    withLog(async (f, svc, key) => {
      const store = f.openStore();
      const sink = store.openSink({ key, mode: f.sinkMode });
      await sink.append([xksRecord()]);
      const good = sink.append([xksRecord()]);
      const bad = sink.append([{ ...xksRecord(), latencyMs: Number.NaN } as AuditRecord]);
      await assert.rejects(bad, /non-finite/);
      await assert.rejects(good, /non-finite/, 'same transaction, same fate');
      const [next] = await sink.append([xksRecord()]);
      assert.equal(next!.seq, 3);
      await sink.close();
      await store.close();
      assert.deepEqual(verdict(await svc.verify()), ok(3));
    }));

  test(`${name}: verification names an edited row`, () =>
    withLog(async (f, svc) => {
      for (let i = 0; i < 10; i++) await svc.xks(strip(xksRecord({ kmsRequestId: `v${i}` })));
      assert.deepEqual(verdict(await svc.verify()), ok(11));
      await f.sql(`UPDATE audit_log SET body = replace(body, '"status":200', '"status":201') WHERE seq = 6`);
      const r = await svc.verify();
      assert.equal(r.ok, false);
      assert.deepEqual({ seq: r.problem?.seq, kind: r.problem?.kind }, { seq: 6, kind: 'altered' });
    }));

  test(`${name}: a wiped chain is never restarted: appends and chain starts refuse, verify names it`, () =>
    withLog(async (f, svc, key) => {
      for (let i = 0; i < 5; i++) await svc.xks(strip(xksRecord()));
      await f.sql('DELETE FROM audit_log; DELETE FROM audit_head');
      await assert.rejects(svc.xks(strip(xksRecord())), /tampering suspected/);
      const r = await svc.verify();
      assert.equal(r.ok, false);
      assert.deepEqual({ chain: r.problem?.chain, kind: r.problem?.kind }, { chain: 'main', kind: 'wiped' });
      const store = f.openStore();
      try {
        await assert.rejects(store.maintenance.startChain(key, { chain: 'main', genesis: genesisRecord() }), /tampering suspected/);
        // The key exists: a second genesis through the key path is not written either.
        await store.keys.initSealedAuditKey(Buffer.from('another'), { key, genesis: genesisRecord() });
        assert.equal((await svc.verify()).problem?.kind, 'wiped');
      } finally {
        await store.close();
      }
    }));

  test(`${name}: writers on their own chains append side by side; verify covers every chain and finds a wiped or cut one`, () =>
    withLog(async (f, svc, key) => {
      const store = f.openStore();
      try {
        const start = { chain: 'node-b', genesis: { ...genesisRecord(), target: 'node-b' }, announce: { ...genesisRecord(), action: 'audit.chain.start', target: 'node-b' } };
        assert.equal(await store.maintenance.startChain(key, start), 'started');
        assert.equal(await store.maintenance.startChain(key, start), 'exists');
        const sinkB = store.openSink({ key, chain: 'node-b', mode: f.sinkMode });
        const b = createAuditService({ sink: sinkB, reader: store.reader, key, node: 'b', clock: systemClock });
        const [ea, eb] = await Promise.all([
          Promise.all(Array.from({ length: 200 }, (_, i) => svc.xks(strip(xksRecord({ kmsRequestId: `a-${i}` }))))),
          Promise.all(Array.from({ length: 200 }, (_, i) => b.xks(strip(xksRecord({ kmsRequestId: `b-${i}` }))))),
        ]);
        assert.equal(Math.max(...eb.map((e) => e.seq)), 201, 'chain node-b numbers its own records');
        assert.equal(Math.max(...ea.map((e) => e.seq)), 202, 'main holds its records, its first record and the announcement');
        await sinkB.close();
        const v = await svc.verify();
        assert.deepEqual(verdict(v), ok(403));
        assert.deepEqual(v.chains.map((c) => [c.chain, c.count, c.seq]), [['main', 202, 202], ['node-b', 201, 201]]);
        assert.equal((await svc.usage('k1')).calls, 400, 'usage adds up over chains');
        const exported: string[] = [];
        for await (const r of svc.export({ keyId: 'k1' })) exported.push(`${r.chain}:${r.kind === 'xks' ? r.kmsRequestId : ''}`);
        assert.equal(exported.length, 400);
        assert.equal(exported[0], 'main:a-0'.replace('a-0', exported[0]!.slice(5)));
        assert.ok(exported.indexOf('node-b:b-0') > exported.lastIndexOf(exported.find((e) => e.startsWith('main:'))!), 'main first, then node-b');

        await f.sql("DELETE FROM audit_log WHERE chain = 'node-b' AND seq > 150");
        const cut = await svc.verify();
        assert.deepEqual({ chain: cut.problem?.chain, seq: cut.problem?.seq, kind: cut.problem?.kind }, { chain: 'node-b', seq: 151, kind: 'missing' });

        await f.sql("DELETE FROM audit_log WHERE chain = 'node-b'; DELETE FROM audit_head WHERE chain = 'node-b'; DELETE FROM audit_key_usage WHERE chain = 'node-b'");
        const wiped = await svc.verify();
        assert.deepEqual({ chain: wiped.problem?.chain, kind: wiped.problem?.kind }, { chain: 'node-b', kind: 'wiped' });
        await assert.rejects(store.maintenance.startChain(key, start), /tampering suspected/, 'the root chain announced node-b: no second genesis');
      } finally {
        await store.close();
      }
    }));

  test(`${name}: the key usage aggregate is protected: edited, replayed or deleted rows fail usage and verify; a rebuild restores it`, () =>
    withLog(async (f, svc) => {
      for (let i = 0; i < 6; i++) await svc.xks(strip(xksRecord({ awsPrincipalArn: i < 4 ? 'arn:aws:iam::111122223333:role/App' : 'arn:aws:iam::111122223333:role/Other' })));
      assert.equal((await svc.usage('k1')).calls, 6);
      await f.sql("UPDATE audit_key_usage SET count = 1 WHERE principal = 'arn:aws:iam::111122223333:role/App'");
      await assert.rejects(svc.usage('k1'), /usage row .* fails verification/);
      const edited = await svc.verify();
      assert.deepEqual({ kind: edited.problem?.kind, ok: edited.ok }, { kind: 'usage', ok: false });
      assert.match(edited.problem!.detail, /was edited/);
      assert.deepEqual(await svc.rebuildUsage(), { chains: 1, rows: 2 });
      assert.equal((await svc.usage('k1')).calls, 6);
      assert.equal((await svc.verify()).ok, true);

      await f.sql("DELETE FROM audit_key_usage WHERE principal = 'arn:aws:iam::111122223333:role/Other'");
      const deleted = await svc.verify();
      assert.equal(deleted.problem?.kind, 'usage');
      assert.match(deleted.problem!.detail, /role\/Other.*was deleted/);
    }));

  test(`${name}: exports verify what they read: a record whose key id was edited stops the export instead of vanishing from it`, () =>
    withLog(async (f, svc) => {
      for (let i = 0; i < 8; i++) await svc.xks(strip(xksRecord({ kmsRequestId: `e${i}` })));
      await f.sql(`UPDATE audit_log SET body = replace(body, '"keyId":"k1"', '"keyId":"k2"') WHERE seq = 5`);
      const seen: string[] = [];
      await assert.rejects(
        (async () => {
          for await (const r of svc.export({ keyId: 'k1' })) if (r.kind === 'xks') seen.push(r.kmsRequestId!);
        })(),
        /record 5 of chain 'main', which fails verification \(altered/,
      );
      assert.deepEqual(seen, ['e0', 'e1', 'e2'], 'what came before the bad record verified');
      await assert.rejects(svc.page({ keyId: 'k1' }, { chain: 'main', after: 0 }, 100), /fails verification/);
    }));

  test(`${name}: archive writes a signed segment, removes it, and the rest still verifies from the anchor`, () =>
    withLog(async (f, svc) => {
      for (let i = 0; i < 30; i++) await svc.xks(strip(xksRecord({ time: `2025-01-01T00:00:${String(i).padStart(2, '0')}.000Z`, kmsRequestId: `old-${i}` })));
      for (let i = 0; i < 5; i++) await svc.xks(strip(xksRecord({ kmsRequestId: `new-${i}` })));
      const before = await svc.verify();
      assert.equal(before.ok, true);
      let text = '';
      const plan = await svc.archive('2025-01-01T00:00:20Z', async (t) => void (text += t));
      assert.deepEqual(plan.chains, [{ chain: 'main', from: 1, to: 21, count: 21 }], 'the first record and the 20 records before the date');
      const segment = svc.verifySegment(text);
      assert.equal(segment.ok, true, segment.detail);
      assert.equal(segment.count, plan.chains.reduce((n, c) => n + c.count, 0));
      const removed = await plan.commit();
      assert.equal(removed, segment.count);
      const after = await svc.verify();
      assert.deepEqual(verdict(after), ok(before.count - removed));
      assert.equal(after.chains[0]!.archived, plan.chains[0]?.to ?? 0);
      assert.equal((await svc.usage('k1')).calls, 35, 'usage keeps the archived calls');
      const edited = text.replace('old-3', 'old-X');
      assert.notEqual(edited, text);
      assert.match(svc.verifySegment(edited).detail ?? '', /edited/);
      assert.equal(svc.verifySegment(text.split('\n').slice(0, -2).join('\n')).ok, false, 'a segment cut short fails');
      await f.sql('DELETE FROM audit_anchor');
      assert.equal((await svc.verify()).problem?.kind, 'missing', 'without its anchor the chain starts after a gap');
    }));

  test(`${name}: a signed checkpoint proves the log still holds everything up to it`, () =>
    withLog(async (f, svc) => {
      for (let i = 0; i < 10; i++) await svc.xks(strip(xksRecord()));
      const cp = await svc.checkpoint();
      assert.deepEqual(cp.chains.map((c) => [c.chain, c.seq]), [['main', 11]]);
      assert.equal(cp.publicKey, svc.publicKey());
      for (let i = 0; i < 3; i++) await svc.xks(strip(xksRecord()));
      const v = await svc.verify({ checkpoint: cp });
      assert.equal(v.ok, true, v.problem?.detail);
      assert.equal(v.checkpoint?.time, cp.time);
      const forged = await svc.verify({ checkpoint: { ...cp, chains: [{ chain: 'main', seq: 12, mac: cp.chains[0]!.mac }] } });
      assert.equal(forged.problem?.kind, 'checkpoint');
      assert.match(forged.problem!.detail, /signature/);
      await f.sql('DELETE FROM audit_log WHERE seq > 8');
      const cut = await svc.verify({ checkpoint: cp });
      assert.equal(cut.ok, false);
    }));
}

