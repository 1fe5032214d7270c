import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { APPROVAL_ACTIONS, verifyAuditSegment } from '../src/domain/index.js';
import { DAY, operationsOf, pathMatcher, startAdminHarness, type AdminHarness, type SignedInUser } from './support/admin-harness.js';

/**
 * Every admin API route, called over real HTTPS against a server started in this process,
 * with the answer checked. The last test proves each operation of the OpenAPI document
 * succeeded at least once here, so a new route without a test fails the suite.
 */
let h: AdminHarness;
let custodian: SignedInUser;
let custodian2: SignedInUser;
let auditor: SignedInUser;
type Body = Record<string, unknown>;

before(async () => {
  h = await startAdminHarness({ metrics: { render: async () => '# TYPE keyhold_xks_requests_total counter\nkeyhold_xks_requests_total 0\n' } });
  custodian = await h.provision('custodian', 'carol');
  custodian2 = await h.provision('custodian', 'dave');
  auditor = await h.provision('auditor', 'erin');
});

after(async () => {
  await h?.dispose();
});

const call = <T = Body>(method: string, path: string, token: string | undefined, body?: unknown) => h.api.call<T>(method, `/api/v1${path}`, { token, ...(body !== undefined ? { body } : {}) });

test('GET /openapi.json is an OpenAPI 3 document with security schemes and role annotations', async () => {
  const r = await call<{ openapi: string; paths: Record<string, Record<string, Body>>; components: { securitySchemes: Body; schemas: Body } }>('GET', '/openapi.json', undefined);
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /application\/json/);
  assert.equal(r.body.openapi, '3.0.3');
  assert.ok(r.body.components.securitySchemes.bearer);
  assert.ok(r.body.components.schemas.Key, 'view schemas are shared components');
  const login = r.body.paths['/api/v1/auth/login']!.post!;
  assert.deepEqual(login['x-keyhold-roles'], ['public']);
  assert.ok(login.requestBody, 'request bodies are documented from the zod schemas');
  const del = r.body.paths['/api/v1/keys/{keyId}/schedule-deletion']!.post!;
  assert.equal(del['x-keyhold-approval'], 'key.schedule-deletion');
  assert.ok((del.responses as Body)['202'], 'guarded operations document their 202');
});

test('auth: login, whoami, wrong password, bad token', async () => {
  const ok = await h.login(custodian.username, custodian.password);
  assert.equal(ok.status, 200);
  assert.match(String(ok.body.token), /^khs_/);
  assert.equal((ok.body.user as Body).role, 'custodian');
  const who = await call<{ user: Body; via: string }>('GET', '/auth/whoami', String(ok.body.token));
  assert.equal(who.status, 200);
  assert.equal(who.body.user.username, custodian.username);
  assert.equal(who.body.via, 'session');
  const bad = await h.login(custodian.username, 'not the password at all');
  assert.equal(bad.status, 401);
  assert.equal(bad.body.error, 'AuthenticationFailed');
  const unknown = await h.login('nobody-here', 'not the password at all');
  assert.deepEqual(unknown.body, bad.body, 'unknown users get the same answer as wrong passwords');
  const forged = await call('GET', '/auth/whoami', 'khs_' + 'A'.repeat(43));
  assert.equal(forged.status, 401);
  assert.match(String(forged.headers['www-authenticate']), /Bearer/);
});

test('auth: change password ends the other sessions and keeps this one', async () => {
  const u = await h.provision('auditor', 'frank');
  const other = String((await h.login(u.username, u.password)).body.token);
  const next = 'A-new-and-longer-passphrase-42';
  const r = await call<{ user: Body }>('POST', '/auth/password', u.token, { currentPassword: u.password, newPassword: next });
  assert.equal(r.status, 200);
  assert.equal(r.body.user.mustChangePassword, false);
  assert.equal((await call('GET', '/auth/whoami', u.token)).status, 200, 'the session that changed it stays');
  assert.equal((await call('GET', '/auth/whoami', other)).status, 401, 'other sessions end');
  const wrong = await call('POST', '/auth/password', u.token, { currentPassword: 'wrong-wrong-wrong', newPassword: 'Yet-another-passphrase-7' });
  assert.equal(wrong.status, 401);
  const short = await call('POST', '/auth/password', u.token, { currentPassword: next, newPassword: 'short' });
  assert.equal(short.status, 400);
});

test('auth: API keys are shown once, act with the owner’s role, and stop working when revoked', async () => {
  const created = await call<{ apiKey: string; info: Body }>('POST', '/auth/api-keys', custodian.token, { name: 'ci-pipeline', expiresInDays: 30 });
  assert.equal(created.status, 200);
  assert.match(created.body.apiKey, /^kha_/);
  const list = await call<Body[]>('GET', '/auth/api-keys', custodian.token);
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.map((k) => k.name).sort(), ['ci-pipeline', 'harness']);
  assert.ok(!JSON.stringify(list.body).includes(created.body.apiKey), 'the key is never listed');
  const who = await call<{ user: Body; via: string }>('GET', '/auth/whoami', created.body.apiKey);
  assert.equal(who.body.via, 'api-key');
  assert.equal((await call('GET', '/keystores', created.body.apiKey)).status, 200, 'custodian rights');
  assert.equal((await call('GET', '/users', created.body.apiKey)).status, 403, 'and only those');
  assert.equal((await call('POST', '/auth/api-keys', created.body.apiKey, { name: 'offspring' })).status, 403, 'an API key cannot mint more');
  const revoked = await call<Body>('DELETE', `/auth/api-keys/${String(created.body.info.id)}`, custodian.token);
  assert.equal(revoked.status, 200);
  assert.ok(revoked.body.revokedAt);
  assert.equal((await call('GET', '/auth/whoami', created.body.apiKey)).status, 401);
  assert.equal((await call('DELETE', `/auth/api-keys/${String(created.body.info.id)}`, custodian.token)).status, 404);
});

