import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { eventually, runCli } from './support/keyhold-harness.js';
import { startAdminHarness } from './support/admin-harness.js';
import { startPostgres, type ThrowawayPostgres } from './support/postgres.js';
import { startCluster, startTcpProxy, type ClusterNode, type TestCluster } from './support/cluster-nodes.js';
import { xksClient, type XksClient } from './support/xks-client.js';

let pg: ThrowawayPostgres;

before(async () => {
  pg = await startPostgres();
});

after(async () => {
  await pg?.stop();
});

function ping(node: ClusterNode, caPem: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port: node.port, path: '/ping', method: 'GET', ca: caPem, servername: 'localhost', agent: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    r.on('error', reject);
    r.end();
  });
}

/** SHA-256 fingerprint of the certificate a node presents on a new TLS handshake. */
function servedFingerprint(node: ClusterNode): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: node.port, servername: 'localhost', rejectUnauthorized: false }, () => {
      const fp = s.getPeerX509Certificate()?.fingerprint256 ?? '';
      s.destroy();
      resolve(fp);
    });
    s.on('error', reject);
  });
}

const clientFor = (c: TestCluster, n: ClusterNode): XksClient => xksClient({ url: n.url, caPem: c.caPem, uriPath: c.demo.uriPath, credential: c.demo.credential });

interface Outcome {
  id: string;
  status: number;
  errorName: string | undefined;
  ms: number;
}

