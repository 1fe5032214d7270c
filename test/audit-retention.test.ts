import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './support/keyhold-harness.js';
import { DAY, startAdminHarness, type AdminHarness } from './support/admin-harness.js';
import { xksClient } from './support/xks-client.js';

/**
 * The log's growth, watched and bounded by the server itself: a disk below the watermark
 * turns health DEGRADED and raises keyhold_audit_disk_low; the scheduler archives records
 * past retention_days into signed segments, and what is left still verifies.
 */
let h: AdminHarness | undefined;
after(async () => h?.dispose());

test('below the disk watermark health is DEGRADED and the metric says so; the scheduler archives old records', async () => {
  // A watermark no disk can meet (95 TB free), so the test does not depend on this machine's disk.
  h = await startAdminHarness({ toml: '[audit]\ndisk_min_free_mb = 100000000\nretention_days = 1\n' });
  const health = await h.running.health.check();
  assert.deepEqual(
    health.ekmFleetDetails.map((e) => e.healthStatus),
    health.ekmFleetDetails.map(() => 'DEGRADED'),
    'every backend is reported DEGRADED while the disk is low',
  );
  const demo = h.init.demo!;
  const c = xksClient({ url: `https://localhost:${h.running.xksAddress.port}`, caPem: h.caPem, uriPath: demo.uriPath, credential: demo.credential });
  try {
    const r = await c.health();
    assert.equal(r.status, 200);
    assert.equal((r.body as { ekmFleetDetails: { healthStatus: string }[] }).ekmFleetDetails[0]!.healthStatus, 'DEGRADED', 'KMS sees it in the health check');
    for (let i = 0; i < 5; i++) assert.equal((await c.encrypt(demo.keyId, { plaintext: Buffer.from(`r${i}`) })).status, 200, 'calls are still served');
  } finally {
    c.close();
  }
  const auditor = await h.provision('auditor');
  const m = await h.api.call('GET', '/metrics', { token: auditor.token });
  assert.equal(m.status, 200);
  assert.match(m.text, /^keyhold_audit_disk_low 1$/m);
  const free = Number(/^keyhold_audit_disk_free_bytes (\d+)/m.exec(m.text)?.[1]);
  assert.ok(free > 0, 'free bytes are reported');
  assert.match(h.logs(), /"event":"audit_disk_low"/);

  // Two days later the scheduler archives everything older than a day (the records so far).
  const before = await h.running.audit.service.verify();
  assert.equal(before.ok, true);
  h.clock.advance(2 * DAY);
  await h.running.scheduler.runOnce();
  const dir = join(h.dataDir, 'audit-archive');
  const files = readdirSync(dir);
  assert.equal(files.length, 1, `one segment file (${files.join(', ')})`);
  const seg = h.running.audit.service.verifySegment(readFileSync(join(dir, files[0]!), 'utf8'));
  assert.equal(seg.ok, true, seg.detail);
  assert.ok(seg.count >= before.count - 1, `the old records are in the segment (${seg.count} of ${before.count})`);
  const rest = await h.running.audit.service.verify();
  assert.equal(rest.ok, true, rest.problem?.detail);
  assert.equal(rest.chains[0]!.archived, seg.chains[0]!.to);
  const cli = await runCli(['--data-dir', h.dataDir, 'audit', 'verify', '--segment', join(dir, files[0]!)]);
  assert.equal(cli.code, 0, cli.stdout + cli.stderr);

  // Offline: a copy of the segment in a directory with no Keyhold data at all.
  const away = mkdtempSync(join(tmpdir(), 'keyhold-segment-'));
  try {
    const env = { KEYHOLD_DATA_DIR: join(away, 'no-data-here') };
    const segment = join(away, 'segment.jsonl');
    copyFileSync(join(dir, files[0]!), segment);
    const embedded = await runCli(['audit', 'verify', '--segment', segment], { cwd: away, env });
    assert.equal(embedded.code, 0, embedded.stdout + embedded.stderr);
    const publicKey = h.running.audit.service.publicKey();
    assert.match(embedded.stdout, new RegExp(`Audit segment OK: ${seg.count} record\\(s\\) verified.*signed by ${publicKey}, the key the file names`));
    // Pinned to the log's key, from a checkpoint file or the bare key.
    writeFileSync(join(away, 'checkpoint.json'), JSON.stringify(await h.running.audit.service.checkpoint()));
    writeFileSync(join(away, 'key.hex'), publicKey + '\n');
    for (const pin of ['checkpoint.json', 'key.hex']) {
      const pinned = await runCli(['audit', 'verify', '--segment', segment, '--public-key', join(away, pin), '--json'], { cwd: away, env });
      assert.equal(pinned.code, 0, pinned.stdout + pinned.stderr);
      const report = JSON.parse(pinned.stdout) as { ok: boolean; pinned: boolean; publicKey: string; count: number };
      assert.deepEqual([report.ok, report.pinned, report.publicKey, report.count], [true, true, publicKey, seg.count], pin);
    }
    // Another signer is refused when a key is pinned.
    writeFileSync(join(away, 'other.hex'), 'ab'.repeat(32));
    const wrong = await runCli(['audit', 'verify', '--segment', segment, '--public-key', join(away, 'other.hex')], { cwd: away, env });
    assert.equal(wrong.code, 5, wrong.stdout + wrong.stderr);
    assert.match(wrong.stdout, /does not verify with the pinned key/);
    // An edited record is caught by the signed hash.
    const lines = readFileSync(segment, 'utf8').split('\n');
    lines[1] = lines[1]!.replace(/"seq":(\d+)/, (_m, n: string) => `"seq":${Number(n)}, "x":1`);
    writeFileSync(join(away, 'edited.jsonl'), lines.join('\n'));
    const edited = await runCli(['audit', 'verify', '--segment', join(away, 'edited.jsonl')], { cwd: away, env });
    assert.equal(edited.code, 5, edited.stdout + edited.stderr);
    assert.match(edited.stdout, /the records do not match the signed hash/);
    assert.deepEqual(readdirSync(away).sort(), ['checkpoint.json', 'edited.jsonl', 'key.hex', 'other.hex', 'segment.jsonl'], 'nothing was created');
  } finally {
    rmSync(away, { recursive: true, force: true });
  }
  const recorded = [];
  for await (const r of h.running.audit.service.export({})) if (r.kind === 'admin' && r.action === 'audit.archive') recorded.push(r);
  assert.equal(recorded.length, 1, 'the archive is itself recorded');
  assert.equal(recorded[0]!.actor, 'system');
});