test('users: create, list, get, change role, disable, reset password', async () => {
  const created = await call<{ user: Body; oneTimePassword: string }>('POST', '/users', h.admin.token, { username: 'grace', role: 'auditor' });
  assert.equal(created.status, 200);
  assert.equal(created.body.user.mustChangePassword, true);
  assert.equal(created.body.oneTimePassword.length, 20);
  assert.equal((await call('POST', '/users', h.admin.token, { username: 'grace', role: 'auditor' })).status, 409);
  assert.equal((await call('POST', '/users', h.admin.token, { username: 'bad name!', role: 'auditor' })).status, 400);
  assert.equal((await call('POST', '/users', h.admin.token, { username: 'henry', role: 'superuser' })).status, 400);

  const list = await call<Body[]>('GET', '/users', auditor.token);
  assert.equal(list.status, 200);
  assert.ok(list.body.some((u) => u.username === 'grace'));
  assert.ok(!JSON.stringify(list.body).includes('scrypt'), 'hashes never leave the server');
  assert.equal((await call<Body>('GET', '/users/grace', h.admin.token)).body.role, 'auditor');
  assert.equal((await call('GET', '/users/nobody', h.admin.token)).status, 404);

  const graceToken = String((await h.login('grace', created.body.oneTimePassword)).body.token);
  const promoted = await call<Body>('PATCH', '/users/grace', h.admin.token, { role: 'custodian' });
  assert.equal(promoted.body.role, 'custodian');
  assert.equal((await call('GET', '/auth/whoami', graceToken)).status, 401, 'a role change ends sessions');

  const disabled = await call<Body>('PATCH', '/users/grace', h.admin.token, { enabled: false });
  assert.equal(disabled.body.enabled, false);
  const reset = await call<{ user: Body; oneTimePassword: string }>('POST', '/users/grace/reset-password', h.admin.token);
  assert.equal(reset.status, 200);
  assert.notEqual(reset.body.oneTimePassword, created.body.oneTimePassword);
  assert.equal((await h.login('grace', reset.body.oneTimePassword)).status, 401, 'still disabled');
  await call('PATCH', '/users/grace', h.admin.token, { enabled: true });
  assert.equal((await h.login('grace', reset.body.oneTimePassword)).status, 200);
  assert.equal((await h.login('grace', created.body.oneTimePassword)).status, 401, 'the old one-time password is gone');
});

test('users: the last enabled administrator can be neither disabled nor demoted', async () => {
  const r = await call<Body>('PATCH', `/users/${h.admin.username}`, h.admin.token, { enabled: false });
  assert.equal(r.status, 409);
  assert.match(String(r.body.message), /last enabled administrator/);
  assert.equal((await call('PATCH', `/users/${h.admin.username}`, h.admin.token, { role: 'auditor' })).status, 409);
});

test('settings: approval rules are set, listed and removed by administrators', async () => {
  const put = await call<Body>('PUT', '/settings/approval-rules/keystore.delete', h.admin.token, { required: 2, ttlMinutes: 60 });
  assert.equal(put.status, 200);
  assert.equal(put.body.required, 2);
  assert.equal(put.body.updatedBy, h.admin.username);
  const named = await call<Body>('PUT', '/settings/approval-rules/key.disable', h.admin.token, { required: 1, approvers: [custodian2.username] });
  assert.deepEqual(named.body.approvers, [custodian2.username]);
  assert.equal((await call('PUT', '/settings/approval-rules/key.disable', h.admin.token, { required: 2, approvers: [custodian2.username] })).status, 400, 'M > N');
  assert.equal((await call('PUT', '/settings/approval-rules/key.disable', h.admin.token, { required: 1, approvers: [auditor.username] })).status, 400, 'approvers are custodians');
  assert.equal((await call('PUT', '/settings/approval-rules/key.explode', h.admin.token, { required: 1 })).status, 400);
  const list = await call<Body[]>('GET', '/settings/approval-rules', auditor.token);
  assert.deepEqual(list.body.map((r) => r.action).sort(), ['key.disable', 'keystore.delete']);
  assert.equal((await call('DELETE', '/settings/approval-rules/keystore.delete', h.admin.token)).status, 200);
  assert.equal((await call('DELETE', '/settings/approval-rules/keystore.delete', h.admin.token)).status, 404);
});

test('settings: the approval rule catalogue names every rule with what it guards and the operations it covers, for every role', async () => {
  type Info = { name: string; description: string; routes: { method: string; path: string; operationId: string; when: string | null }[] };
  for (const token of [h.admin.token, custodian.token, auditor.token]) {
    const r = await call<Info[]>('GET', '/approval-rules/catalog', token);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.map((i) => i.name), [...APPROVAL_ACTIONS], 'every rule a rule can be set for, in order');
    for (const i of r.body) assert.ok(i.description.length > 10, `${i.name} says what it guards`);
    const by = new Map(r.body.map((i) => [i.name, i]));
    const ops = (name: string) => by.get(name)!.routes.map((o) => `${o.method} ${o.operationId}`).sort();
    assert.deepEqual(ops('tls.change'), ['DELETE tls.remove', 'PUT tls.install'].sort());
    assert.ok(ops('user.set-role').includes('PATCH users.update'), ops('user.set-role').join());
    assert.match(by.get('user.set-role')!.routes.find((o) => o.operationId === 'users.update')!.when ?? '', /role changes/);
    assert.ok(ops('aws.key.disable').includes('POST aws.keys.delete-material'));
    assert.equal(by.get('key.disable')!.routes.find((o) => o.operationId === 'keys.disable')?.when, null, 'a plain disable is always covered');
  }
  assert.equal((await call('GET', '/approval-rules/catalog', undefined)).status, 401);
});

