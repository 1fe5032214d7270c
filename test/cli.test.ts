import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT, runCli, type CliResult } from './support/keyhold-harness.js';

/**
 * The `keyhold` command line against a real data directory: refusals, --json shapes, exit
 * codes (1 operational failure, 2 bad usage or input, 3 not found), and the first-run
 * experience of `start --init-if-absent`, whose printed curl command must really work.
 */

let tmp: string;
let dataDir: string;
const env = { KEYHOLD_LOG_LEVEL: 'warn' };

const cli = (...args: string[]): Promise<CliResult> => runCli(['--data-dir', dataDir, ...args], { env });
async function json<T = Record<string, unknown>>(...args: string[]): Promise<T> {
  const r = await cli('--json', ...args);
  assert.equal(r.code, 0, `keyhold ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
const keysOf = (o: object) => Object.keys(o).sort();

const KEYSTORE_VIEW = ['createdAt', 'enabled', 'id', 'name', 'policy', 'regions', 'updatedAt', 'uriPath'];
const KEY_VIEW = [
  'createdAt',
  'currentVersion',
  'deletionDate',
  'description',
  'enabled',
  'expiresAt',
  'exportable',
  'keyId',
  'keyStore',
  'nextRotationAt',
  'origin',
  'protection',
  'rotationPeriodDays',
  'state',
  'tags',
  'updatedAt',
  'usage',
];

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'keyhold-cli-'));
  dataDir = join(tmp, 'data');
});

after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

test('init --json describes what it made; a second init refuses and changes nothing', async () => {
  const first = await json<Record<string, unknown> & { demo: Record<string, unknown> & { credential: Record<string, string> } }>('init');
  assert.deepEqual(keysOf(first), ['admin', 'configFile', 'dataDir', 'demo', 'seal', 'tlsCertificate', 'tlsCertificateCreated']);
  assert.deepEqual(keysOf(first.admin as object), ['oneTimePassword', 'username']);
  assert.equal(first.dataDir, dataDir);
  assert.equal(first.seal, 'keyfile');
  assert.equal(first.tlsCertificateCreated, true);
  assert.deepEqual(keysOf(first.demo), ['credential', 'keyId', 'keyStore', 'region', 'uriPath']);
  assert.deepEqual(keysOf(first.demo.credential), ['accessKeyId', 'secretAccessKey']);
  assert.equal(first.demo.uriPath, '/demo/kms/xks/v1');

  const again = await cli('init');
  assert.equal(again.code, 1, again.stderr);
  assert.match(again.stderr, /already initialised/);
  assert.equal(again.stdout, '');
  const credentials = await json<{ accessKeyId: string }[]>('keystore', 'credential', 'list', 'demo');
  assert.deepEqual(credentials.map((c) => c.accessKeyId), [first.demo.credential.accessKeyId], 'the demo credential is the one init printed');
});

test('--json output: one JSON document per command, with stable shapes and no secrets outside create/add', async () => {
  const created = await json('keystore', 'create', 'shapes', '--prefix', '/shapes', '--region', 'eu-west-1', '--region', 'us-east-1');
  assert.deepEqual(keysOf(created), [...KEYSTORE_VIEW, 'accessKeyId', 'secretAccessKey'].sort());
  assert.deepEqual(created.regions, ['eu-west-1', 'us-east-1']);
  assert.equal(created.policy, null);
  const secret = String(created.secretAccessKey);

  const list = await json<Record<string, unknown>[]>('keystore', 'list');
  assert.deepEqual(list.map((k) => k.name), ['demo', 'shapes']);
  for (const ks of list) assert.deepEqual(keysOf(ks), KEYSTORE_VIEW);

  const key = await json('key', 'create', 'shape-key', '--keystore', 'shapes', '--usage', 'encrypt');
  assert.deepEqual(keysOf(key), KEY_VIEW);
  assert.equal(key.keyStore, 'shapes');
  assert.deepEqual(key.usage, ['encrypt']);
  assert.equal(key.currentVersion, 1);

  for (const args of [['key', 'rotate', 'shape-key'], ['key', 'disable', 'shape-key'], ['key', 'enable', 'shape-key'], ['key', 'set-usage', 'shape-key', 'encrypt,decrypt']]) {
    const k = await json(...args);
    assert.deepEqual(keysOf(k), KEY_VIEW, args.join(' '));
    assert.equal(k.keyStore, 'shapes', `${args.join(' ')} names the key store`);
  }
  const shown = await json<Record<string, unknown> & { versions: Record<string, unknown>[] }>('key', 'show', 'shape-key');
  assert.deepEqual(keysOf(shown), [...KEY_VIEW, 'awsKeyArn', 'versions'].sort());
  assert.equal(shown.currentVersion, 2);
  assert.deepEqual(shown.usage, ['encrypt', 'decrypt']);
  assert.deepEqual(shown.versions.map((v) => v.version), [1, 2]);
  for (const v of shown.versions) assert.deepEqual(keysOf(v), ['createdAt', 'hsmLabel', 'protection', 'version']);
  const keys = await json<Record<string, unknown>[]>('key', 'list', '--keystore', 'shapes');
  assert.deepEqual(keys.map((k) => [k.keyId, k.keyStore]), [['shape-key', 'shapes']]);

  const added = await json('keystore', 'credential', 'add', 'shapes');
  assert.deepEqual(keysOf(added), ['accessKeyId', 'keyStore', 'secretAccessKey']);
  const creds = await json<Record<string, unknown>[]>('keystore', 'credential', 'list', 'shapes');
  assert.equal(creds.length, 2);
  for (const c of creds) assert.deepEqual(keysOf(c), ['accessKeyId', 'createdAt', 'live', 'revokedAt']);
  const revoked = await json('keystore', 'credential', 'revoke', 'shapes', String(created.accessKeyId));
  assert.deepEqual(keysOf(revoked), ['accessKeyId', 'keyStore', 'revokedAt']);
  assert.equal(typeof revoked.revokedAt, 'string');

  const policyFile = join(tmp, 'policy.json');
  const policy = { default: 'deny', rules: [{ id: 'app', effect: 'allow', principals: ['arn:aws:iam::*:role/App'] }] };
  writeFileSync(policyFile, JSON.stringify(policy));
  assert.deepEqual(await json('keystore', 'policy', 'set', 'shapes', '--file', policyFile), { keyStore: 'shapes', policy });
  assert.deepEqual(await json('keystore', 'policy', 'show', 'shapes'), policy);

  const store = await json<Record<string, unknown> & { credentials: Record<string, unknown>[]; keys: Record<string, unknown>[] }>('keystore', 'show', 'shapes');
  assert.deepEqual(keysOf(store), [...KEYSTORE_VIEW, 'credentials', 'keys'].sort());
  assert.deepEqual(store.policy, policy);
  assert.equal(store.credentials.length, 2);
  assert.deepEqual(store.keys.map((k) => k.keyId), ['shape-key']);
  assert.deepEqual(keysOf(await json('keystore', 'disable', 'shapes')), KEYSTORE_VIEW);
  assert.deepEqual(await json('keystore', 'policy', 'clear', 'shapes'), { keyStore: 'shapes', policy: null });

  // Listing and showing never print a secret, in either output mode.
  const views = [['keystore', 'show', 'shapes'], ['keystore', 'credential', 'list', 'shapes']].flatMap((args) => [args, ['--json', ...args]]);
  const printed = await Promise.all(views.map((args) => cli(...args)));
  for (const [i, r] of printed.entries()) {
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(secret), `${views[i]!.join(' ')} prints no secret`);
    assert.doesNotMatch(r.stdout, /secretAccessKey|RawSecretAccessKey/i);
  }
});

test('exit code 2 for bad input and bad usage', async () => {
  const badPolicy = join(tmp, 'bad-policy.json');
  writeFileSync(badPolicy, JSON.stringify({ default: 'maybe', rules: [] }));
  const notJson = join(tmp, 'not-json.json');
  writeFileSync(notJson, '{ nope');
  const cases: string[][] = [
    ['key', 'create', 'bad id!', '--keystore', 'demo'],
    ['key', 'create', 'ok-id', '--keystore', 'demo', '--usage', 'sign'],
    ['keystore', 'create', 'x', '--prefix', '/has.period'],
    // A signer normalises these paths, so KMS could never call them.
    ['key', 'create', '.', '--keystore', 'demo'],
    ['key', 'create', '..', '--keystore', 'demo'],
    ['keystore', 'create', 'x', '--prefix', '/a//b'],
    ['keystore', 'create', 'x', '--prefix', '/trailing/'],
    ['keystore', 'create', 'bad name!', '--prefix', '/fine'],
    ['keystore', 'create', 'x', '--prefix', '/fine', '--region', 'moon-base-1'],
    ['keystore', 'policy', 'set', 'demo', '--file', badPolicy],
    ['keystore', 'policy', 'set', 'demo', '--file', notJson],
    ['keystore', 'policy', 'set', 'demo', '--file', join(tmp, 'missing.json')],
    ['key', 'create', 'no-store-given'],
    ['keystore', 'frobnicate'],
    ['--no-such-flag', 'key', 'list'],
  ];
  // Independent refusals: run side by side.
  const results = await Promise.all(cases.map((args) => cli(...args)));
  for (const [i, r] of results.entries()) {
    const args = cases[i]!.join(' ');
    assert.equal(r.code, 2, `keyhold ${args}: ${r.stderr}`);
    assert.ok(r.stderr.length > 0, `${args} explains itself on stderr`);
  }
  // Nothing was created by the refused commands.
  const keys = await json<{ keyId: string }[]>('key', 'list');
  assert.deepEqual(keys.map((k) => k.keyId).sort(), ['demo-key', 'shape-key']);
  assert.equal((await json<unknown>('keystore', 'policy', 'show', 'demo')), null);
});

test('exit code 3 for things that do not exist', async () => {
  const cases: string[][] = [
    ['key', 'show', 'nope'],
    ['key', 'rotate', 'nope'],
    ['key', 'create', 'orphan', '--keystore', 'nope'],
    ['key', 'list', '--keystore', 'nope'],
    ['keystore', 'show', 'nope'],
    ['keystore', 'delete', 'nope'],
    ['keystore', 'aws-config', 'nope'],
    ['keystore', 'credential', 'revoke', 'demo', 'AAAAAAAAAAAAAAAAAAAAAAAA'],
  ];
  const results = await Promise.all(cases.map((args) => cli(...args)));
  for (const [i, r] of results.entries()) {
    assert.equal(r.code, 3, `keyhold ${cases[i]!.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /nope|AAAAAAAA/, 'the message names what was not found');
  }
});

