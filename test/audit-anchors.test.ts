import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { runCli, startKeyhold, type CliResult, type KeyholdHarness } from './support/keyhold-harness.js';
import { demoXksClient } from './support/xks-client.js';

/**
 * What the hash chain alone cannot show: a log wiped or rolled back as a whole, a usage
 * aggregate edited beside it, a filter column that hides a record, and a log that grows
 * without bound. Each test works on its own copy of one data directory, as someone with
 * write access to the database file would.
 */
let h: KeyholdHarness;
let copies: string;
const CALLS = 20;

before(async () => {
  h = await startKeyhold();
  const c = demoXksClient(h);
  for (let i = 0; i < CALLS; i++) assert.equal((await c.encrypt('demo-key', { plaintext: Buffer.from(`a${i}`), md: { kmsRequestId: `w-${i}` } })).status, 200);
  c.close();
  await h.stop();
  copies = mkdtempSync(join(tmpdir(), 'keyhold-anchors-'));
});

after(async () => {
  await h?.dispose();
  if (copies) rmSync(copies, { recursive: true, force: true });
});

let n = 0;
function copy(tamper?: (db: BetterSqlite3.Database) => void): string {
  const dir = join(copies, `copy-${++n}`);
  cpSync(h.dataDir, dir, { recursive: true });
  if (tamper) {
    const db = new BetterSqlite3(join(dir, 'keyhold.db'));
    db.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
    db.transaction(() => tamper(db))();
    db.close();
  }
  return dir;
}

const cli = (dir: string, args: string[]) => runCli(['--data-dir', dir, ...args]);

async function verify(dir: string, extra: string[] = []): Promise<{ r: CliResult; report: { ok: boolean; count: number; problem?: { chain: string; seq: number; kind: string; detail: string } } }> {
  const r = await cli(dir, ['--json', 'audit', 'verify', ...extra]);
  return { r, report: JSON.parse(r.stdout) as never };
}

const rows = (dir: string) => {
  const db = new BetterSqlite3(join(dir, 'keyhold.db'), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n;
  } finally {
    db.close();
  }
};