test('keystores: create shows the secret once; list, get, regions, enable, disable', async () => {
  const created = await call<{ keyStore: Body; uriPath: string; credential: { accessKeyId: string; secretAccessKey: string } }>('POST', '/keystores', custodian.token, {
    name: 'payments',
    prefix: '/payments',
    regions: ['eu-west-1'],
  });
  assert.equal(created.status, 200);
  assert.equal(created.body.uriPath, '/payments/kms/xks/v1');
  assert.match(created.body.credential.secretAccessKey, /^[A-Za-z0-9/+=]{44}$/);
  assert.equal((await call('POST', '/keystores', custodian.token, { name: 'payments', prefix: '/other' })).status, 409);
  assert.equal((await call('POST', '/keystores', custodian.token, { name: 'bad', prefix: '/has.dot' })).status, 400);
  for (const prefix of ['/a//b', '/trailing/', '//', '/x/kms/xks/v1/']) {
    const r = await call<{ message?: string }>('POST', '/keystores', custodian.token, { name: 'bad', prefix });
    assert.equal(r.status, 400, `prefix ${prefix}: ${r.text}`);
  }

  const list = await call<Body[]>('GET', '/keystores', auditor.token);
  assert.ok(list.body.some((k) => k.name === 'payments'));
  assert.ok(!list.text.includes(created.body.credential.secretAccessKey));
  const got = await call<Body>('GET', '/keystores/payments', auditor.token);
  assert.deepEqual(got.body.regions, ['eu-west-1']);
  assert.equal((await call('GET', '/keystores/nope', auditor.token)).status, 404);

  const regions = await call<Body>('PUT', '/keystores/payments/regions', custodian.token, { regions: ['us-east-1', 'eu-west-1'] });
  assert.deepEqual(regions.body.regions, ['eu-west-1', 'us-east-1']);
  assert.equal((await call('PUT', '/keystores/payments/regions', custodian.token, { regions: ['mars-1'] })).status, 400);
  const quota = await call<Body>('PUT', '/keystores/payments/quota', custodian.token, { rps: 1800 });
  assert.deepEqual(quota.body.quota, { rps: 1800, burst: 1800 });
  assert.equal((await call('PUT', '/keystores/payments/quota', custodian.token, { rps: 0 })).status, 400);
  assert.equal((await call('PUT', '/keystores/payments/quota', auditor.token, { rps: 10 })).status, 403);
  assert.equal((await call<Body>('DELETE', '/keystores/payments/quota', custodian.token)).body.quota, null);
  assert.equal((await call<Body>('POST', '/keystores/payments/disable', custodian.token)).body.enabled, false);
  assert.equal((await call<Body>('POST', '/keystores/payments/enable', custodian.token)).body.enabled, true);
});

test('keystores: credentials are listed without secrets, added (two live at most) and revoked', async () => {
  const first = (await call<Body[]>('GET', '/keystores/payments/credentials', auditor.token)).body;
  assert.equal(first.length, 1);
  assert.equal(first[0]!.live, true);
  assert.ok(!('secretAccessKey' in first[0]!));
  const added = await call<{ id: string; accessKeyId: string; secretAccessKey: string }>('POST', '/keystores/payments/credentials', custodian.token);
  assert.equal(added.status, 200);
  assert.ok(added.body.secretAccessKey);
  const third = await call<Body>('POST', '/keystores/payments/credentials', custodian.token);
  assert.equal(third.status, 409);
  assert.equal(third.body.error, 'LimitExceeded');
  const revoked = await call<Body>('DELETE', `/keystores/payments/credentials/${String(first[0]!.accessKeyId)}`, custodian.token);
  assert.equal(revoked.status, 200);
  assert.equal(revoked.body.live, false);
  assert.equal((await call('DELETE', '/keystores/payments/credentials/NOSUCHKEY', custodian.token)).status, 404);
});

test('keystores: policy set, read and cleared; invalid policies change nothing', async () => {
  const policy = { default: 'deny', rules: [{ id: 'app', effect: 'allow', principals: ['arn:aws:iam::111122223333:role/App'] }] };
  const set = await call<Body>('PUT', '/keystores/payments/policy', custodian.token, { policy });
  assert.equal(set.status, 200);
  assert.deepEqual(set.body.policy, policy);
  const bad = await call('PUT', '/keystores/payments/policy', custodian.token, { policy: { default: 'maybe', rules: [] } });
  assert.equal(bad.status, 400);
  assert.deepEqual((await call<Body>('GET', '/keystores/payments/policy', auditor.token)).body.policy, policy);
  const cleared = await call<Body>('DELETE', '/keystores/payments/policy', custodian.token);
  assert.equal(cleared.body.policy, null);
  assert.equal((await call<Body>('GET', '/keystores/payments/policy', auditor.token)).body.policy, null);
});

