import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get } from 'node:https';
import { runCli, startKeyhold, type KeyholdHarness } from './support/keyhold-harness.js';
import { createSoftHsm } from './support/softhsm.js';

/**
 * A newcomer's first hour (issue 15): a failed init leaves nothing behind, a second start
 * on one data directory is refused, errors are one clear line naming their source,
 * `keyhold status`, nested help, and what init writes.
 */

const roots: string[] = [];
const hsm = createSoftHsm();
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
  hsm.cleanup();
});
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'keyhold-newcomer-'));
  roots.push(d);
  return d;
}
const env = { KEYHOLD_LOG_LEVEL: 'warn', KEYHOLD_WORKERS: '1' };

function ping(h: KeyholdHarness): Promise<number> {
  return new Promise((resolve, reject) => {
    get(`${h.url}/ping`, { ca: h.caPem }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

test('a failed init (HSM seal, no PIN source) leaves nothing behind, and the next init works', async () => {
  const token = hsm.addToken();
  for (const existing of [false, true]) {
    const dir = join(scratch(), 'data');
    if (existing) mkdirSync(dir);
    const failed = await runCli(['--data-dir', dir, 'init', '--seal', 'hsm', '--hsm-module', hsm.module, '--hsm-token-label', token.label, '--hsm-profile', 'softhsm2'], { env });
    assert.notEqual(failed.code, 0, failed.stdout);
    assert.match(failed.stderr, /^keyhold: /);
    if (existing) assert.deepEqual(readdirSync(dir), [], 'a directory that existed is left as it was: empty');
    else assert.equal(existsSync(dir), false, `init created ${dir} and must remove it: ${existsSync(dir) ? readdirSync(dir).join(', ') : ''}`);
    const again = await runCli(['--data-dir', dir, '--json', 'init', '--no-demo'], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { seal: string }).seal, 'keyfile');
  }
});

test('a second start on a running data directory is refused with one clear line; the first keeps serving', async () => {
  const h = await startKeyhold({ demo: false });
  try {
    const second = await runCli(['--data-dir', h.dataDir, 'start', '--xks-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0'], { env });
    assert.equal(second.code, 1, second.stdout + second.stderr);
    assert.match(second.stderr, new RegExp(`^keyhold: keyhold is already running on ${h.dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(pid \\d+, since [^)]*XKS on 127\\.0\\.0\\.1:${h.port}`));
    assert.equal(second.stderr.trim().split('\n').length, 1, second.stderr);
    // With worker processes too.
    const workers = await runCli(['--data-dir', h.dataDir, 'start', '--xks-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--workers', '2'], { env });
    assert.equal(workers.code, 1);
    assert.match(workers.stderr, /already running/);
    assert.equal(await ping(h), 200, 'the first server still answers');
    // A server that died without cleaning up (kill -9) leaves a stale lock: the next start takes it over.
    await h.kill();
    assert.ok(existsSync(join(h.dataDir, 'keyhold.pid')));
    await h.start();
    assert.equal(await ping(h), 200);
  } finally {
    await h.dispose();
  }
});

test('start on a data directory that was never initialised creates nothing, with or without workers', async () => {
  const root = scratch();
  for (const workers of ['1', '2']) {
    const wrong = join(root, `typo-${workers}`);
    const r = await runCli(['--data-dir', wrong, 'start', '--workers', workers, '--xks-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0'], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^keyhold: the data directory .* is not initialised; run: keyhold init/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(existsSync(wrong), false, `${wrong} must not be created`);
  }
});

test('a port in use is one line naming the listener and the address, without a stack trace', async () => {
  const dir = join(scratch(), 'data');
  assert.equal((await runCli(['--data-dir', dir, 'init', '--no-demo'], { env })).code, 0);
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as AddressInfo).port;
  try {
    for (const [flag, listener] of [['--xks-listen', 'XKS'], ['--admin-listen', 'admin API']] as const) {
      for (const workers of ['1', '2']) {
        const other = flag === '--xks-listen' ? '--admin-listen' : '--xks-listen';
        const r = await runCli(['--data-dir', dir, 'start', '--workers', workers, flag, `127.0.0.1:${port}`, other, '127.0.0.1:0'], { env });
        assert.equal(r.code, 1, r.stderr);
        assert.equal(r.stderr.trim(), `keyhold: the ${listener} listener cannot listen on 127.0.0.1:${port}: the address is already in use (another keyhold or another program listens there); choose another address with ${flag === '--xks-listen' ? 'xks.listen (--xks-listen)' : 'admin.listen (--admin-listen)'}`, `workers ${workers}`);
      }
    }
  } finally {
    busy.close();
  }
});

test('configuration errors name their real source: a flag, an environment variable or the file', async () => {
  const dir = join(scratch(), 'data');
  assert.equal((await runCli(['--data-dir', dir, 'init', '--no-demo'], { env })).code, 0);
  const flag = await runCli(['--data-dir', dir, 'start', '--xks-listen', 'nonsense'], { env });
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /^keyhold: invalid configuration:\n {2}- xks\.listen: 'nonsense' is not HOST:PORT \(from --xks-listen\)$/m);
  assert.doesNotMatch(flag.stderr, /keyhold\.toml/);
  const fromEnv = await runCli(['--data-dir', dir, 'key', 'list'], { env: { ...env, KEYHOLD_SEAL_TYPE: 'bogus' } });
  assert.equal(fromEnv.code, 2);
  assert.match(fromEnv.stderr, /seal\.type: .* \(from the environment variable KEYHOLD_SEAL_TYPE\)$/m);
  assert.doesNotMatch(fromEnv.stderr, /keyhold\.toml/);
  const toml = join(dir, 'keyhold.toml');
  writeFileSync(toml, readFileSync(toml, 'utf8').replace(/^level = .*$/m, 'level = "loud"'));
  const inFile = await runCli(['--data-dir', dir, 'key', 'list'], { env: { KEYHOLD_LOG_LEVEL: '' } });
  assert.equal(inFile.code, 2);
  assert.match(inFile.stderr, new RegExp(`^keyhold: invalid configuration in ${toml.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\n {2}- log\\.level: `));
});

test('a usage error prints its line, the usage and where to read more, not the whole help', async () => {
  const r = await runCli(['key', 'create'], { env });
  assert.equal(r.code, 2);
  assert.deepEqual(r.stderr.trim().split('\n'), ["error: required option '--keystore <name>' not specified", 'Usage: keyhold key create [options] <keyId>', 'More: keyhold key create --help']);
  const unknown = await runCli(['keystore', 'bogus'], { env });
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr.trim().split('\n').length, 3, unknown.stderr);
});

test('keyhold help keystore aws-config shows that command\'s help', async () => {
  const r = await runCli(['help', 'keystore', 'aws-config'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Usage: keyhold keystore aws-config \[options\] <keystore>/);
  assert.match(r.stdout, /--access-key-id/);
  const nope = await runCli(['help', 'keystore', 'nope'], { env });
  assert.equal(nope.code, 2);
  assert.match(nope.stderr, /unknown command 'keystore nope'/);
});

test('regions are changed from the CLI, and local region and quota changes are audited like the others', async () => {
  const dir = join(scratch(), 'data');
  assert.equal((await runCli(['--data-dir', dir, 'init'], { env })).code, 0);
  const j = async (...args: string[]) => {
    const r = await runCli(['--data-dir', dir, '--json', ...args], { env });
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };
  assert.deepEqual((await j('keystore', 'update', 'demo', '--region', 'eu-west-1', 'us-east-1')).regions, ['eu-west-1', 'us-east-1']);
  assert.deepEqual((await j('keystore', 'show', 'demo')).regions, ['eu-west-1', 'us-east-1']);
  const bad = await runCli(['--data-dir', dir, 'keystore', 'update', 'demo', '--region', 'not a region'], { env });
  assert.equal(bad.code, 2, bad.stderr);
  assert.deepEqual((await j('keystore', 'show', 'demo')).regions, ['eu-west-1', 'us-east-1'], 'a refused change changes nothing');
  const nothing = await runCli(['--data-dir', dir, 'keystore', 'update', 'demo'], { env });
  assert.equal(nothing.code, 2);
  assert.deepEqual((await j('keystore', 'update', 'demo', '--any-region')).regions, []);
  await j('keystore', 'quota', 'demo', '--rps', '5');
  await j('keystore', 'quota', 'demo', '--off');
  const exported = await runCli(['--data-dir', dir, 'audit', 'export', '--keystore', 'demo'], { env });
  assert.equal(exported.code, 0, exported.stderr);
  const actions = exported.stdout.trim().split('\n').map((l) => JSON.parse(l) as { action: string; source: string; outcome: string; change?: Record<string, unknown> });
  const mine = actions.filter((r) => r.action.startsWith('keystores.set-') || r.action === 'keystores.clear-quota');
  assert.deepEqual(mine.map((r) => [r.action, r.source, r.outcome]), [
    ['keystores.set-regions', 'cli', 'ok'],
    ['keystores.set-regions', 'cli', 'error'],
    ['keystores.set-regions', 'cli', 'ok'],
    ['keystores.set-quota', 'cli', 'ok'],
    ['keystores.clear-quota', 'cli', 'ok'],
  ]);
  assert.deepEqual(mine[3]!.change?.quota, { rps: 5, burst: 5 });
});

test('keyhold status [--json]: server and listeners, XKS health through the listener, key stores, keys, audit chain, certificate', async () => {
  const none = await runCli(['--data-dir', join(scratch(), 'nothing'), '--json', 'status'], { env });
  assert.equal(none.code, 0, none.stderr);
  assert.deepEqual(JSON.parse(none.stdout), { dataDir: JSON.parse(none.stdout).dataDir, initialised: false, server: { running: false } });

  const h = await startKeyhold();
  try {
    type Status = {
      initialised: boolean;
      server: { running: boolean; pid?: number; xks?: string; admin?: string };
      health: { keyStore?: string; status?: number; healthStatus?: string[]; skipped?: string };
      keyStores: { name: string; uriPath: string; keys: number }[];
      keys: { total: number; software: number };
      audit: { ok: boolean; records: number };
      certificate: { daysLeft: number };
    };
    const st = await h.json<Status>(['status']);
    assert.equal(st.initialised, true);
    assert.equal(st.server.running, true);
    assert.equal(st.server.xks, `127.0.0.1:${h.port}`);
    assert.ok(st.server.admin?.startsWith('127.0.0.1:'));
    assert.deepEqual(st.health, { keyStore: 'demo', status: 200, healthStatus: ['ACTIVE'], fleetSize: 1 });
    assert.deepEqual(st.keyStores.map((k) => [k.name, k.uriPath, k.keys]), [['demo', '/demo/kms/xks/v1', 1]]);
    assert.equal(st.keys.total, 1);
    assert.equal(st.audit.ok, true);
    assert.ok(st.audit.records > 0);
    assert.ok(st.certificate.daysLeft > 300, String(st.certificate.daysLeft));
    // The health check was a real XKS call: the server recorded it.
    const exported = await h.cli(['audit', 'export', '--keystore', 'demo']);
    assert.match(exported.stdout, /"operation":"health"/);
    const text = await h.cli(['status']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`XKS listener: +127\\.0\\.0\\.1:${h.port}`));
    assert.match(text.stdout, /XKS health: +demo: ACTIVE/);
    assert.match(text.stdout, /Audit chain: +intact/);
    await h.stop();
    const stopped = await h.json<Status>(['status']);
    assert.equal(stopped.server.running, false);
    assert.match(stopped.health.skipped ?? '', /no server is running/);
  } finally {
    await h.dispose();
  }
});