/** A child process that must exit by itself (a server that refuses to start). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not exit within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

test('a wiped log fails verify, and neither the CLI nor the server starts a second genesis', async () => {
  const dir = copy((db) => db.exec('DELETE FROM audit_log; DELETE FROM audit_head;'));
  const { r, report } = await verify(dir);
  assert.equal(r.code, 5, 'exit code 5, as for a bad record');
  assert.equal(report.ok, false);
  assert.deepEqual({ chain: report.problem?.chain, kind: report.problem?.kind }, { chain: 'main', kind: 'wiped' });
  const human = await cli(dir, ['audit', 'verify']);
  assert.equal(human.code, 5);
  assert.match(human.stdout, /Audit log FAILED at record 1 \(wiped\): .*tampering suspected/);

  const change = await cli(dir, ['key', 'create', 'after-wipe', '--keystore', 'demo']);
  assert.notEqual(change.code, 0);
  assert.match(change.stderr, /audit chain 'main' has no records and no head .*tampering suspected/);
  const start = await within(cli(dir, ['start', '--xks-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0']), 60_000, 'keyhold start');
  assert.notEqual(start.code, 0, 'the server refuses to start');
  assert.match(start.stderr, /tampering suspected/);
  assert.equal(rows(dir), 0, 'nothing was written over the wiped log');
  assert.equal((await verify(dir)).r.code, 5, 'and it still fails');
});

test('a deleted head, or a log emptied but for its head, fails verify', async () => {
  const headless = await verify(copy((db) => db.exec('DELETE FROM audit_head')));
  assert.equal(headless.r.code, 5);
  assert.equal(headless.report.problem?.kind, 'head');
  const emptied = await verify(copy((db) => db.exec('DELETE FROM audit_log')));
  assert.equal(emptied.r.code, 5);
  assert.equal(emptied.report.problem?.kind, 'missing');
});

test('a log restarted from seq 1 (its key and records replaced) is caught by a checkpoint kept elsewhere', async () => {
  const dir = copy();
  const cpFile = join(copies, `cp-${n}.json`);
  const cp = await cli(dir, ['audit', 'checkpoint', '--output', cpFile]);
  assert.equal(cp.code, 0, cp.stderr);
  // Everything audit is deleted, the key too: the next CLI run makes a new key and a new chain.
  const db = new BetterSqlite3(join(dir, 'keyhold.db'));
  db.exec("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log; DELETE FROM audit_head; DELETE FROM audit_key_usage; DELETE FROM meta WHERE name = 'audit.key'");
  db.close();
  assert.equal((await cli(dir, ['key', 'create', 'restarted', '--keystore', 'demo'])).code, 0);
  assert.equal((await verify(dir)).r.code, 0, 'on its own the new chain verifies');
  const { r, report } = await verify(dir, ['--checkpoint', cpFile]);
  assert.equal(r.code, 5);
  assert.equal(report.problem?.kind, 'checkpoint');
  assert.match(report.problem!.detail, /signature does not verify with this log's key/);
});

test('verify --checkpoint proves the log still holds everything up to it (a restored backup does not)', async () => {
  const backup = copy();
  const dir = copy();
  assert.equal((await cli(dir, ['key', 'create', 'later', '--keystore', 'demo'])).code, 0);
  const cpFile = join(copies, `cp-${n}.json`);
  assert.equal((await cli(dir, ['audit', 'checkpoint', '--output', cpFile])).code, 0);
  const doc = JSON.parse(readFileSync(cpFile, 'utf8')) as { type: string; chains: { chain: string; seq: number; mac: string }[]; publicKey: string; signature: string };
  assert.equal(doc.type, 'keyhold-audit-checkpoint');
  assert.equal(doc.chains[0]!.chain, 'main');
  assert.match(doc.publicKey, /^[0-9a-f]{64}$/);
  assert.equal((await cli(dir, ['key', 'create', 'even-later', '--keystore', 'demo'])).code, 0);
  const ok = await cli(dir, ['audit', 'verify', '--checkpoint', cpFile]);
  assert.equal(ok.code, 0, ok.stdout);
  assert.match(ok.stdout, /Everything up to the checkpoint of .* is still in the log/);
  // The backup was taken before the checkpoint's last record: it goes on from there and on
  // its own it verifies...
  assert.equal((await cli(backup, ['key', 'create', 'other', '--keystore', 'demo'])).code, 0);
  assert.equal((await verify(backup)).r.code, 0);
  // ...but it is not the log the checkpoint saw.
  const { r, report } = await verify(backup, ['--checkpoint', cpFile]);
  assert.equal(r.code, 5);
  assert.equal(report.problem?.kind, 'checkpoint');
  const edited = join(copies, `cp-edited-${n}.json`);
  writeFileSync(edited, JSON.stringify({ ...doc, chains: [{ ...doc.chains[0]!, seq: doc.chains[0]!.seq - 1 }] }));
  assert.match((await verify(dir, ['--checkpoint', edited])).report.problem!.detail, /signature/);
});

test('edited, replayed or deleted usage rows fail `key usage` and verify; rebuild-usage derives them from the records', async () => {
  const edited = copy((db) => db.exec("UPDATE audit_key_usage SET count = count + 100 WHERE key_id = 'demo-key'"));
  const usage = await cli(edited, ['key', 'usage', 'demo-key']);
  assert.equal(usage.code, 5);
  assert.match(usage.stderr, /usage row for key 'demo-key'.* fails verification .*tampering suspected/);
  assert.equal((await verify(edited)).report.problem?.kind, 'usage');

  const deleted = copy((db) => db.exec("DELETE FROM audit_key_usage WHERE key_id = 'demo-key'"));
  const { r, report } = await verify(deleted);
  assert.equal(r.code, 5);
  assert.equal(report.problem?.kind, 'usage');
  assert.match(report.problem!.detail, /was deleted/);
  const rebuilt = await cli(deleted, ['audit', 'rebuild-usage']);
  assert.equal(rebuilt.code, 0, rebuilt.stderr);
  assert.equal((await verify(deleted)).r.code, 0);
  const view = JSON.parse((await cli(deleted, ['--json', 'key', 'usage', 'demo-key'])).stdout) as { calls: number };
  assert.equal(view.calls, CALLS);
});

test('export --key reports a record whose key id was edited instead of silently leaving it out', async () => {
  const dir = copy((db) => {
    const target = db.prepare(`SELECT seq FROM audit_log WHERE body LIKE '%"kmsRequestId":"w-5"%'`).get() as { seq: number };
    db.prepare(`UPDATE audit_log SET body = replace(body, '"keyId":"demo-key"', '"keyId":"hidden"') WHERE seq = ?`).run(target.seq);
  });
  const r = await cli(dir, ['audit', 'export', '--key', 'demo-key']);
  assert.equal(r.code, 5);
  assert.match(r.stderr, /the export reached record \d+ of chain 'main', which fails verification \(altered/);
  const ids = r.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { kmsRequestId?: string }).kmsRequestId);
  assert.deepEqual(ids.filter(Boolean), ['w-0', 'w-1', 'w-2', 'w-3', 'w-4'], 'records before it, each verified');
});

test('archive without --to writes into [audit] archive_dir; segments lists it, download-segment copies it, both verify; a future or empty cutoff is refused', async () => {
  const dir = copy();
  const now = new Date().toISOString();
  const future = await cli(dir, ['audit', 'archive', '--before', new Date(Date.now() + 86_400_000).toISOString()]);
  assert.notEqual(future.code, 0);
  assert.match(future.stderr, /in the future/);
  const a = await cli(dir, ['--json', 'audit', 'archive', '--before', now]);
  assert.equal(a.code, 0, a.stderr);
  const r = JSON.parse(a.stdout) as { file: string; removed: number };
  assert.ok(r.removed > 0);
  const inDir = join(dir, 'audit-archive', r.file);
  assert.equal(statSync(inDir).mode & 0o777, 0o600);
  const empty = await cli(dir, ['audit', 'archive', '--before', now]);
  assert.notEqual(empty.code, 0);
  assert.match(empty.stderr, /nothing was archived/);
  const list = JSON.parse((await cli(dir, ['--json', 'audit', 'segments'])).stdout) as { name: string; records: number }[];
  assert.deepEqual(list.map((x) => [x.name, x.records]), [[r.file, r.removed]]);
  const out = join(copies, `downloaded-${n}.jsonl`);
  const d = await cli(dir, ['audit', 'download-segment', r.file, '--to', out]);
  assert.equal(d.code, 0, d.stderr);
  assert.ok(readFileSync(out).equals(readFileSync(inDir)));
  const sv = await cli(dir, ['audit', 'verify', '--segment', out]);
  assert.equal(sv.code, 0, sv.stdout);
  assert.match(sv.stdout, new RegExp(`Audit segment OK: ${r.removed} record\\(s\\) verified`));
  assert.equal((await verify(dir)).r.code, 0, 'the rest verifies');
  const outside = await cli(dir, ['audit', 'download-segment', '../keyhold.toml', '--to', join(copies, `nope-${n}`)]);
  assert.notEqual(outside.code, 0);
  assert.match(outside.stderr, /not a segment name/);
});

test('archive writes a signed segment that verifies on its own, removes it, and the rest still verifies', async () => {
  const dir = copy();
  const before = (await verify(dir)).report.count;
  const seg = join(copies, `segment-${n}.jsonl`);
  const future = new Date(Date.now() + 86_400_000).toISOString();
  const a = await cli(dir, ['--json', 'audit', 'archive', '--before', future, '--to', seg]);
  assert.equal(a.code, 0, a.stderr);
  const summary = JSON.parse(a.stdout) as { removed: number; chains: { chain: string; from: number; to: number }[] };
  assert.equal(summary.removed, before - 1, 'everything but the last record of the chain');
  assert.equal(statSync(seg).mode & 0o777, 0o600);
  const after = await verify(dir);
  assert.equal(after.r.code, 0, after.r.stdout);
  assert.equal(after.report.count, 2, 'the record kept, and the archive itself');
  const sv = await cli(dir, ['audit', 'verify', '--segment', seg]);
  assert.equal(sv.code, 0, sv.stdout);
  assert.match(sv.stdout, new RegExp(`Audit segment OK: ${before - 1} record\\(s\\) verified \\(main 1-${before - 1}\\)`));
  const view = JSON.parse((await cli(dir, ['--json', 'key', 'usage', 'demo-key'])).stdout) as { calls: number };
  assert.equal(view.calls, CALLS, 'usage keeps what was archived');
  // An edited segment fails; an existing file is never overwritten.
  const edited = join(copies, `segment-edited-${n}.jsonl`);
  writeFileSync(edited, readFileSync(seg, 'utf8').replace('"w-3', '"w-X'));
  const bad = await cli(dir, ['audit', 'verify', '--segment', edited]);
  assert.equal(bad.code, 5);
  assert.match(bad.stdout, /Audit segment FAILED: the records do not match the signed hash/);
  const again = await cli(dir, ['audit', 'archive', '--before', future, '--to', seg]);
  assert.notEqual(again.code, 0);
  assert.ok(existsSync(seg));
  // Records before the anchor may go; anything after it stays append-only.
  const db = new BetterSqlite3(join(dir, 'keyhold.db'));
  try {
    assert.throws(() => db.exec('DELETE FROM audit_log'), /append-only/);
  } finally {
    db.close();
  }
});
