/**
 * The command line end to end: `keyhold kms-sim` as a process, driven by the AWS CLI (an
 * independent SigV4 signer and JSON 1.1 client), through the whole XKS flow against a
 * running Keyhold with its demo key store.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT, runCli, startKeyhold, type KeyholdHarness } from './support/keyhold-harness.js';
import { eventually } from './kms-sim-support.js';

const SIM_ENV = { KMS_SIM_ACCESS_KEY_ID: 'AKIAKMSSIMCLI0000001', KMS_SIM_SECRET_ACCESS_KEY: 'cli-secret-0123456789abcdefghijklmnopq', KMS_SIM_ACCOUNT_ID: '999988887777' };
const tmp = mkdtempSync(join(tmpdir(), 'kms-sim-cli-'));
// AWS CLI v1 fetches any parameter that starts with https:// (the proxy endpoint) unless told not to.
const awsConfig = join(tmp, 'aws-config');
writeFileSync(awsConfig, '[default]\ncli_follow_urlparam = false\n');
let keyhold: KeyholdHarness;
let sim: ChildProcess;
let simUrl: string;
let simOut = '';

before(async () => {
  keyhold = await startKeyhold({ demo: true });
  sim = spawn(process.execPath, [BIN, '--json', 'kms-sim', '--listen', '127.0.0.1:0', '--proxy-ca', join(keyhold.dataDir, 'tls', 'server.crt'), '--health-interval-ms', '0'], {
    cwd: ROOT,
    env: { ...process.env, ...SIM_ENV },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  sim.stdout!.on('data', (d: Buffer) => (simOut += d.toString()));
  sim.stderr!.on('data', (d: Buffer) => (simOut += d.toString()));
  const started = await eventually(() => {
    const first = simOut.split('\n')[0];
    return first && simOut.includes('\n') ? (JSON.parse(first) as { url: string; accountId: string }) : undefined;
  }, 'kms-sim to start');
  simUrl = started.url;
  assert.equal(started.accountId, SIM_ENV.KMS_SIM_ACCOUNT_ID);
});

after(async () => {
  if (sim && sim.exitCode === null) await new Promise<void>((r) => (sim.once('exit', () => r()), sim.kill('SIGTERM')));
  await keyhold?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

function aws(args: string[], secret = SIM_ENV.KMS_SIM_SECRET_ACCESS_KEY): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('aws', ['--endpoint-url', simUrl, '--region', 'us-east-1', '--output', 'json', ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: tmp,
        AWS_ACCESS_KEY_ID: SIM_ENV.KMS_SIM_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY: secret,
        AWS_CONFIG_FILE: awsConfig,
        AWS_SHARED_CREDENTIALS_FILE: join(tmp, 'none'),
        AWS_MAX_ATTEMPTS: '1',
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function awsJson<T = Record<string, unknown>>(args: string[]): Promise<T> {
  const r = await aws(args);
  assert.equal(r.code, 0, `aws ${args.join(' ')}: ${r.stderr}`);
  return (r.stdout.trim() ? JSON.parse(r.stdout) : {}) as T;
}

test('the AWS CLI runs the whole XKS flow through `keyhold kms-sim` against Keyhold', async () => {
  const demo = keyhold.demo!;
  const { CustomKeyStoreId: storeId } = await awsJson<{ CustomKeyStoreId: string }>([
    'kms', 'create-custom-key-store',
    '--custom-key-store-name', 'keyhold-demo',
    '--custom-key-store-type', 'EXTERNAL_KEY_STORE',
    '--xks-proxy-connectivity', 'PUBLIC_ENDPOINT',
    '--xks-proxy-uri-endpoint', keyhold.url,
    '--xks-proxy-uri-path', demo.uriPath,
    '--xks-proxy-authentication-credential', `AccessKeyId=${demo.credential.accessKeyId},RawSecretAccessKey=${demo.credential.secretAccessKey}`,
  ]);
  await awsJson(['kms', 'connect-custom-key-store', '--custom-key-store-id', storeId]);
  await eventually(async () => {
    const d = await awsJson<{ CustomKeyStores: { ConnectionState: string }[] }>(['kms', 'describe-custom-key-stores', '--custom-key-store-id', storeId]);
    return d.CustomKeyStores[0]!.ConnectionState === 'CONNECTED' ? true : undefined;
  }, 'the store to connect');
  const key = await awsJson<{ KeyMetadata: { KeyId: string; Arn: string; Origin: string } }>(['kms', 'create-key', '--origin', 'EXTERNAL_KEY_STORE', '--custom-key-store-id', storeId, '--xks-key-id', demo.keyId]);
  assert.equal(key.KeyMetadata.Origin, 'EXTERNAL_KEY_STORE');
  assert.match(key.KeyMetadata.Arn, /^arn:aws:kms:us-east-1:999988887777:key\//);
  const plaintextFile = join(tmp, 'plain.txt');
  writeFileSync(plaintextFile, 'hello from the AWS CLI');
  const enc = await awsJson<{ CiphertextBlob: string }>(['kms', 'encrypt', '--key-id', key.KeyMetadata.KeyId, '--plaintext', `fileb://${plaintextFile}`, '--encryption-context', 'app=cli']);
  const ctFile = join(tmp, 'ct.bin');
  writeFileSync(ctFile, Buffer.from(enc.CiphertextBlob, 'base64'));
  const dec = await awsJson<{ Plaintext: string; KeyId: string }>(['kms', 'decrypt', '--ciphertext-blob', `fileb://${ctFile}`, '--encryption-context', 'app=cli']);
  assert.equal(Buffer.from(dec.Plaintext, 'base64').toString(), 'hello from the AWS CLI');
  assert.equal(dec.KeyId, key.KeyMetadata.Arn);
  const wrong = await aws(['kms', 'decrypt', '--ciphertext-blob', `fileb://${ctFile}`, '--encryption-context', 'app=other']);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /KMSInvalidStateException/);

  // The request log on stdout stands in for CloudTrail, one JSON line per call.
  type Line = { eventName: string; requestId: string; errorCode?: string; proxyCalls: { xksOperation: string }[] };
  const lines = await eventually(() => {
    const all = simOut.split('\n').slice(1).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
    return all.some((l) => l.eventName === 'Decrypt' && l.errorCode) ? all : undefined;
  }, 'the request log lines on stdout');
  const names = lines.map((l) => l.eventName);
  for (const n of ['CreateCustomKeyStore', 'ConnectCustomKeyStore', 'DescribeCustomKeyStores', 'CreateKey', 'Encrypt', 'Decrypt']) assert.ok(names.includes(n), n);
  const encrypt = lines.find((l) => l.eventName === 'Encrypt')!;
  assert.deepEqual(encrypt.proxyCalls.map((c) => c.xksOperation), ['Encrypt']);
  assert.ok(readFileSync(plaintextFile, 'utf8') && !simOut.includes('hello from the AWS CLI'), 'no plaintext in the log');
  await eventually(() => (keyhold.output().includes(encrypt.requestId) ? true : undefined), 'Keyhold to log the same kmsRequestId');
  assert.equal(lines.find((l) => l.eventName === 'Decrypt' && l.errorCode)!.errorCode, 'KMSInvalidStateException');
});

test('the AWS CLI with a wrong secret is refused as KMS refuses it', async () => {
  const r = await aws(['kms', 'list-keys'], 'not-the-secret-0123456789abcdefghijkl');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /InvalidSignatureException/);
});

test('`keyhold kms-sim` refuses to start without its credential and names the settings', async () => {
  const r = await runCli(['kms-sim', '--listen', '127.0.0.1:0'], { env: { KMS_SIM_ACCESS_KEY_ID: '', KMS_SIM_SECRET_ACCESS_KEY: '' } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /KMS_SIM_ACCESS_KEY_ID/);
  assert.match(r.stderr, /KMS_SIM_SECRET_ACCESS_KEY/);
  const bad = await runCli(['kms-sim', '--listen', 'nowhere'], { env: SIM_ENV });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /HOST:PORT/);
});

test('`keyhold kms-sim` stops cleanly on SIGTERM', async () => {
  const code = await new Promise<number | null>((resolve) => {
    sim.once('exit', (c) => resolve(c));
    sim.kill('SIGTERM');
  });
  assert.equal(code, 0);
});