test('keystores: aws-config exports the console file with the newest live secret, for administrators only', async () => {
  assert.equal((await call('POST', '/keystores/payments/aws-config', custodian.token, {})).status, 403);
  const r = await call<{ XksProxyUriPath: string; XksProxyAuthenticationCredential: { AccessKeyId: string; RawSecretAccessKey: string } }>('POST', '/keystores/payments/aws-config', h.admin.token, {});
  assert.equal(r.status, 200);
  assert.equal(r.body.XksProxyUriPath, '/payments/kms/xks/v1');
  assert.match(r.body.XksProxyAuthenticationCredential.RawSecretAccessKey, /^[A-Za-z0-9/+=]{44}$/);
});

test('keys: create with lifecycle settings, list, get', async () => {
  const expiresAt = new Date(h.clock.now() + 365 * 86_400_000).toISOString();
  const created = await call<Body>('POST', '/keys', custodian.token, {
    keyId: 'pay-key-1',
    keyStore: 'payments',
    description: 'card data',
    tags: { team: 'payments', env: 'prod' },
    rotationPeriodDays: 90,
    expiresAt,
  });
  assert.equal(created.status, 200, created.text);
  assert.equal(created.body.state, 'Enabled');
  assert.equal(created.body.keyStore, 'payments');
  assert.deepEqual(created.body.tags, { env: 'prod', team: 'payments' });
  assert.equal(created.body.expiresAt, expiresAt);
  assert.equal(Date.parse(String(created.body.nextRotationAt)) - h.clock.now(), 90 * 86_400_000);
  assert.equal((await call('POST', '/keys', custodian.token, { keyId: 'pay-key-1', keyStore: 'payments' })).status, 409);
  assert.equal((await call('POST', '/keys', custodian.token, { keyId: 'x', keyStore: 'nope' })).status, 404);
  for (const keyId of ['.', '..']) assert.equal((await call('POST', '/keys', custodian.token, { keyId, keyStore: 'payments' })).status, 400, `key id ${keyId}`);
  assert.equal((await call('POST', '/keys', custodian.token, { keyId: 'y', keyStore: 'payments', expiresAt: 'tomorrow' })).status, 400);
  assert.equal((await call('POST', '/keys', custodian.token, { keyId: 'z', keyStore: 'payments', rotationPeriodDays: 0 })).status, 400);

  const list = await call<Body[]>('GET', '/keys?keyStore=payments', auditor.token);
  assert.deepEqual(list.body.map((k) => k.keyId), ['pay-key-1']);
  const all = await call<Body[]>('GET', '/keys', auditor.token);
  assert.ok(all.body.some((k) => k.keyId === 'demo-key'));
  const got = await call<Body & { versions: Body[] }>('GET', '/keys/pay-key-1', auditor.token);
  assert.equal(got.body.versions.length, 1);
  assert.ok(!got.text.includes('sealed'), 'no material in views');
  assert.equal((await call('GET', '/keys/nope', auditor.token)).status, 404);
});

test('keys: exportable at creation only; import of existing material (never echoed, never audited)', async () => {
  const exp = await call<Body>('POST', '/keys', custodian.token, { keyId: 'pay-export', keyStore: 'demo', exportable: true });
  assert.equal(exp.status, 200, exp.text);
  assert.equal(exp.body.exportable, true);
  assert.equal((await call('PATCH', '/keys/pay-key-1', custodian.token, { exportable: true })).status, 400, 'cannot be turned on later');
  const material = Buffer.alloc(32, 7).toString('base64');
  const imp = await call<Body>('POST', '/keys/import', custodian.token, { keyId: 'pay-imported', keyStore: 'demo', material, exportable: true, description: 'from the old HSM' });
  assert.equal(imp.status, 200, imp.text);
  assert.equal(imp.body.origin, 'imported');
  assert.equal(imp.body.exportable, true);
  assert.ok(!imp.text.includes(material));
  assert.equal((await call('POST', '/keys/import', custodian.token, { keyId: 'pay-short', keyStore: 'demo', material: Buffer.alloc(16).toString('base64') })).status, 400);
  assert.equal((await call('POST', '/keys/import', custodian.token, { keyId: 'pay-bad', keyStore: 'demo', material: 'not base64!' })).status, 400);
  assert.equal((await call('POST', '/keys/import', auditor.token, { keyId: 'pay-aud', keyStore: 'demo', material })).status, 403);
  const imports = h.records.filter((r) => r.action === 'keys.import');
  assert.ok(imports.length >= 4, 'each import is on record');
  assert.ok(!JSON.stringify(imports).includes(material), 'the material is not in the audit records');
  assert.ok(imports.some((r) => JSON.stringify(r).includes('[redacted]')), 'the material field is redacted');
});