test('keystore delete refuses a store that still has keys, deletes an empty one', async () => {
  const r = await cli('keystore', 'delete', 'demo');
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /still holds 1 key/);
  assert.equal((await json('keystore', 'show', 'demo')).name, 'demo');

  await json('keystore', 'create', 'empty', '--prefix', '/empty');
  assert.deepEqual(await json('keystore', 'delete', 'empty'), { deleted: 'empty' });
  assert.equal((await cli('keystore', 'show', 'empty')).code, 3);
  // Its prefix is free again.
  await json('keystore', 'create', 'empty2', '--prefix', '/empty');
});

test('a management command on a data directory that was never initialised refuses and creates nothing', async () => {
  const missing = join(tmp, 'never-initialised');
  const r = await runCli(['--data-dir', missing, 'key', 'list'], { env });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /keyhold init/);
  assert.equal(existsSync(missing), false, 'no directory or database appears as a side effect');
});

/** Reads the child's stdout until the printed curl command is complete. */
function waitForCurl(child: ChildProcess): Promise<{ banner: string; command: string }> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      const at = lines.findIndex((l) => l.startsWith('curl '));
      if (at < 0) return;
      const end = lines.findIndex((l, i) => i >= at && !l.endsWith('\\'));
      if (end < 0 || end === lines.length - 1) return; // the last line may be incomplete
      child.stdout!.off('data', onData);
      resolve({ banner: out, command: lines.slice(at, end + 1).join('\n') });
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`keyhold exited with ${code} before printing a curl command:\n${out}`)));
  });
}

