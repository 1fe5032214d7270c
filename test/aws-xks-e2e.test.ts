/**
 * The XKS side in AWS, done from Keyhold, end to end on the KMS simulator: a real Keyhold
 * server, the simulator trusting its certificate, and the real CLI. connection add → test →
 * aws keystore create → CONNECTED → key create --aws-key → AWS SDK Encrypt/Decrypt with the
 * ARN → key disable → Decrypt fails → enable → works; credential rotation under traffic;
 * and the negative cases.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DecryptCommand, DescribeKeyCommand, DisconnectCustomKeyStoreCommand, EncryptCommand, GetKeyPolicyCommand, ListAliasesCommand } from '@aws-sdk/client-kms';
import { startKeyhold, type KeyholdHarness } from './support/keyhold-harness.js';
import { ACCOUNT, ALICE, errorName, eventually, startSimulator, type TestSimulator } from './kms-sim-support.js';
import { describeStore } from './e2e-kms-support.js';

let keyhold: KeyholdHarness;
let sim: TestSimulator;
let untrusting: TestSimulator;
const env = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', HTTPS_PROXY: '', https_proxy: '' };

async function json<T = Record<string, unknown>>(args: string[]): Promise<T> {
  const r = await keyhold.cli(['--json', ...args], { env });
  assert.equal(r.code, 0, `keyhold ${args.join(' ')}: ${r.stdout} ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

before(async () => {
  keyhold = await startKeyhold({ demo: false });
  // KMS gives a proxy 250 ms; this shared, loaded test machine may not. The tests are about
  // behaviour, not speed.
  sim = await startSimulator({ proxyCa: keyhold.caPem, proxyTimeoutMs: 10_000 });
  // A second simulator that does not trust Keyhold's self-signed certificate.
  untrusting = await startSimulator({});
  const secret = join(keyhold.dataDir, '..', `alice-${Date.now()}.secret`);
  writeFileSync(secret, ALICE.secretAccessKey, { mode: 0o600 });
  for (const [name, url] of [['sim', sim.url], ['untrusting', untrusting.url]] as const) {
    await json(['aws', 'connection', 'add', name, '--region', 'eu-west-1', '--endpoint', url, '--account-id', ACCOUNT, '--access-key-id', ALICE.accessKeyId, '--secret-access-key-file', secret]);
  }
  for (const ks of ['payments', 'other', 'untrusted']) await json(['keystore', 'create', ks, '--prefix', `/${ks}`, '--region', 'eu-west-1']);
});

after(async () => {
  await sim?.close();
  await untrusting?.close();
  await keyhold?.dispose();
});

test('connection test, custom key store created and CONNECTED, status counts its keys', async () => {
  const t = await json<{ connected: boolean }>(['aws', 'connection', 'test', 'sim']);
  assert.equal(t.connected, true);
  const created = await json<{ customKeyStoreId: string; connectionState: string }>(['aws', 'keystore', 'create', 'payments', '--connection', 'sim', '--endpoint', keyhold.url, '--aws-name', 'keyhold-payments']);
  assert.match(created.customKeyStoreId, /^cks-[0-9a-f]{17}$/);
  assert.equal(created.connectionState, 'CONNECTED');
  const d = await describeStore(sim.kms(), created.customKeyStoreId);
  assert.equal(d.ConnectionState, 'CONNECTED');
  assert.equal(d.XksProxyConfiguration?.UriPath, '/payments/kms/xks/v1');
  const st = await json<{ linked: boolean; connectionState: string; kmsKeys: number }>(['aws', 'keystore', 'status', 'payments']);
  assert.deepEqual([st.linked, st.connectionState, st.kmsKeys], [true, 'CONNECTED', 0]);
  const again = await keyhold.cli(['aws', 'keystore', 'create', 'payments', '--connection', 'sim', '--endpoint', keyhold.url], { env });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already linked/);
});

test('key create --aws-key: a KMS key with XksKeyId, key policy and alias; Encrypt/Decrypt with its ARN; disable stops it', async () => {
  const admin = `arn:aws:iam::${ACCOUNT}:role/key-admins`;
  const user = `arn:aws:iam::${ACCOUNT}:user/alice`;
  const k = await json<{ awsKeyArn: string; alias: string }>(['key', 'create', 'pay-1', '--keystore', 'payments', '--aws-key', '--alias', 'alias/pay-1', '--aws-admin', admin, '--aws-user', user, '--description', 'payments key']);
  assert.match(k.awsKeyArn, new RegExp(`^arn:aws:kms:eu-west-1:${ACCOUNT}:key/`));
  assert.equal(k.alias, 'alias/pay-1');
  const kms = sim.kms();
  const md = (await kms.send(new DescribeKeyCommand({ KeyId: k.awsKeyArn }))).KeyMetadata!;
  assert.equal(md.Origin, 'EXTERNAL_KEY_STORE');
  assert.equal(md.XksKeyConfiguration?.Id, 'pay-1');
  assert.equal(md.Description, 'payments key');
  const policy = JSON.parse((await kms.send(new GetKeyPolicyCommand({ KeyId: k.awsKeyArn, PolicyName: 'default' }))).Policy!) as { Statement: { Principal: { AWS: string | string[] } }[] };
  const principals = policy.Statement.flatMap((s) => [s.Principal.AWS].flat());
  assert.deepEqual(principals.sort(), [admin, `arn:aws:iam::${ACCOUNT}:root`, user].sort());
  assert.ok((await kms.send(new ListAliasesCommand({}))).Aliases!.some((a) => a.AliasName === 'alias/pay-1' && a.TargetKeyId === md.KeyId));

  // key show / key list --json name the ARN.
  assert.equal((await json<{ awsKeyArn: string }>(['key', 'show', 'pay-1'])).awsKeyArn, k.awsKeyArn);
  assert.equal((await json<{ keyId: string; awsKeyArn: string }[]>(['key', 'list'])).find((x) => x.keyId === 'pay-1')?.awsKeyArn, k.awsKeyArn);
  assert.equal((await json<{ kmsKeys: number }>(['aws', 'keystore', 'status', 'payments'])).kmsKeys, 1);

  const plaintext = Buffer.from('card 4111 1111 1111 1111');
  const enc = await kms.send(new EncryptCommand({ KeyId: 'alias/pay-1', Plaintext: plaintext, EncryptionContext: { order: '42' } }));
  const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { order: '42' } }));
  assert.deepEqual(Buffer.from(dec.Plaintext!), plaintext);

  const disabled = await keyhold.cli(['key', 'disable', 'pay-1'], { env });
  assert.equal(disabled.code, 0);
  assert.match(disabled.stderr, new RegExp(`warning: key 'pay-1' backs the KMS key ${k.awsKeyArn}`));
  await eventually(async () => ((await errorName(() => kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { order: '42' } })))) === 'KMSInvalidStateException' ? true : undefined), 'Decrypt to fail while the Keyhold key is disabled');
  await json(['key', 'enable', 'pay-1']);
  await eventually(async () => {
    const r = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { order: '42' } })).catch(() => undefined);
    return r && Buffer.from(r.Plaintext!).equals(plaintext) ? true : undefined;
  }, 'Decrypt to work again after enable');

  // A second KMS key for the same Keyhold key is refused.
  const twice = await keyhold.cli(['key', 'link-aws', 'pay-1'], { env });
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /already has a KMS key/);
});

test('credential rotation reaches AWS under traffic without losing a request; the credential AWS uses cannot be revoked', async () => {
  const kms = sim.kms();
  const before = (await json<{ awsAccessKeyId: string }>(['aws', 'keystore', 'status', 'payments'])).awsAccessKeyId;
  let stop = false;
  let ok = 0;
  const failures: string[] = [];
  const traffic = (async () => {
    while (!stop) {
      try {
        const e = await kms.send(new EncryptCommand({ KeyId: 'alias/pay-1', Plaintext: Buffer.from('x') }));
        await kms.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob }));
        ok++;
      } catch (err) {
        failures.push((err as Error).name);
      }
    }
  })();
  try {
    await eventually(() => (ok > 0 ? true : undefined), 'traffic to flow');
    const refused = await keyhold.cli(['keystore', 'credential', 'revoke', 'payments', before], { env });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /signs with/);
    const added = await json<{ accessKeyId: string; aws: { ok: boolean; mode: string; customKeyStoreId: string } }>(['keystore', 'credential', 'add', 'payments']);
    assert.equal(added.aws.ok, true, JSON.stringify(added.aws));
    assert.equal(added.aws.mode, 'in-place');
    const d = await describeStore(kms, added.aws.customKeyStoreId);
    assert.equal(d.XksProxyConfiguration?.AccessKeyId, added.accessKeyId);
    await json(['keystore', 'credential', 'revoke', 'payments', before]);
    const n = ok;
    await eventually(() => (ok > n + 5 ? true : undefined), 'traffic to keep flowing after the old credential was revoked');
    // The new credential AWS uses now is protected in turn.
    assert.equal((await keyhold.cli(['keystore', 'credential', 'revoke', 'payments', added.accessKeyId], { env })).code, 1);
  } finally {
    stop = true;
    await traffic;
  }
  assert.deepEqual(failures, []);
  assert.ok(ok > 5);
});

test('--aws-reconnect: disconnect, update, connect, with the outage reported', async () => {
  const r = await json<{ aws: { ok: boolean; mode: string; outageMs: number; connectionState: string } }>(['keystore', 'credential', 'add', 'payments', '--aws-reconnect']);
  assert.equal(r.aws.ok, true, JSON.stringify(r.aws));
  assert.equal(r.aws.mode, 'reconnect');
  assert.equal(r.aws.connectionState, 'CONNECTED');
  assert.ok(r.aws.outageMs >= 0);
  const human = await keyhold.cli(['keystore', 'credential', 'list', 'payments'], { env });
  assert.equal(human.code, 0);
});

test('negative cases: name taken, untrusted certificate, region not in the connection, key store not linked', async () => {
  const taken = await keyhold.cli(['aws', 'keystore', 'create', 'other', '--connection', 'sim', '--endpoint', keyhold.url, '--aws-name', 'keyhold-payments'], { env });
  assert.equal(taken.code, 1, taken.stderr);
  assert.match(taken.stderr, /CustomKeyStoreNameInUseException/);
  assert.match(taken.stderr, /--aws-name/);
  assert.equal((await json<{ linked: boolean }>(['aws', 'keystore', 'status', 'other'])).linked, false);

  // The simulator does not trust Keyhold's certificate: CreateCustomKeyStore's health check fails.
  const untrusted = await keyhold.cli(['aws', 'keystore', 'create', 'untrusted', '--connection', 'untrusting', '--endpoint', keyhold.url], { env });
  assert.equal(untrusted.code, 1, untrusted.stderr);
  assert.match(untrusted.stderr, /XksProxyUriUnreachableException|XksProxyInvalidConfigurationException/);
  assert.match(untrusted.stderr, /what to fix: .*(TLS|public CA)/);

  const region = await keyhold.cli(['aws', 'keystore', 'create', 'other', '--connection', 'sim', '--endpoint', keyhold.url, '--region', 'us-west-2'], { env });
  assert.equal(region.code, 2);
  assert.match(region.stderr, /not one of connection 'sim' Regions/);

  // A key in a store without a custom key store: the Keyhold key is kept, with how to retry.
  const r = await keyhold.cli(['--json', 'key', 'create', 'orphan', '--keystore', 'other', '--aws-key'], { env });
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout) as { keyId: string; awsKeyArn: null; awsError: string; retry: string };
  assert.equal(out.keyId, 'orphan');
  assert.equal(out.awsKeyArn, null);
  assert.match(out.awsError, /no custom key store in AWS/);
  assert.equal(out.retry, 'keyhold key link-aws orphan');
  assert.equal((await json<{ keyId: string }>(['key', 'show', 'orphan'])).keyId, 'orphan');
});

test('a FAILED connection prints the ConnectionErrorCode with what to fix, and connects again once fixed', async () => {
  const kms = sim.kms();
  const cks = (await json<{ customKeyStoreId: string }>(['aws', 'keystore', 'status', 'payments'])).customKeyStoreId;
  await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: cks }));
  await eventually(async () => ((await describeStore(kms, cks)).ConnectionState === 'DISCONNECTED' ? true : undefined), 'the store to disconnect');
  // Keyhold is down: KMS cannot reach the proxy.
  await keyhold.stop();
  const r = await keyhold.cli(['aws', 'keystore', 'connect', 'payments', '--wait-seconds', '60'], { env });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /is FAILED/);
  assert.match(r.stdout, /ConnectionErrorCode: XKS_PROXY_NOT_REACHABLE/);
  assert.match(r.stdout, /What to fix: AWS KMS cannot reach the endpoint/);
  await keyhold.start();
  // A FAILED store is disconnected first, then connected.
  const again = await json<{ connectionState: string }>(['aws', 'keystore', 'connect', 'payments']);
  assert.equal(again.connectionState, 'CONNECTED');
});

test('no AWS secret in the data directory, the logs, the audit log or --json output', async () => {
  const outputs = [
    (await keyhold.cli(['--json', 'aws', 'connection', 'list'], { env })).stdout,
    (await keyhold.cli(['--json', 'aws', 'connection', 'show', 'sim'], { env })).stdout,
    (await keyhold.cli(['--json', 'aws', 'keystore', 'status', 'payments'], { env })).stdout,
    (await keyhold.cli(['audit', 'export'], { env })).stdout,
    keyhold.output(),
  ];
  assert.match(outputs[3]!, /aws\.keystores\.create/);
  assert.match(outputs[3]!, /aws\.keys\.create/);
  const files = readdirSync(keyhold.dataDir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => readFileSync(join(d.parentPath, d.name)));
  for (const o of outputs) assert.ok(!o.includes(ALICE.secretAccessKey), 'an output holds the AWS secret');
  for (const f of files) assert.ok(!f.includes(Buffer.from(ALICE.secretAccessKey)), 'a data directory file holds the AWS secret');
});
