import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { AuditLogRow } from '../src/storage/audit-batch.js';
import { runCli, startKeyhold, type KeyholdHarness } from './support/keyhold-harness.js';
import { demoXksClient } from './support/xks-client.js';

/**
 * Someone with write access to the database file edits, deletes, inserts and reorders audit
 * rows (dropping the append-only triggers first, as they would); `audit verify` must name
 * the first bad record and exit non-zero.
 */
let h: KeyholdHarness;
let copies: string;
let total = 0;

before(async () => {
  h = await startKeyhold();
  const c = demoXksClient(h);
  for (let i = 0; i < 30; i++) {
    const r = await c.encrypt('demo-key', { plaintext: Buffer.from(`p${i}`), md: { kmsRequestId: `t-${i}` } });
    assert.equal(r.status, 200);
  }
  c.close();
  await h.json(['key', 'create', 'tamper-key', '--keystore', 'demo']);
  await h.stop();
  copies = mkdtempSync(join(tmpdir(), 'keyhold-tamper-'));
  const v = await h.json<{ ok: boolean; count: number }>(['audit', 'verify']);
  assert.equal(v.ok, true);
  total = v.count;
  assert.ok(total >= 34, `the fixture holds ${total} records`);
});

after(async () => {
  await h?.dispose();
  if (copies) rmSync(copies, { recursive: true, force: true });
});

interface Report {
  ok: boolean;
  count: number;
  problem?: { seq: number; kind: string; detail: string };
}

let n = 0;
/** Copies the data directory, tampers with its database, and runs `audit verify` on it. */
async function verifyAfter(tamper: (db: BetterSqlite3.Database) => void): Promise<{ code: number; report: Report; stderr: string }> {
  const dir = join(copies, `copy-${++n}`);
  cpSync(h.dataDir, dir, { recursive: true });
  const db = new BetterSqlite3(join(dir, 'keyhold.db'));
  db.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
  db.transaction(() => tamper(db))();
  db.close();
  const r = await runCli(['--data-dir', dir, '--json', 'audit', 'verify']);
  return { code: r.code, report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
}

type Row = AuditLogRow;

const row = (db: BetterSqlite3.Database, seq: number) => db.prepare('SELECT * FROM audit_log WHERE seq = ?').get(seq) as Row;

function moveRow(db: BetterSqlite3.Database, from: number, to: number): void {
  db.prepare('UPDATE audit_log SET seq = ? WHERE seq = ?').run(to, from);
}

function expectProblem(r: { code: number; report: Report }, seq: number, kind: string): void {
  assert.equal(r.code, 5, 'exit code 5: the log does not verify');
  assert.equal(r.report.ok, false);
  assert.deepEqual({ seq: r.report.problem?.seq, kind: r.report.problem?.kind }, { seq, kind }, r.report.problem?.detail);
  assert.equal(r.report.count, seq - 1, 'everything before the first bad record verified');
}

test('an untouched copy verifies', async () => {
  const r = await verifyAfter(() => undefined);
  assert.equal(r.code, 0);
  assert.deepEqual({ ok: r.report.ok, count: r.report.count }, { ok: true, count: total });
});

test('an edited record is named', async () => {
  const r = await verifyAfter((db) => {
    db.prepare(`UPDATE audit_log SET body = replace(body, '"outcome":"ok"', '"outcome":"error"') WHERE seq = 10`).run();
  });
  expectProblem(r, 10, 'altered');
});

test('an edited MAC is named', async () => {
  const r = await verifyAfter((db) => db.prepare('UPDATE audit_log SET mac = ? WHERE seq = 11').run(randomBytes(32)));
  expectProblem(r, 11, 'altered');
});

test('a deleted record is named', async () => {
  const r = await verifyAfter((db) => db.prepare('DELETE FROM audit_log WHERE seq = 12').run());
  expectProblem(r, 12, 'missing');
});

test('a deletion hidden by renumbering the records after it is named', async () => {
  const r = await verifyAfter((db) => {
    db.prepare('DELETE FROM audit_log WHERE seq = 12').run();
    for (let s = 13; s <= total; s++) moveRow(db, s, s - 1);
    db.prepare('UPDATE audit_head SET seq = seq - 1').run();
  });
  expectProblem(r, 12, 'moved');
  assert.match(r.report.problem!.detail, /written as seq 13/);
});

test('an inserted record is named, even when it links to its predecessor', async () => {
  const r = await verifyAfter((db) => {
    for (let s = total; s >= 8; s--) moveRow(db, s, s + 1);
    const before = row(db, 7);
    const body = JSON.stringify({ action: 'key.delete', actor: 'mallory', kind: 'admin', node: 'n', outcome: 'ok', source: 'cli', target: 'demo-key', time: before.at });
    db.prepare("INSERT INTO audit_log (chain, seq, at, body, prev, mac) VALUES ('main', 8, ?, ?, ?, ?)").run(before.at, body, before.mac, randomBytes(32));
    db.prepare('UPDATE audit_head SET seq = seq + 1').run();
  });
  expectProblem(r, 8, 'inserted');
});

test('two reordered records are named at the first of them', async () => {
  const r = await verifyAfter((db) => {
    moveRow(db, 15, -1);
    moveRow(db, 16, 15);
    moveRow(db, -1, 16);
  });
  expectProblem(r, 15, 'moved');
  assert.match(r.report.problem!.detail, /written as seq 16/);
});

test('records cut off the end of the log are named', async () => {
  const r = await verifyAfter((db) => db.prepare('DELETE FROM audit_log WHERE seq > ?').run(total - 3));
  expectProblem(r, total - 2, 'missing');
});

test('a record appended without the key is named', async () => {
  const r = await verifyAfter((db) => {
    const last = row(db, total);
    db.prepare("INSERT INTO audit_log (chain, seq, at, body, prev, mac) VALUES ('main', ?, ?, ?, ?, ?)").run(total + 1, last.at, '{"kind":"admin"}', last.mac, randomBytes(32));
  });
  expectProblem(r, total + 1, 'inserted');
});

test('a changed time column (moving a record out of time-bounded exports) is named', async () => {
  const r = await verifyAfter((db) => db.prepare("UPDATE audit_log SET at = '2001-01-01T00:00:00.000Z' WHERE seq = 20").run());
  expectProblem(r, 20, 'column');
});

test('the human report names the record and what is wrong with it', async () => {
  const dir = join(copies, 'human');
  cpSync(h.dataDir, dir, { recursive: true });
  const db = new BetterSqlite3(join(dir, 'keyhold.db'));
  db.exec('DROP TRIGGER audit_log_no_delete');
  db.prepare('DELETE FROM audit_log WHERE seq = 5').run();
  db.close();
  const r = await runCli(['--data-dir', dir, 'audit', 'verify']);
  assert.equal(r.code, 5);
  assert.equal(r.stdout, 'Audit log FAILED at record 5 (missing): record 5 is missing (deleted).\n4 record(s) before it verified.\n');
});
