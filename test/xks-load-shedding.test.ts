import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/base/index.js';
import { loadConfig } from '../src/app/config.js';
import { initDataDir } from '../src/app/init.js';
import { startKeyhold, type RunningKeyhold } from '../src/app/start.js';
import type { XksCall } from '../src/domain/index.js';
import { outcomeDelta, parseOutcomes } from '../bench/server-metrics.js';
import { eventually, runCli, setConfigValues } from './support/keyhold-harness.js';
import { xksClient, type XksClient } from './support/xks-client.js';

/**
 * Quotas and the overload guard against a real server in this process (TLS, SigV4 signed
 * by @smithy/signature-v4, SQLite). The overload case is made deterministic by holding one
 * call inside the server (beforeRespond) while the next arrives: no timing is asserted.
 */
let dataDir: string;
let running: RunningKeyhold;
let c: XksClient;
let hold: { entered: () => void; release: Promise<void> } | undefined;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'keyhold-shed-'));
  const overrides = { 'xks.listen': '127.0.0.1:0', 'admin.listen': '127.0.0.1:0' };
  const init = await initDataDir(loadConfig({ dataDir, env: {}, overrides }), { demo: true });
  // One call in flight at a time, so a second concurrent one is shed.
  setConfigValues(dataDir, 'xks', { max_in_flight: 1 });
  setConfigValues(dataDir, 'admin', { enabled: false });
  running = await startKeyhold(loadConfig({ dataDir, env: {}, overrides }), silentLogger, {
    async beforeRespond(r: XksCall) {
      const h = hold;
      if (h && r.operation === 'encrypt' && r.status === 200) {
        hold = undefined;
        h.entered();
        await h.release;
      }
    },
  });
  c = xksClient({ url: `https://localhost:${running.xksAddress.port}`, caPem: readFileSync(join(dataDir, 'tls', 'server.crt'), 'utf8'), uriPath: init.demo!.uriPath, credential: init.demo!.credential });
});

