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
import { createAuditService, type Storage, type XksAuditRecord } from '../domain/index.js';
import { openSqliteAuditLog, type SqliteAuditLog } from './sqlite-audit-log.js';
import { openSqliteStorage } from './sqlite.js';
import { genesisRecord, xksRecord } from '../../test/audit-store-conformance.js';

const CHILD = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../test/support/audit-append-child.js');

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'keyhold-audit-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function freshLog(): Promise<{ path: string; storage: Storage; log: SqliteAuditLog; keyBytes: Buffer }> {
  const path = join(dir, `${randomUUID()}.db`);
  const storage = await openSqliteStorage({ path, pollMs: 10 });
  const log = openSqliteAuditLog({ path });
  const keyBytes = randomBytes(32);
  // The key and the root chain's first record, as loadAuditKey writes them.
  // (The key's row is a data change, once: wait until the storage has seen it.)
  const seen = new Promise<void>((resolveSeen) => {
    // A timer that keeps the event loop alive meanwhile (the storage's poll timer does not).
    const fallback = setTimeout(resolveSeen, 5000);
    const unsubscribe = storage.changes.subscribe(() => {
      clearTimeout(fallback);
      unsubscribe();
      resolveSeen();
    });
  });
  await log.keys.initSealedAuditKey(Buffer.from('sealed-key-stand-in'), { key: createSecretKey(keyBytes), genesis: genesisRecord() });
  await seen;
  return { path, storage, log, keyBytes };
}

function service(log: SqliteAuditLog, keyBytes: Buffer) {
  const key = createSecretKey(keyBytes);
  return createAuditService({ sink: log.openSink({ key, mode: 'inline' }), reader: log.reader, key, node: 'test', clock: systemClock });
}

const xks = xksRecord;

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
  const v = await svc.verify();
  assert.deepEqual({ ok: v.ok, count: v.count }, { ok: true, count: 4 * per + 1 });
  const targets = new Set<string>();
  for await (const r of svc.export()) if (r.kind === 'admin') targets.add(r.target);
  for (const tag of ['p1', 'p2', 't', 'i']) for (let i = 0; i < per; i++) assert.ok(targets.has(`${tag}-${i}`), `${tag}-${i} recorded`);
  await second.close();
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