/** Sequential signed encrypts until stopped: every answer, with its time. */
function traffic(client: XksClient, keyId: string, tag: string) {
  const outcomes: Outcome[] = [];
  let stopped = false;
  const done = (async () => {
    for (let i = 0; !stopped; i++) {
      const id = `${tag}-${i}`;
      const t0 = performance.now();
      const r = await client.encrypt(keyId, { plaintext: Buffer.from(`call ${i}`), md: { kmsRequestId: id } });
      outcomes.push({ id, status: r.status, errorName: r.body.errorName as string | undefined, ms: performance.now() - t0 });
      await sleep(5);
    }
  })();
  return {
    outcomes,
    answered: () => outcomes.filter((o) => o.status === 200).map((o) => o.id),
    async stop() {
      stopped = true;
      await done;
    },
  };
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

test('a PostgreSQL crash under traffic: the node survives, answers fast spec errors, leaves rotation after the lease, and serves again by itself', async (t) => {
  const url = await pg.createDatabase('crash');
  const c = await startCluster({ url, ids: ['node-a'] });
  const a = c.nodes[0]!;
  const client = clientFor(c, a);
  try {
    const load = traffic(client, c.demo.keyId, 'crash');
    await until(() => load.answered().length >= 20, 30_000, 'traffic before the crash');
    const beforeCrash = load.outcomes.length;
    await pg.crash();
    // Past the lease the node reports it cannot serve: load balancers take it out.
    await eventually(async () => assert.equal((await ping(a, c.caPem)).status, 503), 20_000, 100);
    await until(() => load.outcomes.length >= beforeCrash + 20, 20_000, 'calls during the outage');
    assert.ok(a.running(), 'the node is still running');
    const duringOutage = load.outcomes.slice(beforeCrash);
    const failed = duringOutage.filter((o) => o.status !== 200);
    assert.ok(failed.length > 0, 'calls fail while PostgreSQL is down');
    for (const f of failed) {
      assert.ok(f.errorName === 'InternalException' || f.errorName === 'DependencyTimeoutException', `a spec error, not ${f.status} ${f.errorName}`);
      assert.ok(f.ms < 5000, `answered, never left hanging (${f.ms.toFixed(0)} ms)`);
    }
    const sorted = failed.map((f) => f.ms).sort((x, y) => x - y);
    t.diagnostic(`failed calls during the outage: ${failed.length}, median ${sorted[sorted.length >> 1]!.toFixed(1)} ms, max ${sorted[sorted.length - 1]!.toFixed(1)} ms`);

    await pg.restart();
    await eventually(async () => assert.equal((await ping(a, c.caPem)).status, 200), 30_000, 100);
    const afterRestart = load.answered().length;
    await until(() => load.answered().length >= afterRestart + 20, 30_000, 'traffic after the restart');
    await load.stop();
    assert.ok(a.running(), 'the node is still the same process');
    assert.doesNotMatch(a.output(), /Connection terminated unexpectedly[\s\S]*exited/);

    const v = await a.json<{ ok: boolean }>(['audit', 'verify']);
    assert.equal(v.ok, true);
    const exported = await a.cli(['audit', 'export', '--key', c.demo.keyId]);
    assert.equal(exported.code, 0, exported.stderr);
    const missing = load.answered().filter((id) => !exported.stdout.includes(`"kmsRequestId":"${id}"`));
    assert.deepEqual(missing, [], 'every answered call has its audit record');
  } finally {
    client.close();
    await c.dispose();
  }
});

test('two nodes: the fleet, one scheduler owner, a key disabled on one node refused by the other within a second, and a partitioned node stops serving after its lease', async () => {
  const url = await pg.createDatabase('two_nodes');
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: pg.port });
  const c = await startCluster({ url, ids: ['node-a'] });
  const a = c.nodes[0]!;
  const b = await c.addNode('node-b', url.replace(`:${pg.port}/`, `:${proxy.port}/`));
  const ca = clientFor(c, a);
  const cb = clientFor(c, b);
  const keyId = c.demo.keyId;
  try {
    // Both nodes count each other, and each names its EKMs by node.
    await eventually(async () => {
      const h = await cb.health();
      assert.equal(h.status, 200);
      assert.equal(h.body.xksProxyFleetSize, 2);
      const ids = (h.body.ekmFleetDetails as { id: string }[]).map((e) => e.id).sort();
      assert.deepEqual(ids, ['node-a/software', 'node-b/software']);
    }, 10_000, 100);
    const status = await a.json<{ fleetSize: number; nodes: { id: string; live: boolean; scheduler: boolean; version: string; address: string }[]; scheduler: { holder?: string } }>(['cluster', 'status']);
    assert.equal(status.fleetSize, 2);
    assert.deepEqual(status.nodes.map((n) => [n.id, n.live]), [['node-a', true], ['node-b', true]]);
    assert.equal(status.nodes.filter((n) => n.scheduler).length, 1, 'exactly one node owns the scheduler');
    assert.ok(status.scheduler.holder === 'node-a' || status.scheduler.holder === 'node-b');
    assert.equal(status.nodes.find((n) => n.id === 'node-b')!.address, `127.0.0.1:${b.port}`);

    // Custody across nodes: disabled through node A (its CLI), refused by node B within a second.
    assert.equal((await cb.encrypt(keyId, { plaintext: Buffer.from('x') })).status, 200);
    const disabled = await a.cli(['key', 'disable', keyId]);
    assert.equal(disabled.code, 0, disabled.stderr);
    await eventually(async () => {
      const r = await cb.encrypt(keyId, { plaintext: Buffer.from('x') });
      assert.equal(r.body.errorName, 'InvalidStateException');
    }, 1000, 20);
    assert.equal((await a.cli(['key', 'enable', keyId])).code, 0);
    await eventually(async () => assert.equal((await cb.encrypt(keyId, { plaintext: Buffer.from('x') })).status, 200), 1000, 20);

    // Partition node B from PostgreSQL: it refuses key operations after the lease, fast, and
    // leaves the rotation; node A serves on.
    proxy.partition();
    await eventually(async () => assert.equal((await ping(b, c.caPem)).status, 503), 15_000, 100);
    const t0 = performance.now();
    const refused = await cb.encrypt(keyId, { plaintext: Buffer.from('x') });
    const refusedMs = performance.now() - t0;
    assert.ok(refused.body.errorName === 'DependencyTimeoutException' || refused.body.errorName === 'InternalException', `spec error, got ${refused.status} ${String(refused.body.errorName)}`);
    assert.ok(refusedMs < 5000, `answered, not left hanging (${refusedMs.toFixed(0)} ms)`);
    assert.equal((await ca.encrypt(keyId, { plaintext: Buffer.from('x') })).status, 200);
    await eventually(async () => {
      const s = await a.json<{ fleetSize: number; scheduler: { holder?: string } }>(['cluster', 'status']);
      assert.equal(s.fleetSize, 1);
      assert.equal(s.scheduler.holder, 'node-a', 'the scheduler moves to the node that still reaches the database');
    }, 15_000, 200);
    // A key disabled while B is cut off is never served by B.
    assert.equal((await a.cli(['key', 'disable', keyId])).code, 0);
    proxy.heal();
    await eventually(async () => assert.equal((await ping(b, c.caPem)).status, 200), 20_000, 100);
    assert.equal((await cb.encrypt(keyId, { plaintext: Buffer.from('x') })).body.errorName, 'InvalidStateException');
    assert.equal((await a.cli(['key', 'enable', keyId])).code, 0);
    await eventually(async () => assert.equal((await cb.encrypt(keyId, { plaintext: Buffer.from('x') })).status, 200), 5000, 50);
    assert.ok(b.running() && a.running());

    // One certificate for the cluster: installed once through node A's CLI, served by both
    // nodes within seconds; removed, both serve their files again.
    const fileFp = new X509Certificate(c.caPem).fingerprint256;
    assert.equal(await servedFingerprint(b), fileFp);
    const dir = mkdtempSync(join(tmpdir(), 'keyhold-cert-'));
    try {
      const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'xks.key'), '-out', join(dir, 'xks.crt'), '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-days', '30'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const installed = await a.json<{ fingerprint256: string }>(['tls', 'install', '--cert', join(dir, 'xks.crt'), '--key', join(dir, 'xks.key')]);
      assert.equal(installed.fingerprint256, new X509Certificate(readFileSync(join(dir, 'xks.crt'))).fingerprint256);
      for (const n of [a, b]) await eventually(async () => assert.equal(await servedFingerprint(n), installed.fingerprint256), 10_000, 100);
      // Calls keep working under the new certificate (the client trusts it now).
      const cNew = xksClient({ url: b.url, caPem: readFileSync(join(dir, 'xks.crt'), 'utf8'), uriPath: c.demo.uriPath, credential: c.demo.credential });
      assert.equal((await cNew.encrypt(keyId, { plaintext: Buffer.from('new cert') })).status, 200);
      cNew.close();
      assert.equal((await a.cli(['tls', 'remove'])).code, 0);
      for (const n of [a, b]) await eventually(async () => assert.equal(await servedFingerprint(n), fileFp), 10_000, 100);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const v = await a.json<{ ok: boolean }>(['audit', 'verify']);
    assert.equal(v.ok, true);
  } finally {
    ca.close();
    cb.close();
    await c.dispose();
    await proxy.close();
  }
});