function startFirstRun(cwd: string): ChildProcess {
  // No --data-dir: a newcomer's `npm start` uses ./keyhold-data in the current directory.
  const e: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete e.KEYHOLD_DATA_DIR;
  delete e.KEYHOLD_CONFIG;
  return spawn(process.execPath, [BIN, 'start', '--init-if-absent', '--xks-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0'], { cwd, env: e, stdio: ['ignore', 'pipe', 'pipe'] });
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

test('first run: start --init-if-absent prints a curl command that really encrypts', async () => {
  const cwd = join(tmp, 'newcomer');
  mkdirSync(cwd, { recursive: true });
  const child = startFirstRun(cwd);
  let command: string;
  let banner: string;
  try {
    ({ command, banner } = await waitForCurl(child));
    assert.match(banner, /listening on https:\/\/localhost:\d+/);
    assert.match(banner, /Secret access key: \S+\s+\(shown once\)/);
    assert.match(banner, /Admin API on https:\/\/localhost:\d+\/api\/v1/);
    assert.match(banner, /First administrator: admin, one-time password: \S{20}\s+\(shown once/);
    assert.match(command, /--aws-sigv4 'aws:amz:us-east-1:kms-xks-proxy'/);
    assert.doesNotMatch(command, /<ACCESS_KEY_ID>|<SECRET_ACCESS_KEY>/, 'the command carries the real credential');

    const run = spawnSync('bash', ['-c', command], { cwd, encoding: 'utf8', timeout: 20_000 });
    assert.equal(run.status, 0, `the printed command failed: ${run.stderr}`);
    const body = JSON.parse(run.stdout) as Record<string, string>;
    assert.ok(body.ciphertext, run.stdout);
    assert.equal(Buffer.from(body.ciphertext, 'base64').length, 'Hello from Keyhold'.length);
    assert.equal(Buffer.from(body.initializationVector!, 'base64').length, 12);
    assert.equal(Buffer.from(body.authenticationTag!, 'base64').length, 16);
  } finally {
    assert.equal(await stop(child), 0, 'SIGTERM stops the server cleanly');
  }
  assert.ok(existsSync(join(cwd, 'keyhold-data', 'keyhold.toml')));

  // A second start keeps the data directory and no longer prints the secret; the
  // credential from the first run still works.
  const second = startFirstRun(cwd);
  try {
    const { banner: b2, command: c2 } = await waitForCurl(second);
    assert.match(b2, /shown when the data directory was created/);
    assert.doesNotMatch(b2, /one-time password/, 'the bootstrap password is printed once');
    assert.match(c2, /<ACCESS_KEY_ID>:<SECRET_ACCESS_KEY>/);
    const port = /https:\/\/localhost:(\d+)/.exec(b2)![1]!;
    const rerun = spawnSync('bash', ['-c', command.replace(/https:\/\/localhost:\d+/, `https://localhost:${port}`)], { cwd, encoding: 'utf8', timeout: 20_000 });
    assert.equal(rerun.status, 0, rerun.stderr);
    assert.ok((JSON.parse(rerun.stdout) as Record<string, string>).ciphertext);
  } finally {
    assert.equal(await stop(second), 0);
  }
});

test('npm start runs the command the first-run test exercises', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.match(pkg.scripts.start!, /(^|&& )node bin\/keyhold\.js start --init-if-absent$/);
});
