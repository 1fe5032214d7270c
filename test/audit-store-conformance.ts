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

function strip(r: XksAuditRecord) {
  const { kind: _k, node: _n, ...rest } = r;
  return rest;
}

export function auditStoreConformance(name: string, create: () => Promise<AuditStoreFixture>): void {
  async function withLog(fn: (f: AuditStoreFixture, svc: ReturnType<typeof service>, key: KeyObject) => Promise<void>) {
    const f = await create();
    const key = createSecretKey(randomBytes(32));
    const stores: AuditStore[] = [];
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
    return createAuditService({ sink: store.openSink({ key, mode: f.sinkMode, maxBatch }), reader: store.reader, key, node: 'test', clock: systemClock });
  }

  test(`${name}: concurrent appends share transactions, each caller gets its own seq, and the chain verifies`, () =>
    withLog(async (f, _svc, key) => {
      const store = f.openStore();
      const sink = store.openSink({ key, mode: f.sinkMode, maxBatch: 500 });
      const svc = createAuditService({ sink, reader: store.reader, key, node: 'test', clock: systemClock });
      const n = 1500;
      const entries = await Promise.all(Array.from({ length: n }, (_, i) => svc.xks(strip(xksRecord({ kmsRequestId: `r-${i}` })))));
      assert.deepEqual(
        entries.map((e) => e.seq).sort((a, b) => a - b),
        Array.from({ length: n }, (_, i) => i + 1),
        'every record got exactly one seq, no gaps',
      );
      const s = sink.stats();
      assert.equal(s.items, n);
      assert.ok(s.batches < n / 10, `group commit batched ${n} records into ${s.batches} transactions`);
      assert.ok(s.largestBatch <= 500, 'no transaction exceeds max_batch');
      const bySeq = new Map(entries.map((e) => [e.seq, e]));
      for (let i = 2; i <= n; i++) assert.equal(bySeq.get(i)!.prev, bySeq.get(i - 1)!.mac);
      assert.deepEqual(await svc.verify(), { ok: true, count: n });
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
      assert.deepEqual(await svc.verify(), { ok: true, count: 2 * per });
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
        for await (const r of svc.export(q)) out.push(r.kind === 'xks' ? r.kmsRequestId! : '?');
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
      assert.equal(next!.seq, 2);
      await sink.close();
      await store.close();
      assert.deepEqual(await svc.verify(), { ok: true, count: 2 });
    }));

  test(`${name}: verification names an edited row`, () =>
    withLog(async (f, svc) => {
      for (let i = 0; i < 10; i++) await svc.xks(strip(xksRecord({ kmsRequestId: `v${i}` })));
      assert.deepEqual(await svc.verify(), { ok: true, count: 10 });
      await f.sql(`UPDATE audit_log SET body = replace(body, '"status":200', '"status":201') WHERE seq = 6`);
      const r = await svc.verify();
      assert.equal(r.ok, false);
      assert.deepEqual({ seq: r.problem?.seq, kind: r.problem?.kind }, { seq: 6, kind: 'altered' });
    }));
}
