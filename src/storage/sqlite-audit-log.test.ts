import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSecretKey, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { systemClock } from '../base/index.js';
import { createAuditService, type AuditRecord, type Storage, type XksAuditRecord } from '../domain/index.js';
import { openSqliteAuditLog, type SqliteAuditLog } from './sqlite-audit-log.js';
import { openSqliteStorage } from './sqlite.js';

const CHILD = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../test/support/audit-append-child.js');

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'keyhold-audit-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function freshLog(): Promise<{ path: string; storage: Storage; log: SqliteAuditLog; keyBytes: Buffer }> {
  const path = join(dir, `${randomUUID()}.db`);
  const storage = await openSqliteStorage({ path, pollMs: 10 });
  return { path, storage, log: openSqliteAuditLog({ path }), keyBytes: randomBytes(32) };
}

function service(log: SqliteAuditLog, keyBytes: Buffer) {
  const key = createSecretKey(keyBytes);
  return createAuditService({ sink: log.openSink({ key, mode: 'inline' }), reader: log.reader, key, node: 'test', clock: systemClock });
}

function xks(over: Partial<XksAuditRecord> = {}): XksAuditRecord {
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

function runChild(args: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const c = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolvePromise(out) : reject(new Error(`child exited ${code}: ${err}`))));
  });
}

test('concurrent appends share transactions, each caller gets its own seq, and the chain verifies', async () => {
  const { storage, log, keyBytes } = await freshLog();
  const key = createSecretKey(keyBytes);
  const sink = log.openSink({ key, mode: 'thread', maxBatch: 500 });
  const svc = createAuditService({ sink, reader: log.reader, key, node: 'test', clock: systemClock });
  const n = 2000;
  const entries = await Promise.all(Array.from({ length: n }, (_, i) => svc.xks(strip(xks({ kmsRequestId: `r-${i}` })))));
  const seqs = entries.map((e) => e.seq).sort((a, b) => a - b);
  assert.deepEqual(seqs, Array.from({ length: n }, (_, i) => i + 1), 'every record got exactly one seq, no gaps');
  const s = sink.stats();
  assert.equal(s.items, n);
  assert.ok(s.batches < n / 10, `group commit batched ${n} records into ${s.batches} transactions`);
  assert.ok(s.largestBatch <= 500, 'no transaction exceeds max_batch');
  // Each caller's entry links to the one before it.
  const bySeq = new Map(entries.map((e) => [e.seq, e]));
  for (let i = 2; i <= n; i++) assert.equal(bySeq.get(i)!.prev, bySeq.get(i - 1)!.mac);
  assert.deepEqual(await svc.verify(), { ok: true, count: n });
  await svc.close();
  await log.close();
  await storage.close();
});

