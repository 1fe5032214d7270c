/**
 * AWS connections through the admin API: the secret is write-only (no read returns it),
 * adding one can wait for M-of-N approvals with the secret sealed in the stored request,
 * roles are enforced, the OpenAPI document lists the routes, and the test reaches the KMS
 * simulator with the real AWS SDK.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAdminHarness, type AdminHarness, type SignedInUser } from './support/admin-harness.js';
import { ALICE, startSimulator, type TestSimulator } from './kms-sim-support.js';

let h: AdminHarness;
let sim: TestSimulator;
let c: SignedInUser[];
let auditor: SignedInUser;
type Body = Record<string, unknown>;

before(async () => {
  h = await startAdminHarness({ demo: false });
  // The simulator trusts the server's certificate (the XKS listener shares it); a generous
  // proxy timeout, since this machine is loaded.
  sim = await startSimulator({ proxyCa: h.caPem, proxyTimeoutMs: 10_000 });
  c = [];
  for (const name of ['ana', 'ben', 'cleo']) c.push(await h.provision('custodian', name));
  auditor = await h.provision('auditor', 'ivy');
});

after(async () => {
  await sim?.close();
  await h?.dispose();
});

const call = <T = Body>(method: string, path: string, token: string, body?: unknown) => h.api.call<T>(method, `/api/v1${path}`, { token, ...(body !== undefined ? { body } : {}) });
const connection = (name: string) => ({ name, region: 'eu-west-1', endpoint: sim.url, credentials: { source: 'static', accessKeyId: ALICE.accessKeyId, secretAccessKey: ALICE.secretAccessKey } });

test('a custodian adds a connection; reads never return the secret; the test reaches the simulator', async () => {
  const r = await call<Body>('POST', '/aws/connections', c[0]!.apiKey, connection('api-sim'));
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.credentials, { source: 'static', accessKeyId: ALICE.accessKeyId, roleArn: null, externalId: null });
  for (const path of ['/aws/connections', '/aws/connections/api-sim']) {
    const read = await call('GET', path, auditor.apiKey);
    assert.equal(read.status, 200);
    assert.ok(!read.text.includes(ALICE.secretAccessKey), `${path} returns the secret`);
  }
  const t = await call<{ connected: boolean; groups: { group: string; ok: boolean }[] }>('POST', '/aws/connections/api-sim/test', c[0]!.apiKey, {});
  assert.equal(t.status, 200, t.text);
  assert.equal(t.body.connected, true);
  assert.ok(t.body.groups.every((g) => g.ok));
  assert.equal((await call('POST', '/aws/connections', auditor.apiKey, connection('nope'))).status, 403);
  assert.equal((await call('POST', '/aws/connections', c[0]!.apiKey, { ...connection('bad'), region: 'moon' })).status, 400);
});

test('2-of-N approval for adding a connection: nothing until approved, and the waiting request holds no secret in clear', async () => {
  assert.equal((await call('PUT', '/settings/approval-rules/aws.connection.add', h.admin.token, { required: 2 })).status, 200);
  const req = await call<{ pendingApproval: Body }>('POST', '/aws/connections', c[0]!.apiKey, connection('guarded'));
  assert.equal(req.status, 202, req.text);
  const id = String(req.body.pendingApproval.id);
  assert.ok(!req.text.includes(ALICE.secretAccessKey));
  assert.equal((await call('GET', '/aws/connections/guarded', c[0]!.apiKey)).status, 404);
  const shown = await call('GET', `/approvals/${id}`, c[1]!.apiKey);
  assert.ok(!shown.text.includes(ALICE.secretAccessKey), 'the approval request shows the secret');
  await call('POST', `/approvals/${id}/approve`, c[1]!.apiKey);
  const done = await call<Body>('POST', `/approvals/${id}/approve`, c[2]!.apiKey);
  assert.equal(done.status, 200, done.text);
  const conn = await call<Body>('GET', '/aws/connections/guarded', c[0]!.apiKey);
  assert.equal(conn.status, 200);
  // The approved connection works: its secret was unsealed from the request, not lost.
  assert.equal((await call<{ connected: boolean }>('POST', '/aws/connections/guarded/test', c[0]!.apiKey, {})).body.connected, true);
  await call('DELETE', '/settings/approval-rules/aws.connection.add', h.admin.token);
});

test('PATCH replaces the credential source; the OpenAPI document lists the AWS routes; no secret in the database, logs or audit', async () => {
  const p = await call<Body>('PATCH', '/aws/connections/api-sim', c[0]!.apiKey, { credentials: { source: 'default' }, regions: ['us-east-1'] });
  assert.equal(p.status, 200, p.text);
  assert.deepEqual((p.body.credentials as Body).source, 'default');
  assert.deepEqual(p.body.regions, ['eu-west-1', 'us-east-1']);
  const doc = await call<{ paths: Record<string, unknown> }>('GET', '/openapi.json', c[0]!.apiKey);
  for (const path of ['/api/v1/aws/connections', '/api/v1/aws/connections/{name}/test', '/api/v1/aws/keystores/{name}', '/api/v1/keys/{keyId}/aws', '/api/v1/aws/iam-policy']) {
    assert.ok(doc.body.paths[path], `${path} is documented`);
  }
  const files = readdirSync(h.dataDir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => readFileSync(join(d.parentPath, d.name)));
  for (const f of files) assert.ok(!f.includes(Buffer.from(ALICE.secretAccessKey)), 'a data directory file holds the AWS secret');
  assert.ok(!h.logs().includes(ALICE.secretAccessKey));
  assert.ok(!JSON.stringify(h.records).includes(ALICE.secretAccessKey));
  assert.ok(h.records.some((r) => r.action === 'aws.connections.create'));
});

test('the XKS side through the API: custom key store created and CONNECTED, status, a KMS key for a key, its link, the IAM policy', async () => {
  const tok = c[0]!.apiKey;
  assert.equal((await call('POST', '/keystores', tok, { name: 'apist', prefix: '/apist', regions: ['eu-west-1'] })).status, 200);
  assert.equal((await call('POST', '/keys', tok, { keyId: 'api-key-1', keyStore: 'apist' })).status, 200);
  const conn = await call('POST', '/aws/connections', tok, connection('xks-sim'));
  assert.equal(conn.status, 200, conn.text);
  const endpoint = `https://localhost:${h.running.xksAddress.port}`;
  const created = await call<{ connectionState: string; customKeyStoreId: string }>('POST', '/aws/keystores/apist', tok, { connection: 'xks-sim', endpoint, waitSeconds: 60 });
  assert.equal(created.status, 200, created.text);
  assert.equal(created.body.connectionState, 'CONNECTED');
  const again = await call<{ connectionState: string }>('POST', '/aws/keystores/apist/connect', tok, {});
  assert.equal(again.status, 200, again.text);
  assert.equal(again.body.connectionState, 'CONNECTED');
  const key = await call<{ kmsKeyArn: string }>('POST', '/keys/api-key-1/aws', tok, { alias: 'alias/api-key-1' });
  assert.equal(key.status, 200, key.text);
  assert.match(key.body.kmsKeyArn, /^arn:aws:kms:eu-west-1:\d{12}:key\//);
  const link = await call<{ kmsKeyArn: string }>('GET', '/keys/api-key-1/aws', auditor.apiKey);
  assert.equal(link.body.kmsKeyArn, key.body.kmsKeyArn);
  const links = await call<{ kmsKeyArn: string }[]>('GET', '/aws/key-links', auditor.apiKey);
  assert.ok(links.body.some((l) => l.kmsKeyArn === key.body.kmsKeyArn));
  const st = await call<{ connectionState: string; kmsKeys: number; linkedKeys: number }>('GET', '/aws/keystores/apist', auditor.apiKey);
  assert.deepEqual([st.body.connectionState, st.body.kmsKeys, st.body.linkedKeys], ['CONNECTED', 1, 1]);
  const policy = await call<{ Statement: unknown[] }>('GET', '/aws/iam-policy?connection=xks-sim', auditor.apiKey);
  assert.equal(policy.status, 200);
  assert.ok(policy.body.Statement.length >= 4);
  assert.equal((await call('DELETE', '/aws/connections/xks-sim', tok)).status, 409, 'a connection in use is not deleted');
  assert.equal((await call('DELETE', '/aws/connections/guarded', tok)).status, 200);
});