test('size-based retention: over retention_max_records the scheduler archives the oldest records down to 90 % of it', async () => {
  const s = await startAdminHarness({ toml: '[audit]\nretention_max_records = 20\n' });
  try {
    const demo = s.init.demo!;
    const c = xksClient({ url: `https://localhost:${s.running.xksAddress.port}`, caPem: s.caPem, uriPath: demo.uriPath, credential: demo.credential });
    try {
      // One second apart: the cutoff is a record time, and this clock only moves when told.
      for (let i = 0; i < 30; i++) {
        s.clock.advance(1000);
        assert.equal((await c.encrypt(demo.keyId, { plaintext: Buffer.from(`r${i}`) })).status, 200);
      }
    } finally {
      c.close();
    }
    const before = await s.running.audit.service.verify();
    assert.ok(before.ok && before.count > 30, `over the limit: ${before.count}`);
    await s.running.scheduler.runOnce();
    const files = readdirSync(join(s.dataDir, 'audit-archive'));
    assert.equal(files.length, 1, `one segment file (${files.join(', ')})`);
    const seg = s.running.audit.service.verifySegment(readFileSync(join(s.dataDir, 'audit-archive', files[0]!), 'utf8'));
    assert.equal(seg.ok, true, seg.detail);
    const rest = await s.running.audit.service.verify();
    assert.equal(rest.ok, true, rest.problem?.detail);
    const live = rest.chains.reduce((n, ch) => n + (ch.seq - ch.archived), 0);
    assert.ok(live <= 20 && live >= 10, `about 90 % of the limit stays (${live} live, ${seg.count} archived)`);
    // Every record is either archived or still in the log, plus the archive's own record.
    assert.equal(seg.count + live, before.chains.reduce((n, ch) => n + ch.seq, 0) + 1);
    // Under the limit now: the next run archives nothing.
    await s.running.scheduler.runOnce();
    assert.equal(readdirSync(join(s.dataDir, 'audit-archive')).length, 1);
    const recorded = [];
    for await (const r of s.running.audit.service.export({})) if (r.kind === 'admin' && r.action === 'audit.archive') recorded.push(r);
    assert.equal(recorded.length, 1);
    assert.equal((recorded[0]!.change as { policy?: string }).policy, 'size');
  } finally {
    await s.dispose();
  }
});
