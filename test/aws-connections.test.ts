/**
 * AWS connections through the real CLI, against moto (credentials, STS AssumeRole and the
 * identity check, Regions, IAM permission errors) and against the KMS simulator (real
 * SigV4 verification: a wrong secret; real TLS through a front with a self-signed
 * certificate; HTTPS_PROXY through a CONNECT proxy). Every call is @aws-sdk/client-kms.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliResult } from './support/keyhold-harness.js';
import { ACCOUNT, ALICE, startSimulator, type TestSimulator } from './kms-sim-support.js';
import { iamCall, startConnectProxy, startMotoWith, startTlsFront, xmlField, type ConnectProxy, type Moto, type TlsFront } from './support/aws-fixtures.js';

let tmp: string;
let dataDir: string;
let moto: Moto;
let sim: TestSimulator;
let front: TlsFront;
const env = { KEYHOLD_LOG_LEVEL: 'warn', HTTPS_PROXY: '', https_proxy: '', NO_PROXY: '', no_proxy: '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

const cli = (args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> => runCli(['--data-dir', dataDir, ...args], { env: { ...env, ...extraEnv } });
async function json<T = Record<string, unknown>>(args: string[], extraEnv: Record<string, string> = {}): Promise<T> {
  const r = await cli(['--json', ...args], extraEnv);
  assert.equal(r.code, 0, `keyhold ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
function secretFile(name: string, secret: string): string {
  const f = join(tmp, name);
  writeFileSync(f, secret + '\n', { mode: 0o600 });
  return f;
}

interface TestResult {
  connected: boolean;
  reason?: string;
  detail?: string;
  identity?: { account: string; arn: string };
  groups: { group: string; ok: boolean; reason?: string }[];
}
const testConn = async (name: string, extra: string[] = [], extraEnv: Record<string, string> = {}) => {
  const r = await cli(['--json', 'aws', 'connection', 'test', name, ...extra], extraEnv);
  return { code: r.code, result: JSON.parse(r.stdout) as TestResult, stderr: r.stderr };
};
const groups = (r: TestResult) => Object.fromEntries(r.groups.map((g) => [g.group, g.ok ? 'ok' : g.reason]));

const MOTO_SECRET = 'motoSecretKey0123456789abcdefABCDEF/+xyz';

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'keyhold-aws-'));
  dataDir = join(tmp, 'data');
  const [m, s] = await Promise.all([startMotoWith({ MOTO_ACCOUNT_ID: ACCOUNT }), startSimulator()]);
  moto = m;
  sim = s;
  front = await startTlsFront(sim.url);
  const r = await runCli(['--data-dir', dataDir, 'init', '--no-demo'], { env });
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await Promise.all([moto?.close(), sim?.close(), front?.close()]);
  rmSync(tmp, { recursive: true, force: true });
});

describe('against moto', () => {
  test('a static key connects: identity from STS, list/read/write allowed, custom key stores unsupported by moto', async () => {
    await json(['aws', 'connection', 'add', 'moto', '--region', 'eu-west-1', '--regions', 'us-east-1', '--endpoint', moto.url, '--sts-endpoint', moto.url, '--account-id', ACCOUNT, '--access-key-id', 'AKIAMOTOTEST00000001', '--secret-access-key-file', secretFile('moto.secret', MOTO_SECRET)]);
    const { code, result } = await testConn('moto');
    assert.equal(code, 0);
    assert.equal(result.connected, true, JSON.stringify(result));
    assert.equal(result.identity?.account, ACCOUNT);
    assert.deepEqual(groups(result), { list: 'ok', read: 'ok', write: 'ok', 'custom-key-stores': 'unsupported' });
    const human = await cli(['aws', 'connection', 'test', 'moto']);
    assert.match(human.stdout, /^Connected \(moto, eu-west-1\)/);
  });

  test('a Region outside the connection is refused before any call', async () => {
    const { code, result } = await testConn('moto', ['--region', 'ap-south-1']);
    assert.equal(code, 1);
    assert.equal(result.connected, false);
    assert.equal(result.reason, 'region');
    const other = await testConn('moto', ['--region', 'us-east-1']);
    assert.equal(other.result.connected, true);
  });

  test('credentials of another account than the pinned one are reported', async () => {
    await json(['aws', 'connection', 'add', 'moto-wrong-account', '--region', 'eu-west-1', '--endpoint', moto.url, '--sts-endpoint', moto.url, '--account-id', '999988887777', '--access-key-id', 'AKIAMOTOTEST00000002', '--secret-access-key-file', secretFile('moto2.secret', MOTO_SECRET)]);
    const { code, result } = await testConn('moto-wrong-account');
    assert.equal(code, 1);
    assert.equal(result.reason, 'credentials');
    assert.match(result.detail ?? '', /account 111122223333, not 999988887777/);
  });

  test('STS AssumeRole: the connection signs as the assumed role', async () => {
    await json(['aws', 'connection', 'add', 'moto-role', '--region', 'eu-west-1', '--endpoint', moto.url, '--sts-endpoint', moto.url, '--role-arn', `arn:aws:iam::${ACCOUNT}:role/keyhold-xks`, '--external-id', 'keyhold-test-1', '--access-key-id', 'AKIAMOTOBASE00000001', '--secret-access-key-file', secretFile('base.secret', MOTO_SECRET)]);
    const shown = await json<{ credentials: Record<string, unknown> }>(['aws', 'connection', 'show', 'moto-role']);
    assert.deepEqual(shown.credentials, { source: 'assume-role', accessKeyId: 'AKIAMOTOBASE00000001', roleArn: `arn:aws:iam::${ACCOUNT}:role/keyhold-xks`, externalId: 'keyhold-test-1' });
    const { result } = await testConn('moto-role');
    assert.equal(result.connected, true, JSON.stringify(result));
    assert.match(result.identity?.arn ?? '', /:assumed-role\/keyhold-xks\/keyhold-moto-role$/);
  });

  test('permission errors are reported per action group (moto enforcing IAM)', async () => {
    // moto answers the first 3 calls without authentication: just enough to make a user.
    const strict = await startMotoWith({ MOTO_ACCOUNT_ID: ACCOUNT, INITIAL_NO_AUTH_ACTION_COUNT: '3' });
    try {
      await iamCall(strict.url, { Action: 'CreateUser', UserName: 'reader' });
      const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['kms:ListKeys', 'kms:ListAliases', 'sts:GetCallerIdentity'], Resource: '*' }] });
      await iamCall(strict.url, { Action: 'PutUserPolicy', UserName: 'reader', PolicyName: 'list-only', PolicyDocument: policy });
      const key = await iamCall(strict.url, { Action: 'CreateAccessKey', UserName: 'reader' });
      const akid = xmlField(key, 'AccessKeyId')!;
      const secret = xmlField(key, 'SecretAccessKey')!;
      await json(['aws', 'connection', 'add', 'moto-reader', '--region', 'eu-west-1', '--endpoint', strict.url, '--sts-endpoint', strict.url, '--access-key-id', akid, '--secret-access-key-file', secretFile('reader.secret', secret)]);
      const { code, result } = await testConn('moto-reader');
      assert.equal(code, 0, JSON.stringify(result));
      assert.equal(result.connected, true);
      assert.deepEqual(groups(result), { list: 'ok', read: 'permission', write: 'permission', 'custom-key-stores': 'permission' }, JSON.stringify(result));

      // A wrong secret for the same user: moto verifies signatures once IAM is enforced.
      await json(['aws', 'connection', 'update', 'moto-reader', '--access-key-id', akid, '--secret-access-key-file', secretFile('wrong.secret', (secret.startsWith('x') ? 'y' : 'x') + secret.slice(1))]);
      const bad = await testConn('moto-reader');
      assert.equal(bad.code, 1);
      assert.equal(bad.result.reason, 'credentials', JSON.stringify(bad.result));
    } finally {
      await strict.close();
    }
  });
});

describe('against the KMS simulator', () => {
  test('a static key connects and every action group works', async () => {
    await json(['aws', 'connection', 'add', 'sim', '--region', 'eu-west-1', '--endpoint', sim.url, '--access-key-id', ALICE.accessKeyId, '--secret-access-key-file', secretFile('alice.secret', ALICE.secretAccessKey)]);
    const { code, result } = await testConn('sim');
    assert.equal(code, 0);
    assert.equal(result.connected, true, JSON.stringify(result));
    assert.deepEqual(groups(result), { list: 'ok', read: 'ok', write: 'ok', 'custom-key-stores': 'ok' });
  });

  test('a wrong secret is saved anyway and reported as a credentials problem', async () => {
    await json(['aws', 'connection', 'add', 'sim-wrong', '--region', 'eu-west-1', '--endpoint', sim.url, '--access-key-id', ALICE.accessKeyId, '--secret-access-key-file', secretFile('wrong-alice.secret', 'not-alice-secret-0123456789abcdef')]);
    const { code, result } = await testConn('sim-wrong');
    assert.equal(code, 1);
    assert.equal(result.connected, false);
    assert.equal(result.reason, 'credentials');
    // Edited later, it connects.
    await json(['aws', 'connection', 'update', 'sim-wrong', '--access-key-id', ALICE.accessKeyId, '--secret-access-key-file', secretFile('alice2.secret', ALICE.secretAccessKey)]);
    assert.equal((await testConn('sim-wrong')).result.connected, true);
  });

  test('an unreachable endpoint and an unknown host are told apart', async () => {
    await json(['aws', 'connection', 'add', 'closed', '--region', 'eu-west-1', '--endpoint', 'http://127.0.0.1:9', '--access-key-id', ALICE.accessKeyId, '--secret-access-key-file', secretFile('a3.secret', ALICE.secretAccessKey)]);
    await json(['aws', 'connection', 'add', 'nxdomain', '--region', 'eu-west-1', '--endpoint', 'https://kms.keyhold-test.invalid', '--access-key-id', ALICE.accessKeyId, '--secret-access-key-file', secretFile('a4.secret', ALICE.secretAccessKey)]);
    const closed = await testConn('closed');
    assert.equal(closed.result.reason, 'network', JSON.stringify(closed.result));
    const nx = await testConn('nxdomain');
    assert.equal(nx.result.reason, 'dns', JSON.stringify(nx.result));
  });

  test('TLS: an untrusted certificate fails with reason tls; the CA bundle fixes it', async () => {
    await json(['aws', 'connection', 'add', 'tls', '--region', 'eu-west-1', '--endpoint', front.url, '--access-key-id', ALICE.accessKeyId, '--secret-access-key-file', secretFile('a5.secret', ALICE.secretAccessKey)]);
    const untrusted = await testConn('tls');
    assert.equal(untrusted.result.connected, false);
    assert.equal(untrusted.result.reason, 'tls', JSON.stringify(untrusted.result));
    const ca = join(tmp, 'front-ca.pem');
    writeFileSync(ca, front.certPem);
    const updated = await json<{ caBundle: boolean }>(['aws', 'connection', 'update', 'tls', '--ca-bundle', ca]);
    assert.equal(updated.caBundle, true);
    assert.equal((await testConn('tls')).result.connected, true);
  });

  test('HTTPS_PROXY: calls go through the proxy (CONNECT), and NO_PROXY bypasses it', async () => {
    const proxy: ConnectProxy = await startConnectProxy();
    try {
      const via = await testConn('tls', [], { HTTPS_PROXY: proxy.url });
      assert.equal(via.result.connected, true, JSON.stringify(via.result));
      const port = new URL(front.url).port;
      assert.ok(proxy.tunnels.includes(`localhost:${port}`), `tunnels: ${proxy.tunnels.join(', ')}`);
      const n = proxy.tunnels.length;
      assert.equal((await testConn('tls', [], { HTTPS_PROXY: proxy.url, NO_PROXY: 'localhost' })).result.connected, true);
      assert.equal(proxy.tunnels.length, n);
    } finally {
      await proxy.close();
    }
  });

  test('bad input changes nothing and says what is wrong', async () => {
    const bad = [
      [['--region', 'moon-1', '--default-credentials'], /not an AWS Region/],
      [['--region', 'eu-west-1', '--endpoint', 'ftp://x', '--default-credentials'], /http:\/\/ or https:\/\//],
      [['--region', 'eu-west-1', '--account-id', '12', '--default-credentials'], /12 digits/],
      [['--region', 'eu-west-1', '--role-arn', 'arn:aws:iam::1:user/x'], /not an IAM role ARN/],
      [['--region', 'eu-west-1'], /give a credential source/],
      [['--region', 'eu-west-1', '--access-key-id', ALICE.accessKeyId], /both --access-key-id and --secret-access-key-file/],
      [['--region', 'eu-west-1', '--default-credentials', '--role-arn', `arn:aws:iam::${ACCOUNT}:role/r`], /one credential source/],
    ] as const;
    for (const [args, msg] of bad) {
      const r = await cli(['aws', 'connection', 'add', 'bad', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
    }
    const dup = await cli(['aws', 'connection', 'add', 'sim', '--region', 'eu-west-1', '--default-credentials']);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /already exists/);
    const names = (await json<{ name: string }[]>(['aws', 'connection', 'list'])).map((c) => c.name);
    assert.ok(!names.includes('bad'));
  });

  test('delete removes a connection; the IAM policy is valid JSON naming every group', async () => {
    await json(['aws', 'connection', 'add', 'temp', '--region', 'eu-west-1', '--default-credentials']);
    await json(['aws', 'connection', 'delete', 'temp']);
    assert.equal((await cli(['aws', 'connection', 'show', 'temp'])).code, 3);
    const policy = JSON.parse((await cli(['aws', 'iam-policy', '--connection', 'moto'])).stdout) as { Statement: { Action: string[]; Resource: string | string[] }[] };
    const actions = policy.Statement.flatMap((s) => s.Action);
    for (const a of ['kms:ListKeys', 'kms:DescribeKey', 'kms:CreateKey', 'kms:CreateCustomKeyStore', 'kms:ConnectCustomKeyStore', 'kms:UpdateCustomKeyStore']) assert.ok(actions.includes(a), a);
    assert.ok(policy.Statement.some((s) => Array.isArray(s.Resource) && s.Resource.includes(`arn:aws:kms:us-east-1:${ACCOUNT}:key/*`)));
  });

  test('no AWS secret in clear in the data directory, the audit log or any --json output', async () => {
    const outputs = [
      (await cli(['--json', 'aws', 'connection', 'list'])).stdout,
      (await cli(['--json', 'aws', 'connection', 'show', 'sim'])).stdout,
      (await cli(['--json', 'aws', 'connection', 'show', 'moto'])).stdout,
      (await cli(['audit', 'export'])).stdout,
    ];
    assert.match(outputs[3]!, /aws\.connections\.create/);
    const files = readdirSync(dataDir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => readFileSync(join(d.parentPath, d.name)));
    for (const secret of [ALICE.secretAccessKey, MOTO_SECRET]) {
      for (const o of outputs) assert.ok(!o.includes(secret), 'a --json output or the audit export holds the secret');
      for (const f of files) assert.ok(!f.includes(Buffer.from(secret)), 'a file of the data directory holds the secret');
    }
  });
});
