import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openPostgresStorage } from '../src/storage/postgres.js';
import { openPostgresAuditLog } from '../src/storage/postgres-audit-log.js';
import { reap } from './support/reaper.js';
import { auditStoreConformance } from './audit-store-conformance.js';
import { BIN, startKeyhold } from './support/keyhold-harness.js';
import { startPostgres, type ThrowawayPostgres } from './support/postgres.js';
import { demoXksClient } from './support/xks-client.js';

let server: ThrowawayPostgres;
let n = 0;

before(async () => {
  server = await startPostgres();
});

after(async () => {
  await server?.stop();
});

/** The audit store suite on a real PostgreSQL server, a database per test. */
auditStoreConformance('postgres', async () => {
  const url = await server.createDatabase(`audit_${n++}`);
  const storage = await openPostgresStorage({ url, poolSize: 2 });
  return {
    openStore: () => openPostgresAuditLog({ url, poolSize: 3 }),
    async sql(text) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(text);
      } finally {
        await c.end();
      }
    },
    dispose: () => storage.close(),
  };
});

test('a server on PostgreSQL records its XKS calls and CLI actions in one verifiable chain', async () => {
  const url = await server.createDatabase('audit_server');
  const h = await startKeyhold({ env: { KEYHOLD_STORAGE_TYPE: 'postgres', KEYHOLD_STORAGE_URL: url } });
  try {
    const c = demoXksClient(h);
    for (let i = 0; i < 20; i++) assert.equal((await c.encrypt('demo-key', { plaintext: Buffer.from(`pg ${i}`), md: { kmsRequestId: `pg-${i}` } })).status, 200);
    c.close();
    await h.json(['key', 'rotate', 'demo-key']);
    const v = await h.json<{ ok: boolean; count: number }>(['audit', 'verify']);
    assert.equal(v.ok, true);
    assert.ok(v.count >= 24, `init, demo key store and key, 20 calls and a rotation: ${v.count}`);
    const u = await h.json<{ calls: number }>(['key', 'usage', 'demo-key']);
    assert.equal(u.calls, 20);
    const out = await h.cli(['audit', 'export', '--key', 'demo-key']);
    assert.equal(out.code, 0, out.stderr);
    assert.ok(out.stdout.includes('"kmsRequestId":"pg-19"'));
    assert.ok(out.stdout.includes('"action":"keys.rotate"'));
  } finally {
    await h.dispose();
  }
});

test('two nodes on one PostgreSQL database each append to their own chain, and verify covers both', async () => {
  const url = await server.createDatabase('audit_two_nodes');
  const env = { KEYHOLD_STORAGE_TYPE: 'postgres', KEYHOLD_STORAGE_URL: url };
  const a = await startKeyhold({ env: { ...env, KEYHOLD_AUDIT_CHAIN: 'node-a' } });
  // Node b: a copy of the data directory (seal key, certificates), the same database.
  const dirB = mkdtempSync(join(tmpdir(), 'keyhold-node-b-'));
  cpSync(a.dataDir, dirB, { recursive: true });
  const b = reap(
    spawn(process.execPath, [BIN, '--data-dir', dirB, 'start', '--xks-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0'], {
      env: { ...process.env, KEYHOLD_LOG_LEVEL: 'info', KEYHOLD_WORKERS: '1', ...env, KEYHOLD_AUDIT_CHAIN: 'node-b' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let logB = '';
  try {
    const portB = await new Promise<number>((ready, fail) => {
      b.stdout.on('data', (d: Buffer) => {
        logB += d.toString();
        const m = /"event":"started","xks":"[^"]*:(\d+)"/.exec(logB);
        if (m) ready(Number(m[1]));
      });
      b.stderr.on('data', (d: Buffer) => (logB += d.toString()));
      b.once('exit', (code) => fail(new Error(`node b exited with ${code}: ${logB}`)));
    });
    const ca = demoXksClient(a);
    const cb = demoXksClient({ ...a, url: `https://localhost:${portB}` });
    await Promise.all([
      ...Array.from({ length: 15 }, (_, i) => ca.encrypt('demo-key', { plaintext: Buffer.from(`a${i}`), md: { kmsRequestId: `na-${i}` } })),
      ...Array.from({ length: 15 }, (_, i) => cb.encrypt('demo-key', { plaintext: Buffer.from(`b${i}`), md: { kmsRequestId: `nb-${i}` } })),
    ]).then((rs) => {
      // A refused call says why in its node's log (xks_record_failed): show both nodes' lines.
      const why = () => [...a.output().split('\n'), ...logB.split('\n')].filter((l) => l.includes('xks_record_failed')).join('\n');
      rs.forEach((r) => assert.equal(r.status, 200, `${r.text}\n${why()}`));
    });
    ca.close();
    cb.close();
    const v = await a.json<{ ok: boolean; chains: { chain: string; count: number }[] }>(['audit', 'verify']);
    assert.equal(v.ok, true);
    assert.deepEqual(v.chains.map((c) => c.chain), ['main', 'node-a', 'node-b']);
    const u = await a.json<{ calls: number }>(['key', 'usage', 'demo-key']);
    assert.equal(u.calls, 30, 'usage adds up over the nodes');
    const out = await a.cli(['audit', 'export', '--key', 'demo-key']);
    assert.equal(out.code, 0, out.stderr);
    const lines = out.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { chain: string; kmsRequestId?: string });
    assert.ok(lines.filter((l) => l.kmsRequestId?.startsWith('nb-')).every((l) => l.chain === 'node-b'));
    assert.ok(lines.filter((l) => l.kmsRequestId?.startsWith('na-')).every((l) => l.chain === 'node-a'));
    // Node b's chain wiped (rows, head, usage): verify names it.
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query("DELETE FROM audit_log WHERE chain = 'node-b'; DELETE FROM audit_head WHERE chain = 'node-b'; DELETE FROM audit_key_usage WHERE chain = 'node-b'");
    } finally {
      await c.end();
    }
    const bad = await a.cli(['--json', 'audit', 'verify']);
    assert.equal(bad.code, 5);
    const problem = (JSON.parse(bad.stdout) as { problem: { chain: string; kind: string } }).problem;
    assert.deepEqual({ chain: problem.chain, kind: problem.kind }, { chain: 'node-b', kind: 'wiped' });
  } finally {
    b.kill('SIGTERM');
    await once(b, 'exit').catch(() => undefined);
    await a.dispose();
    rmSync(dirB, { recursive: true, force: true });
  }
});
