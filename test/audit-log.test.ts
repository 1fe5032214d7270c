import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { startKeyhold, type KeyholdHarness } from './support/keyhold-harness.js';
import { demoXksClient, sealedFields, xksClient, type XksClient } from './support/xks-client.js';

type Line = Record<string, unknown> & { seq: number; kind: string };

let h: KeyholdHarness;
let c: XksClient;

before(async () => {
  h = await startKeyhold();
  c = demoXksClient(h);
});

after(async () => {
  c?.close();
  await h?.dispose();
});

async function exportLines(args: string[] = []): Promise<Line[]> {
  const r = await h.cli(['audit', 'export', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
}

const ARN = 'arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

test('every XKS call is recorded with who, what, which key and the outcome', async () => {
  const md = {
    kmsRequestId: 'rec-enc-1',
    kmsViaService: 'ebs',
    awsSourceVpc: 'vpc-0123456789abcdef0',
    awsSourceVpce: 'vpce-0123456789abcdef0',
  };
  const e = await c.encrypt('demo-key', { plaintext: Buffer.from('record me, not my plaintext'), md });
  assert.equal(e.status, 200);
  const bad = await c.decrypt('demo-key', { ciphertext: String(e.body.ciphertext), initializationVector: String(e.body.initializationVector), authenticationTag: Buffer.alloc(16).toString('base64'), ciphertextMetadata: String(e.body.ciphertextMetadata), md: { kmsRequestId: 'rec-dec-bad' } });
  assert.equal(bad.status, 400);
  const health = await c.health();
  assert.equal(health.status, 200);
  const intruder = xksClient({ url: h.url, caPem: h.caPem, uriPath: h.demo!.uriPath, credential: { accessKeyId: h.demo!.credential.accessKeyId, secretAccessKey: 'not-the-secret' } });
  const denied = await intruder.encrypt('demo-key', { plaintext: Buffer.from('x'), md: { kmsRequestId: 'rec-intruder' } });
  intruder.close();
  assert.equal(denied.status, 401);

  const lines = await exportLines();
  const enc = lines.find((l) => l.kmsRequestId === 'rec-enc-1')!;
  assert.ok(enc, 'the encrypt is in the log');
  assert.equal(typeof enc.time, 'string');
  assert.ok(!Number.isNaN(Date.parse(String(enc.time))));
  assert.equal(typeof enc.node, 'string');
  assert.deepEqual(
    {
      kind: enc.kind,
      operation: enc.operation,
      kmsOperation: enc.kmsOperation,
      keyStore: enc.keyStore,
      keyId: enc.keyId,
      keyVersion: enc.keyVersion,
      authenticated: enc.authenticated,
      accessKeyId: enc.accessKeyId,
      awsPrincipalArn: enc.awsPrincipalArn,
      kmsKeyArn: enc.kmsKeyArn,
      kmsViaService: enc.kmsViaService,
      awsSourceVpc: enc.awsSourceVpc,
      awsSourceVpce: enc.awsSourceVpce,
      status: enc.status,
      outcome: enc.outcome,
    },
    {
      kind: 'xks',
      operation: 'encrypt',
      kmsOperation: 'Encrypt',
      keyStore: 'demo',
      keyId: 'demo-key',
      keyVersion: 1,
      authenticated: true,
      accessKeyId: h.demo!.credential.accessKeyId,
      awsPrincipalArn: 'arn:aws:iam::111122223333:role/App',
      kmsKeyArn: ARN,
      kmsViaService: 'ebs',
      awsSourceVpc: 'vpc-0123456789abcdef0',
      awsSourceVpce: 'vpce-0123456789abcdef0',
      status: 200,
      outcome: 'ok',
    },
  );
  assert.equal(typeof enc.latencyMs, 'number');
  assert.match(String(enc.mac), /^[0-9a-f]{64}$/);

  const dec = lines.find((l) => l.kmsRequestId === 'rec-dec-bad')!;
  assert.equal(dec.outcome, 'error');
  assert.equal(dec.errorName, 'InvalidCiphertextException');
  assert.equal(dec.status, 400);
  assert.ok(lines.some((l) => l.kind === 'xks' && l.operation === 'health' && l.kmsOperation === 'KmsHealthCheck'));
  // A forged signature is recorded too (as unauthenticated; its body was never parsed).
  const forged = lines.find((l) => l.kind === 'xks' && l.errorName === 'AuthenticationFailedException')!;
  assert.ok(forged);
  assert.equal(forged.authenticated, false);
  assert.equal(forged.kmsRequestId, undefined);

  const v = await h.cli(['audit', 'verify']);
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /^Audit log OK: \d+ record\(s\) verified\.$/m);
});

test('key usage shows the KMS keys and principals that used a key, per operation and outcome', async () => {
  await h.json(['key', 'create', 'usage-key', '--keystore', 'demo']);
  const other = 'arn:aws:kms:eu-west-1:444455556666:key/1111';
  for (let i = 0; i < 3; i++) assert.equal((await c.encrypt('usage-key', { plaintext: Buffer.from('p') })).status, 200);
  const e = await c.encrypt('usage-key', { plaintext: Buffer.from('p'), md: { kmsKeyArn: other, awsPrincipalArn: 'arn:aws:iam::444455556666:role/Batch' } });
  const fields = sealedFields(e);
  assert.equal((await c.decrypt('usage-key', { ...fields, md: { kmsKeyArn: other, awsPrincipalArn: 'arn:aws:iam::444455556666:role/Batch' } })).status, 200);
  assert.equal((await c.decrypt('usage-key', { ...fields, aad: Buffer.from('wrong') })).status, 400);

  const u = await h.json<{ keyId: string; calls: number; lastUsedAt: string; kmsKeyArns: { kmsKeyArn: string; calls: number }[]; principals: { principal: string; calls: number }[]; operations: { operation: string; outcome: string; calls: number }[] }>(['key', 'usage', 'usage-key']);
  assert.equal(u.keyId, 'usage-key');
  assert.equal(u.calls, 6);
  assert.ok(!Number.isNaN(Date.parse(u.lastUsedAt)));
  assert.deepEqual(u.kmsKeyArns.map((a) => [a.kmsKeyArn, a.calls]), [[ARN, 4], [other, 2]]);
  assert.deepEqual(u.principals.map((p) => [p.principal, p.calls]), [['arn:aws:iam::111122223333:role/App', 4], ['arn:aws:iam::444455556666:role/Batch', 2]]);
  assert.deepEqual(
    u.operations.map((o) => [o.operation, o.outcome, o.calls]),
    [
      ['encrypt', 'ok', 4],
      ['decrypt', 'ok', 1],
      ['decrypt', 'InvalidCiphertextException', 1],
    ],
  );
  const human = await h.cli(['key', 'usage', 'usage-key']);
  assert.equal(human.code, 0);
  assert.match(human.stdout, /Calls:\s+6/);
  assert.match(human.stdout, /arn:aws:iam::444455556666:role\/Batch\s+2/);

  const fresh = await h.cli(['key', 'usage', 'demo-key-unused']);
  assert.equal(fresh.code, 3, 'an unknown key is not found');
  await h.json(['key', 'create', 'never-used', '--keystore', 'demo']);
  assert.match((await h.cli(['key', 'usage', 'never-used'])).stdout, /has no recorded use/);
});

test('admin actions made through the CLI are recorded, as the OS user, without secrets', async () => {
  const ks = await h.json<{ secretAccessKey: string; accessKeyId: string }>(['keystore', 'create', 'payments', '--prefix', '/payments']);
  const cred = await h.json<{ secretAccessKey: string; accessKeyId: string }>(['keystore', 'credential', 'add', 'payments']);
  await h.json(['keystore', 'credential', 'revoke', 'payments', ks.accessKeyId]);
  await h.json(['keystore', 'disable', 'payments']);
  await h.json(['keystore', 'enable', 'payments']);
  const policyFile = join(h.dataDir, 'policy.json');
  writeFileSync(policyFile, JSON.stringify({ default: 'deny', rules: [{ id: 'app', effect: 'allow', principals: ['arn:aws:iam::111122223333:role/App'] }] }));
  await h.json(['keystore', 'policy', 'set', 'payments', '--file', policyFile]);
  await h.json(['key', 'create', 'pay-1', '--keystore', 'payments']);
  await h.json(['key', 'disable', 'pay-1']);
  await h.json(['key', 'enable', 'pay-1']);
  await h.json(['key', 'rotate', 'pay-1']);
  const failed = await h.cli(['key', 'rotate', 'no-such-key']);
  assert.equal(failed.code, 3);
  const aws = await h.cli(['keystore', 'aws-config', 'payments']);
  assert.equal(aws.code, 0);
  await h.json(['key', 'update', 'pay-1', '--description', 'payments data keys', '--rotation-days', '90']);
  await h.json(['key', 'schedule-deletion', 'pay-1', '--days', '7']);
  await h.json(['key', 'cancel-deletion', 'pay-1']);
  await h.json(['key', 'delete-version', 'pay-1', '1']);
  const added = await h.json<{ oneTimePassword: string }>(['admin', 'user', 'add', 'carol', '--role', 'auditor']);
  await h.json(['admin', 'user', 'set-role', 'carol', 'custodian']);
  await h.json(['admin', 'user', 'disable', 'carol']);
  const reset = await h.json<{ oneTimePassword: string }>(['admin', 'reset-password', 'carol', '--enable']);

  const admin = (await exportLines(['--since', '2000-01-01T00:00:00Z'])).filter((l) => l.kind === 'admin' && l.source !== 'audit'); // not the log's own first record
  const actions = admin.map((l) => `${String(l.action)} ${String(l.target)} ${String(l.outcome)}`);
  for (const expected of [
    'keystores.create payments ok',
    'keystores.credentials.add payments ok',
    'keystores.credentials.revoke payments ok',
    'keystores.disable payments ok',
    'keystores.enable payments ok',
    'keystores.policy.set payments ok',
    'keys.create pay-1 ok',
    'keys.disable pay-1 ok',
    'keys.enable pay-1 ok',
    'keys.rotate pay-1 ok',
    'keys.rotate no-such-key error',
    'keystores.aws-config payments ok',
    'keys.update pay-1 ok',
    'keys.schedule-deletion pay-1 ok',
    'keys.cancel-deletion pay-1 ok',
    'keys.versions.delete pay-1 ok',
    'users.create carol ok',
    'users.update carol ok',
    'users.reset-password carol ok',
  ]) {
    assert.ok(actions.includes(expected), `${expected} is recorded (got: ${actions.join('; ')})`);
  }
  for (const l of admin) {
    assert.equal(l.actor, userInfo().username);
    assert.equal(l.source, 'cli');
  }
  assert.equal(admin.find((l) => l.action === 'keys.rotate' && l.outcome === 'error')!.errorName, 'KeyNotFound');
  assert.deepEqual((admin.find((l) => l.action === 'keystores.credentials.add')!.change as { accessKeyId: string }).accessKeyId, cred.accessKeyId);
  assert.equal((admin.find((l) => l.action === 'keystores.policy.set')!.change as { policy: { default: string } }).policy.default, 'deny');
  const all = JSON.stringify(admin);
  for (const secret of [ks.secretAccessKey, cred.secretAccessKey, h.demo!.credential.secretAccessKey]) assert.ok(!all.includes(secret), 'no SigV4 secret in admin records');
  for (const password of [added.oneTimePassword, reset.oneTimePassword]) assert.ok(!all.includes(password), 'no admin password in admin records');
  assert.deepEqual(admin.filter((l) => l.target === 'carol' && l.action === 'users.update').map((l) => l.change), [{ role: 'custodian' }, { enabled: false }]);
  // The audit key's creation wrote the first record, then init itself is recorded.
  const [first, init, second] = await exportLines();
  assert.deepEqual([first!.seq, first!.action, first!.target, first!.actor], [1, 'audit.start', 'main', 'keyhold']);
  assert.deepEqual([init!.seq, init!.action], [2, 'keyhold.init']);
  assert.deepEqual([second!.action, (second!.change as { bootstrap?: boolean }).bootstrap], ['users.create', true], 'the bootstrap admin is recorded, never its password');
  // Exporting is recorded as well.
  assert.ok((await exportLines()).some((l) => l.action === 'audit.export'));
  const byKey = await exportLines(['--key', 'pay-1']);
  assert.deepEqual(byKey.map((l) => l.action), ['keys.create', 'keys.disable', 'keys.enable', 'keys.rotate', 'keys.update', 'keys.schedule-deletion', 'keys.cancel-deletion', 'keys.versions.delete']);
  const byStore = await exportLines(['--keystore', 'payments']);
  assert.ok(byStore.every((l) => l.keyStore === 'payments'));
  assert.ok(byStore.some((l) => l.action === 'keystores.policy.set'));
});

test('export rejects a bad time and writes files readable only by the owner', async () => {
  const r = await h.cli(['audit', 'export', '--since', 'last tuesday']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /since 'last tuesday' is not a date or time/);
  const file = join(h.dataDir, 'export.jsonl');
  const w = await h.cli(['audit', 'export', '--output', file]);
  assert.equal(w.code, 0, w.stderr);
  const { statSync, readFileSync } = await import('node:fs');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.ok(readFileSync(file, 'utf8').split('\n').filter(Boolean).length > 5);
});

test('the usage aggregate agrees with the log it summarises', async () => {
  const lines = (await exportLines()).filter((l) => l.kind === 'xks' && l.authenticated === true && l.keyId === 'usage-key');
  const db = new BetterSqlite3(join(h.dataDir, 'keyhold.db'), { readonly: true });
  const total = (db.prepare("SELECT sum(count) AS n FROM audit_key_usage WHERE key_id = 'usage-key'").get() as { n: number }).n;
  db.close();
  assert.equal(total, lines.length);
});