test('keys: update, disable, enable, rotate, delete an old version', async () => {
  const narrowing = { description: 'card data (PCI)', usage: ['decrypt'], rotationPeriodDays: null, expiresAt: null };
  const guarded = await call<{ pendingApproval: Body }>('PATCH', '/keys/pay-key-1', custodian.token, narrowing);
  assert.equal(guarded.status, 202, 'taking encrypt away falls under the key.disable rule set above');
  assert.equal(guarded.body.pendingApproval.rule, 'key.disable');
  await call('POST', `/approvals/${String(guarded.body.pendingApproval.id)}/cancel`, custodian.token);
  assert.equal((await call('PATCH', '/keys/pay-key-1', custodian.token, {})).status, 400);
  assert.equal((await call<Body>('POST', '/keys/pay-key-1/disable', custodian2.token)).status, 409, 'dave is the only approver: his own request could never reach its quorum');
  assert.equal((await call<Body>('POST', '/keys/pay-key-1/disable', custodian.token)).status, 202, 'key.disable is guarded by the rule set above');
  await call('DELETE', '/settings/approval-rules/key.disable', h.admin.token);
  const upd = await call<Body>('PATCH', '/keys/pay-key-1', custodian.token, narrowing);
  assert.equal(upd.status, 200, upd.text);
  assert.equal(upd.body.description, 'card data (PCI)');
  assert.deepEqual(upd.body.usage, ['decrypt']);
  assert.equal(upd.body.rotationPeriodDays, null);
  assert.equal(upd.body.nextRotationAt, null);
  assert.equal(upd.body.expiresAt, null);
  assert.equal((await call<Body>('POST', '/keys/pay-key-1/disable', custodian.token)).body.state, 'Disabled');
  assert.equal((await call<Body>('POST', '/keys/pay-key-1/enable', custodian.token)).body.state, 'Enabled');
  const rotated = await call<Body>('POST', '/keys/pay-key-1/rotate', custodian.token);
  assert.equal(rotated.body.currentVersion, 2);
  const current = await call<Body>('DELETE', '/keys/pay-key-1/versions/2', custodian.token);
  assert.equal(current.status, 409, 'the current version cannot be deleted');
  const del = await call<Body>('DELETE', '/keys/pay-key-1/versions/1', custodian.token);
  assert.equal(del.status, 200, del.text);
  const versions = (await call<{ versions: Body[] }>('GET', '/keys/pay-key-1', auditor.token)).body.versions;
  assert.deepEqual(versions.map((v) => v.version), [2]);
  assert.equal((await call('DELETE', '/keys/pay-key-1/versions/1', custodian.token)).status, 404);
});

test('keys: schedule deletion (7-30 days) and cancel it; the key comes back disabled', async () => {
  assert.equal((await call('POST', '/keys/pay-key-1/schedule-deletion', custodian.token, { pendingWindowInDays: 3 })).status, 400);
  const s = await call<Body>('POST', '/keys/pay-key-1/schedule-deletion', custodian.token, { pendingWindowInDays: 7 });
  assert.equal(s.status, 200, s.text);
  assert.equal(s.body.state, 'PendingDeletion');
  assert.equal(Date.parse(String(s.body.deletionDate)) - h.clock.now(), 7 * 86_400_000);
  assert.equal((await call('POST', '/keys/pay-key-1/rotate', custodian.token)).status, 409, 'no changes while pending deletion');
  assert.equal((await call('POST', '/keys/pay-key-1/schedule-deletion', custodian.token, {})).status, 409);
  const c = await call<Body>('POST', '/keys/pay-key-1/cancel-deletion', custodian.token);
  assert.equal(c.body.state, 'Disabled');
  assert.equal(c.body.deletionDate, null);
  assert.equal((await call('POST', '/keys/pay-key-1/cancel-deletion', custodian.token)).status, 409);
});

test('approvals: a guarded action waits, is listed, and runs when approved', async () => {
  await call('PUT', '/settings/approval-rules/keystore.delete', h.admin.token, { required: 1 });
  await call('POST', '/keystores', custodian.token, { name: 'scratch', prefix: '/scratch' });
  const pending = await call<{ pendingApproval: Body }>('DELETE', '/keystores/scratch', custodian.token);
  assert.equal(pending.status, 202);
  const id = String(pending.body.pendingApproval.id);
  assert.equal(pending.body.pendingApproval.status, 'pending');
  assert.equal((await call('GET', '/keystores/scratch', auditor.token)).status, 200, 'nothing happened yet');
  const list = await call<Body[]>('GET', '/approvals?status=pending', auditor.token);
  assert.ok(list.body.some((r) => r.id === id));
  assert.equal((await call<Body>('GET', `/approvals/${id}`, auditor.token)).body.summary, "delete key store 'scratch'");
  const approved = await call<Body>('POST', `/approvals/${id}/approve`, custodian2.token, { comment: 'ok, empty store' });
  assert.equal(approved.status, 200);
  assert.equal(approved.body.status, 'executed');
  assert.equal((await call('GET', '/keystores/scratch', auditor.token)).status, 404);
});