test('GET /api/v1/cluster and keyhold cluster status --server show the registry of a server on PostgreSQL', async () => {
  const url = await pg.createDatabase('cluster_api');
  const env = { KEYHOLD_STORAGE_TYPE: 'postgres', KEYHOLD_STORAGE_URL: url, KEYHOLD_NODE_ID: 'api-node' };
  const h = await startAdminHarness({ env });
  try {
    const auditor = await h.provision('auditor', 'erin');
    const r = await h.api.call<{ self: string; fleetSize: number; nodes: { id: string; live: boolean; version: string; ekm: { id: string; healthStatus: string }[] }[]; custody: { ok: boolean } }>('GET', '/api/v1/cluster', { token: auditor.token });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.self, 'api-node');
    assert.equal(r.body.fleetSize, 1);
    assert.equal(r.body.custody.ok, true);
    assert.deepEqual(r.body.nodes.map((n) => [n.id, n.live]), [['api-node', true]]);
    assert.deepEqual(r.body.nodes[0]!.ekm.map((e) => [e.id, e.healthStatus]), [['api-node/software', 'ACTIVE']]);

    const tokenFile = join(h.dataDir, 'token');
    writeFileSync(tokenFile, auditor.apiKey, { mode: 0o600 });
    const caFile = join(h.dataDir, 'tls', 'server.crt');
    const cli = await runCli(['--server', h.url, '--token-file', tokenFile, '--ca-file', caFile, 'cluster', 'status']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /Live nodes:\s+1/);
    assert.match(cli.stdout, /api-node \(this\)/);
    const local = await runCli(['--data-dir', h.dataDir, '--json', 'cluster', 'status'], { env });
    assert.equal(local.code, 0, local.stderr);
    assert.deepEqual((JSON.parse(local.stdout) as { nodes: { id: string }[] }).nodes.map((n) => n.id), ['api-node']);
  } finally {
    await h.dispose();
  }
});

test('rolling upgrade: a node older than the database schema is refused with a clear message, and a running fleet of mixed versions shows its versions', async () => {
  const url = await pg.createDatabase('upgrade');
  const c = await startCluster({ url, ids: ['node-a'] });
  try {
    const a = c.nodes[0]!;
    const status = await a.json<{ nodes: { id: string; version: string }[] }>(['cluster', 'status']);
    assert.ok(status.nodes.every((n) => /^\d+\.\d+\.\d+/.test(n.version)), 'the registry names each node version');
    // A newer Keyhold migrated the database: this version must not start on it.
    const sql = spawnSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-c', "INSERT INTO kysely_migration (name, timestamp) VALUES ('9999_from_the_future', now()::text)"], { encoding: 'utf8' });
    assert.equal(sql.status, 0, sql.stderr);
    assert.ok(a.running(), 'a running node is not disturbed by a newer schema');
    await a.stop();
    await assert.rejects(a.start(), /database schema is newer than this Keyhold: it has migration 9999_from_the_future/);
  } finally {
    await c.dispose();
  }
});