after(async () => {
  c?.close();
  await running?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(['--data-dir', dataDir, ...args]);
const sampleOf = (text: string, series: string) => Number(text.split('\n').find((l) => l.startsWith(series + ' '))?.slice(series.length + 1) ?? NaN);

test('a call that arrives while the server is full is refused at once with 503, and counted', async () => {
  let entered!: () => void;
  const inside = new Promise<void>((r) => (entered = r));
  let release!: () => void;
  hold = { entered, release: new Promise<void>((r) => (release = r)) };
  const first = c.encrypt('demo-key', { plaintext: Buffer.from('held inside the server') });
  await inside;
  // A second connection: the held call keeps the first one busy.
  const other = new Agent({ ca: readFileSync(join(dataDir, 'tls', 'server.crt'), 'utf8'), keepAlive: false });
  try {
    const refused = await c.encrypt('demo-key', { plaintext: Buffer.from('one too many') }, { agent: other });
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.body.errorName, 'DependencyTimeoutException');
    assert.match(String(refused.body.errorMessage), /too many calls are waiting/);
    // Health checks are never shed: KMS would take a refused one for an outage.
    assert.equal((await c.health({ agent: other })).status, 200);
  } finally {
    release();
    other.destroy();
  }
  assert.equal((await first).status, 200);
  assert.equal((await c.encrypt('demo-key', { plaintext: Buffer.from('room again') })).status, 200);
  const text = await running.metrics.render();
  assert.equal(sampleOf(text, 'keyhold_xks_shed_total{reason="in_flight"}'), 1);
  assert.equal(sampleOf(text, 'keyhold_xks_requests_total{operation="encrypt",key_store="demo",outcome="DependencyTimeoutException"}'), 1);
  assert.equal(running.xks.overloadStats()?.inFlight, 0, 'every admitted call was released');
});

test('keyhold keystore quota validates its input and changes nothing when refused', async () => {
  for (const args of [
    ['--rps', '0'],
    ['--rps', 'many'],
    ['--rps', '10', '--burst', '0'],
    ['--burst', '5'],
    ['--rps', '10', '--off'],
    ['--rps', '2000000'],
  ]) {
    const r = await cli('keystore', 'quota', 'demo', ...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.ok(r.stderr.length > 0);
  }
  assert.equal((await cli('keystore', 'quota', 'nope', '--rps', '5')).code, 3);
  const shown = await cli('--json', 'keystore', 'quota', 'demo');
  assert.deepEqual(JSON.parse(shown.stdout), { keyStore: 'demo', quota: null });
});

test('a key store over its quota gets ThrottlingException (429); health is exempt; --off lifts it', async () => {
  const set = await cli('--json', 'keystore', 'quota', 'demo', '--rps', '1', '--burst', '2');
  assert.equal(set.code, 0, set.stderr);
  assert.deepEqual(JSON.parse(set.stdout), { keyStore: 'demo', quota: { rps: 1, burst: 2 } });
  assert.match((await cli('keystore', 'show', 'demo')).stdout, /Quota:\s+1 requests\/s, bursts of 2/);

  // The running server picks the change up from storage; then the bucket runs dry.
  const refused = await eventually(async () => {
    for (let i = 0; i < 5; i++) {
      const r = await c.encrypt('demo-key', { plaintext: Buffer.from(`call ${i}`) });
      if (r.status === 429) return r;
      assert.equal(r.status, 200, r.text);
    }
    throw new Error('not throttled yet');
  }, 5000);
  assert.equal(refused.body.errorName, 'ThrottlingException');
  assert.match(String(refused.body.errorMessage), /key store 'demo' is over its quota of 1 requests per second/);
  assert.equal((await c.health()).status, 200);
  const text = await running.metrics.render();
  assert.ok(sampleOf(text, 'keyhold_xks_throttled_total{key_store="demo"}') >= 1);
  assert.ok(sampleOf(text, 'keyhold_xks_requests_total{operation="encrypt",key_store="demo",outcome="ThrottlingException"}') >= 1);

  assert.equal((await cli('keystore', 'quota', 'demo', '--off')).code, 0);
  await eventually(async () => {
    for (let i = 0; i < 5; i++) assert.equal((await c.encrypt('demo-key', { plaintext: Buffer.from('free') })).status, 200);
  }, 5000);
});

test('the benchmark tells refusals apart from failures by reading these metrics', async () => {
  // bench/run.ts reads them before and after every run: wrk only counts non-2xx answers.
  const o = parseOutcomes(await running.metrics.render());
  assert.equal(o['shed:in_flight'], 1);
  assert.equal(o.DependencyTimeoutException, 1);
  assert.ok((o.ThrottlingException ?? 0) >= 1);
  assert.ok((o['quota:demo'] ?? 0) >= 1);
  assert.ok((o.ok ?? 0) >= 3);
  assert.deepEqual(outcomeDelta(o, o), {});
  const grown = outcomeDelta({ ok: 0, 'shed:in_flight': 0 }, o);
  assert.equal(grown.ok, undefined, 'ok answers are not errors');
  assert.equal(grown['shed:in_flight'], 1);
});

test('the quota is spent after key lookup and policy (design.md): calls refused for another reason take no token', async () => {
  assert.equal((await cli('keystore', 'quota', 'demo', '--rps', '1', '--burst', '1')).code, 0);
  // Wait until the running server enforces it, then for the bucket to refill (one token a second, at most one).
  await eventually(async () => {
    for (let i = 0; i < 3; i++) if ((await c.encrypt('demo-key', { plaintext: Buffer.from('fill') })).status === 429) return;
    throw new Error('not throttled yet');
  }, 5000);
  await new Promise((r) => setTimeout(r, 1500));
  // Calls for a key that does not exist are refused as such, however many: none reaches the quota.
  for (let i = 0; i < 5; i++) {
    const r = await c.encrypt('no-such-key', { plaintext: Buffer.from('x') });
    assert.equal(r.body.errorName, 'KeyNotFoundException', `call ${i}: ${r.text}`);
  }
  // The token they did not take is still there.
  assert.equal((await c.encrypt('demo-key', { plaintext: Buffer.from('served') })).status, 200);
  assert.equal((await cli('keystore', 'quota', 'demo', '--off')).code, 0);
});