test('approvals: deny, cancel, and collecting a secret result once', async () => {
  await call('POST', '/keystores', custodian.token, { name: 'scratch2', prefix: '/scratch2' });
  const a = (await call<{ pendingApproval: Body }>('DELETE', '/keystores/scratch2', custodian.token)).body.pendingApproval;
  const denied = await call<Body>('POST', `/approvals/${String(a.id)}/deny`, custodian2.token, { comment: 'still in use' });
  assert.equal(denied.body.status, 'denied');
  const b = (await call<{ pendingApproval: Body }>('DELETE', '/keystores/scratch2', custodian.token)).body.pendingApproval;
  const cancelled = await call<Body>('POST', `/approvals/${String(b.id)}/cancel`, custodian.token);
  assert.equal(cancelled.body.status, 'cancelled');
  assert.equal((await call('GET', '/keystores/scratch2', auditor.token)).status, 200);

  await call('PUT', '/settings/approval-rules/credential.add', h.admin.token, { required: 1 });
  await call('DELETE', `/keystores/scratch2/credentials/${String(((await call<Body[]>('GET', '/keystores/scratch2/credentials', auditor.token)).body[0]!).accessKeyId)}`, custodian.token);
  const c = (await call<{ pendingApproval: Body }>('POST', '/keystores/scratch2/credentials', custodian.token)).body.pendingApproval;
  const done = await call<Body>('POST', `/approvals/${String(c.id)}/approve`, custodian2.token);
  assert.equal(done.body.status, 'executed');
  assert.equal(done.body.secretResult, 'available');
  assert.ok(!done.text.includes('secretAccessKey'), 'the approver does not see the secret');
  assert.equal((await call('POST', `/approvals/${String(c.id)}/collect`, custodian2.token)).status, 403, 'only the requester collects');
  const got = await call<{ result: { accessKeyId: string; secretAccessKey: string } }>('POST', `/approvals/${String(c.id)}/collect`, custodian.token);
  assert.equal(got.status, 200);
  assert.match(got.body.result.secretAccessKey, /^[A-Za-z0-9/+=]{44}$/);
  const again = await call<Body>('POST', `/approvals/${String(c.id)}/collect`, custodian.token);
  assert.equal(again.status, 409, 'collected once');
  assert.equal((await call<Body>('GET', `/approvals/${String(c.id)}`, auditor.token)).body.secretResult, 'collected');
  await call('DELETE', '/settings/approval-rules/credential.add', h.admin.token);
});

test('GET /metrics serves Prometheus text to administrators and auditors', async () => {
  const r = await h.api.call('GET', '/metrics', { token: auditor.token });
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^text\/plain/);
  assert.match(r.text, /keyhold_xks_requests_total 0/);
  assert.equal((await h.api.call('GET', '/metrics', {})).status, 401);
});

test('keystores: an empty key store is deleted', async () => {
  await call('DELETE', '/settings/approval-rules/keystore.delete', h.admin.token);
  await call('POST', '/keystores', custodian.token, { name: 'empty', prefix: '/empty' });
  const r = await call<Body>('DELETE', '/keystores/empty', custodian.token);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { deleted: 'empty' });
  assert.equal((await call('DELETE', '/keystores/payments', custodian.token)).status, 409, 'a store with keys is refused');
});

test('bad requests get clear errors and change nothing', async () => {
  const badJson = await h.api.call('POST', '/api/v1/keys', { token: custodian.token, body: '{"keyId":', headers: {} });
  assert.equal(badJson.status, 400);
  const extra = await call<Body>('POST', '/keys', custodian.token, { keyId: 'k', keyStore: 'payments', colour: 'red' });
  assert.equal(extra.status, 400);
  assert.equal(extra.body.error, 'ValidationFailed');
  const nowhere = await call<Body>('GET', '/no/such/route', custodian.token);
  assert.equal(nowhere.status, 404);
  const huge = await call('PUT', '/keystores/payments/policy', custodian.token, { policy: { default: 'allow', rules: [], pad: 'x'.repeat(2 * 1024 * 1024) } });
  assert.equal(huge.status, 413);
  assert.equal((await call<Body[]>('GET', '/keys?keyStore=payments', auditor.token)).body.length, 1);
});

test('logout ends the session', async () => {
  const t = String((await h.login(auditor.username, auditor.password)).body.token);
  assert.equal((await call('POST', '/auth/logout', t)).status, 200);
  assert.equal((await call('GET', '/auth/whoami', t)).status, 401);
});

test('import of the AWS sample proxy settings: a dry run reports the plan', async () => {
  const text = '[[external_key_stores]]\nuri_path_prefix = "/legacy/xks"\nsigv4_access_key_id = "ABCDEFGHIJKLMNOPQRST"\nsigv4_secret_access_key = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5"\nxks_key_id_set = ["k"]\n';
  const r = await call<{ dryRun: boolean; warnings: string[] }>('POST', '/import/sample-proxy-config', custodian.token, { text, dryRun: true });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.dryRun, true);
  assert.ok(r.body.warnings.some((w) => /hsm/i.test(w)), 'it says the token is not configured yet');
  assert.equal((await call('GET', '/keystores/legacy', auditor.token)).status, 404, 'a dry run changes nothing');
  const noHsm = await call<Body>('GET', '/hsm', auditor.token);
  assert.equal(noHsm.status, 501);
  assert.match(String(noHsm.body.message), /no \[hsm\] section/);
});

test('audit: verify, records a page at a time, and key usage (details in audit-api.test.ts)', async () => {
  const v = await call<{ ok: boolean; count: number }>('GET', '/audit/verify', auditor.token);
  assert.equal(v.status, 200, v.text);
  assert.equal(v.body.ok, true);
  const page = await call<{ records: Body[]; next: number | null }>('GET', '/audit/records?limit=2', auditor.token);
  assert.equal(page.status, 200, page.text);
  assert.equal(page.body.records.length, 2);
  assert.deepEqual(page.body.records.map((r) => r.action), ['audit.start', 'keyhold.init'], "the log's first record, then init");
  assert.equal(typeof page.body.next, 'number');
  const checkpoint = await call<Body>('GET', '/audit/checkpoint', auditor.token);
  assert.equal(checkpoint.status, 200, checkpoint.text);
  const against = await call<{ ok: boolean }>('GET', `/audit/verify?checkpoint=${Buffer.from(JSON.stringify(checkpoint.body)).toString('base64url')}`, auditor.token);
  assert.equal(against.status, 200, against.text);
  assert.equal(against.body.ok, true);
  const usage = await call<{ keyId: string; calls: number }>('GET', '/keys/demo-key/usage', custodian.token);
  assert.equal(usage.status, 200, usage.text);
  assert.equal(usage.body.keyId, 'demo-key');
});

