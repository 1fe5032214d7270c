import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually, ROOT } from './support/keyhold-harness.js';
import { startPostgres, type ThrowawayPostgres } from './support/postgres.js';
import { startCluster, type TestCluster } from './support/cluster-nodes.js';
import { xksClient, type XksClient } from './support/xks-client.js';

let pg: ThrowawayPostgres;

before(async () => {
  pg = await startPostgres();
});

after(async () => {
  await pg?.stop();
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** HAProxy (Debian) with one of the files in deploy/haproxy, as they are, in the foreground. */
async function startHaproxy(file: string, env: Record<string, string>): Promise<{ port: number; output: () => string; stop(): Promise<void> }> {
  const port = await freePort();
  const cfg = join(ROOT, 'deploy', 'haproxy', file);
  const fullEnv = { ...process.env, KEYHOLD_LB_BIND: `127.0.0.1:${port}`, ...env };
  const check = spawnSync('haproxy', ['-c', '-f', cfg], { env: fullEnv, encoding: 'utf8' });
  assert.equal(check.status, 0, `haproxy -c: ${check.stderr}${check.stdout}`);
  const child: ChildProcess = spawn('haproxy', ['-f', cfg, '-db'], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return {
    port,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

const retryable = (status: number) => status >= 500 || status === 429;

/**
 * KMS's behaviour towards a proxy: a call, and one retry when it fails with a network error
 * or a retryable status. Returns the final answer.
 */
async function callWithRetry(client: XksClient, keyId: string, id: string): Promise<{ status: number; errorName?: string; retried: boolean }> {
  let retried = false;
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await client.encrypt(keyId, { plaintext: Buffer.from(id), md: { kmsRequestId: id } });
      if (!retryable(r.status) || attempt === 1) return { status: r.status, errorName: r.body.errorName as string | undefined, retried };
    } catch (e) {
      if (attempt === 1) return { status: 0, errorName: e instanceof Error ? e.message : String(e), retried };
    }
    retried = true;
  }
}

function trafficThroughBalancer(c: TestCluster, url: string, caPem: string, workers: number) {
  const answered: string[] = [];
  const failed: { id: string; status: number; errorName?: string | undefined }[] = [];
  let retries = 0;
  let stopped = false;
  const clients: XksClient[] = [];
  const loops = Array.from({ length: workers }, async (_, w) => {
    const client = xksClient({ url, caPem, uriPath: c.demo.uriPath, credential: c.demo.credential });
    clients.push(client);
    for (let i = 0; !stopped; i++) {
      const id = `lb-${w}-${i}`;
      const r = await callWithRetry(client, c.demo.keyId, id);
      if (r.retried) retries++;
      if (r.status === 200) answered.push(id);
      else failed.push({ id, status: r.status, errorName: r.errorName });
      await sleep(5);
    }
  });
  return {
    answered,
    failed,
    retries: () => retries,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      for (const cl of clients) cl.close();
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

type Status = { fleetSize: number; scheduler: { holder?: string } };

test('two nodes behind HAProxy (deploy/haproxy/haproxy.cfg as-is): kill -9 of a node mid-traffic fails no call after its retry; fleet and scheduler follow; the audit log holds every answer', async (t) => {
  const url = await pg.createDatabase('haproxy_tcp');
  const c = await startCluster({ url, ids: ['node-a', 'node-b'] });
  const [a, b] = c.nodes as [(typeof c.nodes)[0], (typeof c.nodes)[0]];
  const lb = await startHaproxy('haproxy.cfg', { KEYHOLD_NODE1: `127.0.0.1:${a.port}`, KEYHOLD_NODE2: `127.0.0.1:${b.port}` });
  const lbUrl = `https://localhost:${lb.port}`;
  const probe = xksClient({ url: lbUrl, caPem: c.caPem, uriPath: c.demo.uriPath, credential: c.demo.credential });
  try {
    await eventually(async () => {
      const h = await probe.health();
      assert.equal(h.status, 200);
      assert.equal(h.body.xksProxyFleetSize, 2);
    }, 20_000, 100);
    const owner = await eventually(async () => {
      const s = await a.json<Status>(['cluster', 'status']);
      assert.ok(s.scheduler.holder);
      return s.scheduler.holder;
    }, 10_000, 200);
    const victim = c.nodes.find((n) => n.id === owner)!;
    const survivor = c.nodes.find((n) => n.id !== owner)!;

    const load = trafficThroughBalancer(c, lbUrl, c.caPem, 4);
    await until(() => load.answered.length >= 100, 60_000, 'traffic before the kill');
    await victim.kill();
    const killedAt = load.answered.length;

    // The fleet drops to 1 within the heartbeat window; the survivor takes the scheduler.
    await eventually(async () => assert.equal((await probe.health()).body.xksProxyFleetSize, 1), 15_000, 100);
    await eventually(async () => assert.equal((await survivor.json<Status>(['cluster', 'status'])).scheduler.holder, survivor.id), 15_000, 200);
    await until(() => load.answered.length >= killedAt + 100, 60_000, 'traffic after the kill');

    // The node comes back on its address and the balancer sends it work again.
    await victim.start();
    await eventually(async () => assert.equal((await probe.health()).body.xksProxyFleetSize, 2), 20_000, 100);
    const back = load.answered.length;
    await until(() => load.answered.length >= back + 100, 60_000, 'traffic after the restart');
    await load.stop();
    t.diagnostic(`answered ${load.answered.length}, retried ${load.retries()}, failed after retry ${load.failed.length}`);
    assert.deepEqual(load.failed, [], 'no call fails after its one retry');
    assert.ok(/k[12]\/?.* is DOWN|Server keyhold\/k[12] is DOWN/.test(lb.output()), 'haproxy saw the node go down');

    const v = await survivor.json<{ ok: boolean }>(['audit', 'verify']);
    assert.equal(v.ok, true);
    const exported = await survivor.cli(['audit', 'export', '--key', c.demo.keyId]);
    assert.equal(exported.code, 0, exported.stderr);
    const recorded = new Set([...exported.stdout.matchAll(/"kmsRequestId":"(lb-[0-9]+-[0-9]+)"/g)].map((m) => m[1]));
    assert.deepEqual(load.answered.filter((id) => !recorded.has(id)), [], 'every answered call is in the audit log');
  } finally {
    probe.close();
    await lb.stop();
    await c.dispose();
  }
});

test('TLS-terminating HAProxy (deploy/haproxy/haproxy-tls-terminating.cfg as-is): its own certificate, re-encrypted to the nodes, Host preserved so SigV4 verifies', async () => {
  const url = await pg.createDatabase('haproxy_tls');
  const c = await startCluster({ url, ids: ['node-a', 'node-b'] });
  const [a, b] = c.nodes as [(typeof c.nodes)[0], (typeof c.nodes)[0]];
  // The balancer's own CA and certificate, unrelated to the nodes' certificate.
  const dir = mkdtempSync(join(tmpdir(), 'keyhold-lb-'));
  const ssl = (args: string[]) => {
    const r = spawnSync('openssl', args, { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  };
  ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-subj', '/CN=Test balancer CA', '-days', '2']);
  ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'lb.key'), '-out', join(dir, 'lb.csr'), '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost\n');
  ssl(['x509', '-req', '-in', join(dir, 'lb.csr'), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-out', join(dir, 'lb.crt'), '-days', '2', '-extfile', join(dir, 'ext.cnf')]);
  writeFileSync(join(dir, 'lb.pem'), readFileSync(join(dir, 'lb.crt'), 'utf8') + readFileSync(join(dir, 'lb.key'), 'utf8'), { mode: 0o600 });
  const lb = await startHaproxy('haproxy-tls-terminating.cfg', {
    KEYHOLD_LB_CERT: join(dir, 'lb.pem'),
    KEYHOLD_NODE_CA: join(a.dataDir, 'tls', 'server.crt'),
    KEYHOLD_NODE1: `127.0.0.1:${a.port}`,
    KEYHOLD_NODE2: `127.0.0.1:${b.port}`,
  });
  const lbCa = readFileSync(join(dir, 'ca.crt'), 'utf8');
  const client = xksClient({ url: `https://localhost:${lb.port}`, caPem: lbCa, uriPath: c.demo.uriPath, credential: c.demo.credential });
  try {
    await eventually(async () => assert.equal((await client.health()).status, 200), 20_000, 100);
    for (let i = 0; i < 20; i++) {
      const r = await client.encrypt(c.demo.keyId, { plaintext: Buffer.from(`tls ${i}`), md: { kmsRequestId: `tls-${i}` } });
      assert.equal(r.status, 200, `${r.status} ${r.text}`);
    }
    // A signature over another Host does not verify: the balancer passed Host through untouched.
    const forged = await client.encrypt(c.demo.keyId, { plaintext: Buffer.from('x') }, { mutate: (req) => void req.headers.forEach((h) => h[0].toLowerCase() === 'host' && (h[1] = 'other.example.com')) });
    assert.equal(forged.body.errorName, 'AuthenticationFailedException');
    // Both nodes served calls: the balancer spreads the connections.
    await eventually(async () => {
      const s = await a.json<{ nodes: { id: string; live: boolean }[] }>(['cluster', 'status']);
      assert.equal(s.nodes.filter((n) => n.live).length, 2);
    }, 10_000, 200);
  } finally {
    client.close();
    await lb.stop();
    await c.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
