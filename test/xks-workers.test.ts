import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { eventually, startKeyhold, type KeyholdHarness } from './support/keyhold-harness.js';
import { demoXksClient, type XksClient, type XksResponse } from './support/xks-client.js';

/**
 * `keyhold start --workers 2`: two processes behind one XKS listener, with the primary's
 * [metrics] listener. Requests go over fresh connections, which the primary hands to the
 * workers in turn; the pid on each request log line tells which worker answered.
 */
let h: KeyholdHarness;
let c: XksClient;
let metricsPort = 0;

before(async () => {
  h = await startKeyhold({ startArgs: ['--workers', '2'], env: { KEYHOLD_METRICS_LISTEN: '127.0.0.1:0' } });
  c = demoXksClient(h);
  metricsPort = Number(/"event":"started".*"metrics":"[^"]*:(\d+)"/.exec(h.output())?.[1]);
});

after(async () => {
  c?.close();
  await h?.dispose();
});

/** One encrypt on a connection of its own; returns the answer and the pid that logged it. */
async function encryptFresh(keyId = 'demo-key'): Promise<{ r: XksResponse; pid: number }> {
  const agent = new Agent({ ca: h.caPem, keepAlive: false });
  try {
    const md = { kmsRequestId: `workers-${Math.random().toString(36).slice(2)}` };
    const r = await c.encrypt(keyId, { plaintext: Buffer.from('which worker?'), md }, { agent });
    const line = await eventually(async () => {
      const l = h.output().split('\n').find((x) => x.includes(md.kmsRequestId) && x.includes('"event":"xks"'));
      assert.ok(l, 'the request log line arrived');
      return l;
    });
    return { r, pid: (JSON.parse(line) as { pid: number }).pid };
  } finally {
    agent.destroy();
  }
}

function scrape(): Promise<string> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port: metricsPort, path: '/metrics' }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`metrics answered ${res.statusCode}`))));
    })
      .on('error', reject)
      .end();
  });
}

const sampleOf = (text: string, series: string) => Number(text.split('\n').find((l) => l.startsWith(series + ' '))?.slice(series.length + 1) ?? 0);

test('two workers answer on the one listener; the primary announces them once', async () => {
  const started = h.output().split('\n').filter((l) => l.includes('"event":"started"'));
  assert.equal(started.length, 1);
  assert.match(started[0]!, /"workers":2/);
  const pids = new Set<number>();
  for (let i = 0; i < 8; i++) {
    const { r, pid } = await encryptFresh();
    assert.equal(r.status, 200, r.text);
    pids.add(pid);
  }
  assert.equal(pids.size, 2, `answers came from ${[...pids].join(', ')}`);
  // Worker 0 also serves the admin API.
  const doc = await new Promise<number>((resolve, reject) => {
    httpsRequest(`${h.adminUrl}/api/v1/openapi.json`, { ca: h.caPem }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
  assert.equal(doc, 200);
});

test('disabling a key reaches every worker, and so does enabling it', async () => {
  assert.equal((await h.cli(['key', 'disable', 'demo-key'])).code, 0);
  await eventually(async () => {
    const pids = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const { r, pid } = await encryptFresh();
      assert.equal(r.body.errorName, 'InvalidStateException', `pid ${pid} still serves the key`);
      pids.add(pid);
    }
    assert.equal(pids.size, 2);
  });
  assert.equal((await h.cli(['key', 'enable', 'demo-key'])).code, 0);
  await eventually(async () => {
    for (let i = 0; i < 6; i++) assert.equal((await encryptFresh()).r.status, 200);
  });
});

test("the primary's metrics listener adds up every worker's calls", async () => {
  const series = 'keyhold_xks_requests_total{operation="encrypt",key_store="demo",outcome="ok"}';
  const before = sampleOf(await scrape(), series);
  const pids = new Set<number>();
  for (let i = 0; i < 6; i++) {
    const { r, pid } = await encryptFresh();
    assert.equal(r.status, 200);
    pids.add(pid);
  }
  assert.equal(pids.size, 2);
  const text = await scrape();
  assert.equal(sampleOf(text, series) - before, 6);
  assert.equal(text.split('\n').filter((l) => l.startsWith('keyhold_info{')).length, 1, 'gauges are not summed across workers');
  assert.match(text, /^keyhold_xks_credential_age_days\{key_store="demo"\} 0/m);
  assert.match(text, /^keyhold_xks_certificate_days_to_expire\{key_store="demo"\} \d/m);
});

test('a worker that dies is replaced', async () => {
  const { pid } = await encryptFresh();
  process.kill(pid, 'SIGKILL');
  await eventually(async () => {
    assert.match(h.output(), new RegExp(`"event":"worker_exited","index":\\d,"code":null,"signal":"SIGKILL"`));
    const pids = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const x = await encryptFresh();
      assert.equal(x.r.status, 200);
      pids.add(x.pid);
    }
    assert.equal(pids.size, 2);
    assert.ok(!pids.has(pid));
  }, 10_000);
});