test('audit: an administrator archives old records into archive_dir; the segment lists, downloads byte for byte and verifies offline; usage rebuilds', async () => {
  h.clock.advance(1000);
  const cutoff = new Date(h.clock.now()).toISOString();
  assert.equal((await call('POST', '/audit/archive', custodian.token, { before: cutoff })).status, 403, 'administrators only');
  assert.equal((await call('POST', '/audit/archive', auditor.token, { before: cutoff })).status, 403);
  const future = await call<Body>('POST', '/audit/archive', h.admin.token, { before: new Date(h.clock.now() + DAY).toISOString() });
  assert.equal(future.status, 400, future.text);
  assert.match(String(future.body.message), /in the future/);
  const bad = await call<Body>('POST', '/audit/archive', h.admin.token, { before: 'last tuesday' });
  assert.equal(bad.status, 400, bad.text);
  assert.match(String(bad.body.message), /not a date or time/);
  assert.deepEqual((await call<Body[]>('GET', '/audit/segments', auditor.token)).body, [], 'a refused archive writes nothing');
  const before = (await call<{ count: number }>('GET', '/audit/verify', auditor.token)).body.count;

  const a = await call<{ file: string; before: string; removed: number; bytes: number; chains: { chain: string; from: number; to: number; count: number }[] }>('POST', '/audit/archive', h.admin.token, { before: cutoff });
  assert.equal(a.status, 200, a.text);
  assert.match(a.body.file, /^audit-before-[0-9T-]+Z\.jsonl$/);
  assert.equal(a.body.before, cutoff);
  assert.ok(a.body.removed > 0);
  assert.equal(a.body.chains.reduce((n, c) => n + c.count, 0), a.body.removed);
  const again = await call<Body>('POST', '/audit/archive', h.admin.token, { before: cutoff });
  assert.equal(again.status, 400, 'nothing is left before the cutoff');
  assert.match(String(again.body.message), /nothing was archived/);

  const list = await call<Body[]>('GET', '/audit/segments', auditor.token);
  assert.equal(list.status, 200, list.text);
  assert.equal(list.body.length, 1);
  assert.equal(list.body[0]!.name, a.body.file);
  assert.equal(list.body[0]!.bytes, a.body.bytes);
  assert.equal(list.body[0]!.records, a.body.removed);
  assert.equal(list.body[0]!.before, cutoff);
  assert.deepEqual(list.body[0]!.chains, a.body.chains);

  const onDisk = readFileSync(join(h.dataDir, 'audit-archive', a.body.file), 'utf8');
  const dl = await h.api.call('GET', `/api/v1/audit/segments/${a.body.file}`, { token: h.admin.token });
  assert.equal(dl.status, 200);
  assert.match(String(dl.headers['content-type']), /application\/x-ndjson/);
  assert.equal(dl.text, onDisk, 'the exact bytes');
  const report = verifyAuditSegment(dl.text);
  assert.equal(report.ok, true, report.detail);
  assert.equal(report.count, a.body.removed);
  const rest = await call<{ ok: boolean; count: number; chains: { archived: number }[] }>('GET', '/audit/verify', auditor.token);
  assert.equal(rest.body.ok, true, rest.text);
  assert.ok(rest.body.count < before, 'the archived records left the live log');
  assert.ok(rest.body.chains[0]!.archived >= a.body.chains[0]!.to);

  // Names that leave the directory, hidden files, links and unknown names are refused.
  mkdirSync(join(h.dataDir, 'audit-archive'), { recursive: true });
  symlinkSync(join(h.dataDir, 'keyhold.toml'), join(h.dataDir, 'audit-archive', 'link.jsonl'));
  for (const [name, status] of [
    ['..%2Fkeyhold.toml', 400],
    ['..%2F..%2F..%2Fetc%2Fpasswd', 400],
    ['%2E%2E', 400],
    ['.hidden.jsonl', 400],
    ['keyhold.toml', 400],
    ['link.jsonl', 404],
    ['nope.jsonl', 404],
  ] as const) {
    const r = await h.api.call('GET', `/api/v1/audit/segments/${name}`, { token: auditor.token });
    assert.equal(r.status, status, `${name}: ${r.text}`);
    assert.doesNotMatch(r.text, /\[admin\]|root:/, `${name} shows no file`);
  }
  assert.equal((await call('GET', `/audit/segments/${a.body.file}`, custodian.token)).status, 403);
  assert.deepEqual((await call<Body[]>('GET', '/audit/segments', auditor.token)).body.map((x) => x.name), [a.body.file], 'a link is not listed');

  assert.equal((await call('POST', '/audit/rebuild-usage', custodian.token)).status, 403);
  const rebuilt = await call<{ chains: number; rows: number }>('POST', '/audit/rebuild-usage', h.admin.token);
  assert.equal(rebuilt.status, 200, rebuilt.text);
  assert.ok(rebuilt.body.chains >= 1);
  assert.equal((await call<{ ok: boolean }>('GET', '/audit/verify', auditor.token)).body.ok, true);
  const recorded = h.records.filter((r) => r.action === 'audit.archive' || r.action === 'audit.segment' || r.action === 'audit.rebuild-usage');
  assert.ok(recorded.some((r) => r.action === 'audit.archive' && r.outcome === 'ok' && (r.change as Body | undefined)?.file === a.body.file), JSON.stringify(recorded));
  assert.ok(recorded.some((r) => r.action === 'audit.segment' && r.outcome === 'ok'));
  assert.ok(recorded.some((r) => r.action === 'audit.rebuild-usage' && r.outcome === 'ok'));
});