test('a writer thread, an inline writer and two other processes append to one log without breaking it', async () => {
  const { path, storage, log, keyBytes } = await freshLog();
  const key = createSecretKey(keyBytes);
  const threaded = log.openSink({ key, mode: 'thread' });
  const second = openSqliteAuditLog({ path });
  const inline = second.openSink({ key, mode: 'inline' });
  const per = 300;
  const local = async (sink: typeof threaded, tag: string) => {
    const all: Promise<unknown>[] = [];
    for (let i = 0; i < per; i++) {
      all.push(sink.append([{ kind: 'admin', time: new Date().toISOString(), node: tag, actor: tag, source: 'test', action: 'test.append', target: `${tag}-${i}`, outcome: 'ok' }]));
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(all);
  };
  const outputs = await Promise.all([
    runChild([path, keyBytes.toString('hex'), 'p1', String(per), '7']),
    runChild([path, keyBytes.toString('hex'), 'p2', String(per), '3']),
    local(threaded, 't'),
    local(inline, 'i'),
  ]);
  assert.equal(outputs[0], `done ${per}\n`);
  await threaded.close();
  await inline.close();
  const svc = createAuditService({ sink: log.openSink({ key, mode: 'inline' }), reader: log.reader, key, node: 'test', clock: systemClock });
  assert.deepEqual(await svc.verify(), { ok: true, count: 4 * per });
  const targets = new Set<string>();
  for await (const r of svc.export()) if (r.kind === 'admin') targets.add(r.target);
  for (const tag of ['p1', 'p2', 't', 'i']) for (let i = 0; i < per; i++) assert.ok(targets.has(`${tag}-${i}`), `${tag}-${i} recorded`);
  await second.close();
  await svc.close();
  await log.close();
  await storage.close();
});

test('the usage view counts authenticated calls per KMS key, principal, operation and outcome', async () => {
  const { storage, log, keyBytes } = await freshLog();
  const svc = service(log, keyBytes);
  const arnA = 'arn:aws:kms:us-east-1:111122223333:key/a';
  const arnB = 'arn:aws:kms:eu-west-1:111122223333:key/b';
  await Promise.all([
    ...Array.from({ length: 5 }, () => svc.xks(strip(xks({ time: '2025-01-01T00:00:01.000Z' })))),
    ...Array.from({ length: 3 }, () => svc.xks(strip(xks({ time: '2025-01-02T00:00:00.000Z', operation: 'decrypt', kmsOperation: 'Decrypt', kmsKeyArn: arnB, awsPrincipalArn: 'arn:aws:iam::444455556666:role/Other' })))),
    svc.xks(strip(xks({ time: '2025-01-03T00:00:00.000Z', operation: 'decrypt', kmsOperation: 'Decrypt', outcome: 'error', status: 400, errorName: 'InvalidCiphertextException' }))),
    // Unauthenticated: the key id is whatever the sender wrote; it must not count.
    svc.xks(strip(xks({ time: '2025-01-04T00:00:00.000Z', authenticated: false, outcome: 'error', status: 401, errorName: 'AuthenticationFailedException' }))),
    svc.xks(strip(xks({ keyId: 'other' }))),
    svc.xks(strip(xks({ operation: 'health', keyId: undefined }))),
  ]);
  const v = await svc.usage('k1');
  assert.equal(v.calls, 9);
  assert.equal(v.keyStore, 'ks');
  assert.equal(v.firstUsedAt, '2025-01-01T00:00:01.000Z');
  assert.equal(v.lastUsedAt, '2025-01-03T00:00:00.000Z');
  assert.deepEqual(
    v.kmsKeyArns.map((a) => [a.kmsKeyArn, a.calls]),
    [
      [arnA, 6],
      [arnB, 3],
    ],
  );
  assert.deepEqual(
    v.principals.map((p) => [p.principal, p.calls]),
    [
      ['arn:aws:iam::111122223333:role/App', 6],
      ['arn:aws:iam::444455556666:role/Other', 3],
    ],
  );
  assert.deepEqual(
    v.operations.map((o) => [o.operation, o.kmsOperation, o.outcome, o.calls]),
    [
      ['encrypt', 'Encrypt', 'ok', 5],
      ['decrypt', 'Decrypt', 'ok', 3],
      ['decrypt', 'Decrypt', 'InvalidCiphertextException', 1],
    ],
  );
  assert.equal((await svc.usage('never-used')).calls, 0);
  await svc.close();
  await log.close();
  await storage.close();
});

test('export filters by time, key and key store and keeps seq order', async () => {
  const { storage, log, keyBytes } = await freshLog();
  const svc = service(log, keyBytes);
  const times = ['2025-03-01T10:00:00.000Z', '2025-03-01T10:00:02.000Z', '2025-03-01T10:00:01.000Z', '2025-03-01T10:00:03.000Z', '2025-03-02T00:00:00.000Z'];
  for (const [i, time] of times.entries()) await svc.xks(strip(xks({ time, keyId: i % 2 ? 'odd' : 'even', keyStore: i < 3 ? 'ks1' : 'ks2', kmsRequestId: `r${i}` })));
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
  await svc.close();
  await log.close();
  await storage.close();
});

test('a failed commit rejects the callers of that batch, and the chain continues intact', async () => {
  const { storage, log, keyBytes } = await freshLog();
  const key = createSecretKey(keyBytes);
  const sink = log.openSink({ key, mode: 'thread' });
  await sink.append([xks()]);
  const good = sink.append([xks()]);
  const bad = sink.append([{ ...xks(), latencyMs: Number.NaN } as AuditRecord]);
  await assert.rejects(bad, /non-finite/);
  await assert.rejects(good, /non-finite/, 'same transaction, same fate');
  const [next] = await sink.append([xks()]);
  assert.equal(next!.seq, 2);
  await sink.close();
  const svc = service(log, keyBytes);
  assert.deepEqual(await svc.verify(), { ok: true, count: 2 });
  await svc.close();
  await log.close();
  await storage.close();
});

test('the application cannot update or delete audit rows', async () => {
  const { path, storage, log, keyBytes } = await freshLog();
  const svc = service(log, keyBytes);
  await svc.xks(strip(xks()));
  const db = new BetterSqlite3(path);
  assert.throws(() => db.prepare("UPDATE audit_log SET body = '{}'").run(), /append-only/);
  assert.throws(() => db.prepare('DELETE FROM audit_log').run(), /append-only/);
  db.close();
  await svc.close();
  await log.close();
  await storage.close();
});

test('audit appends from other connections do not make the storage reload; key changes do', async () => {
  const { path, storage, log, keyBytes } = await freshLog();
  let events = 0;
  const unsubscribe = storage.changes.subscribe(() => events++);
  const svc = service(log, keyBytes);
  for (let i = 0; i < 20; i++) await svc.xks(strip(xks()));
  await new Promise((r) => setTimeout(r, 100)); // 10 poll intervals
  assert.equal(events, 0, 'audit commits are not data changes');
  const other = await openSqliteStorage({ path });
  const now = new Date().toISOString();
  await other.insertKeyStore({ id: randomUUID(), name: 'x', prefix: '/x', regions: [], enabled: true, policy: null, createdAt: now, updatedAt: now }, null);
  for (let i = 0; i < 200 && events === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(events >= 1, 'a key store created by another process is seen');
  unsubscribe();
  await other.close();
  await svc.close();
  await log.close();
  await storage.close();
});

function strip(r: XksAuditRecord) {
  const { kind: _k, node: _n, ...rest } = r;
  return rest;
}