test('tls: an administrator installs the cluster certificate (key sealed), everyone reads it, bad pairs change nothing, removal goes back to the files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keyhold-tls-'));
  try {
    const make = (name: string) => {
      const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`), '-subj', '/CN=xks.example.com', '-addext', 'subjectAltName=DNS:xks.example.com', '-days', '3650'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return { cert: readFileSync(join(dir, `${name}.crt`), 'utf8'), key: readFileSync(join(dir, `${name}.key`), 'utf8') };
    };
    const one = make('one');
    const two = make('two');
    assert.deepEqual((await call<Body>('GET', '/tls', auditor.token)).body, { installed: null });
    assert.equal((await call('PUT', '/tls', custodian.token, { certificatePem: one.cert, privateKeyPem: one.key })).status, 403);
    const mismatch = await call<Body>('PUT', '/tls', h.admin.token, { certificatePem: one.cert, privateKeyPem: two.key });
    assert.equal(mismatch.status, 400);
    assert.match(JSON.stringify(mismatch.body), /does not belong to the certificate/);
    assert.equal((await call('PUT', '/tls', h.admin.token, { certificatePem: 'not a certificate', privateKeyPem: one.key })).status, 400);
    assert.deepEqual((await call<Body>('GET', '/tls', auditor.token)).body, { installed: null }, 'a refused pair changes nothing');
    const ok = await call<{ dnsNames: string[]; fingerprint256: string }>('PUT', '/tls', h.admin.token, { certificatePem: one.cert, privateKeyPem: one.key });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body.dnsNames, ['xks.example.com']);
    assert.equal(new X509Certificate(one.cert).fingerprint256, ok.body.fingerprint256);
    const read = await call<{ installed: { fingerprint256: string } }>('GET', '/tls', auditor.token);
    assert.equal(read.body.installed.fingerprint256, ok.body.fingerprint256);
    // The private key is stored sealed, never as PEM, and never recorded.
    assert.doesNotMatch(JSON.stringify(h.records), /PRIVATE KEY/);
    const db = new Database(h.dbPath, { readonly: true });
    try {
      const row = db.prepare("SELECT value FROM meta WHERE name = 'tls.xks'").get() as { value: string };
      assert.doesNotMatch(row.value, /PRIVATE KEY/);
      assert.ok(!row.value.includes(one.key.split('\n')[1]!));
    } finally {
      db.close();
    }
    assert.equal((await call('DELETE', '/tls', h.admin.token)).status, 200);
    assert.deepEqual((await call<Body>('GET', '/tls', auditor.token)).body, { installed: null });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('GET /cluster on SQLite says there is no cluster registry', async () => {
  const r = await call<Body>('GET', '/cluster', auditor.token);
  assert.equal(r.status, 501);
  assert.match(JSON.stringify(r.body), /SQLite: one node, no cluster registry/);
});

/**
 * Routes that need a PKCS#11 token succeed in admin-hsm.test.ts, against SoftHSM2; the
 * cluster registry in cluster-postgres.test.ts, against PostgreSQL.
 */
const COVERED_WITH_A_TOKEN = ['hsm.status', 'hsm.set-pin', 'keys.adopt', 'cluster.status'];
test('status: health as KMS sees it and the XKS certificate expiry, for every role (the console overview)', async () => {
  for (const token of [h.admin.token, custodian.token, auditor.token]) {
    const r = await call<{ health: { kmsView: string; ekmFleetDetails: { healthStatus: string }[] }; certificate: { notAfter: string; daysToExpire: number }; hsm: { configured: boolean } }>('GET', '/status', token);
    assert.equal(r.status, 200, r.text);
    assert.ok(['ACTIVE', 'DEGRADED', 'UNAVAILABLE'].includes(r.body.health.kmsView));
    assert.ok(r.body.health.ekmFleetDetails.length >= 1);
    assert.ok(Date.parse(r.body.certificate.notAfter) > h.clock.now(), 'the certificate is valid now');
    assert.ok(r.body.certificate.daysToExpire > 300, 'a new self-signed certificate has about a year');
    assert.equal(r.body.hsm.configured, false);
  }
  assert.equal((await call('GET', '/status', undefined)).status, 401);
});

/** The AWS plane's routes need an AWS endpoint: they succeed in aws-admin-api.test.ts, against the KMS simulator. */
/** The AWS routes, and the local key's links into AWS, succeed in aws-key-api.test.ts and aws-admin-api.test.ts, against the KMS simulator. */
const COVERED_WITH_AWS = (id: string) => id.startsWith('aws.') || id === 'keys.links' || id === 'keys.rotate-linked';

test('every operation in the OpenAPI document succeeded at least once in this file', async () => {
  const doc = await call<{ paths: Record<string, Record<string, Record<string, unknown>>> }>('GET', '/openapi.json', undefined);
  const ops = operationsOf(doc.body).filter((o) => !COVERED_WITH_A_TOKEN.includes(o.operationId) && !COVERED_WITH_AWS(o.operationId));
  const missing = ops.filter((op) => {
    const re = pathMatcher(op.path);
    return !h.api.calls.some((c) => c.method === op.method && re.test(c.path) && c.status >= 200 && c.status < 300);
  });
  assert.deepEqual(
    missing.map((o) => `${o.method} ${o.path}`),
    [],
    'routes without a successful call in this file',
  );
});
