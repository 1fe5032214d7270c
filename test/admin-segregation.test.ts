import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { startAdminHarness, type AdminHarness, type SignedInUser } from './support/admin-harness.js';

/**
 * One administrator cannot meet a quorum alone (issue 15): user creation, role changes,
 * enabling, password resets and rule changes can require custodians' approval; a vote from
 * an account created, re-enabled, re-roled or reset after the request was filed does not
 * count; a disabled voter's approval is void when the quorum is counted; API keys die with
 * their owner's access; the AWS configuration export is administrator-only and guardable.
 */
let h: AdminHarness;
const c: Record<string, SignedInUser> = {};
type Body = Record<string, unknown>;

before(async () => {
  h = await startAdminHarness({ demo: false });
  for (const name of ['ana', 'ben', 'cleo', 'dan', 'eve', 'fay']) c[name] = await h.provision('custodian', name);
  h.clock.advance(1);
  assert.equal((await call('POST', '/keystores', c.ana!.apiKey, { name: 'vault', prefix: '/vault' })).status, 200);
});

after(async () => {
  await h?.dispose();
});

const call = <T = Body>(method: string, path: string, token: string, body?: unknown) => h.api.call<T>(method, `/api/v1${path}`, { token, ...(body !== undefined ? { body } : {}) });
const rule = async (action: string, body: Body) => assert.equal((await call('PUT', `/settings/approval-rules/${action}`, h.admin.token, body)).status, 200);
const clear = async (action: string) => assert.equal((await call('DELETE', `/settings/approval-rules/${action}`, h.admin.token)).status, 200);
const pendingId = (r: { status: number; text: string; body: { pendingApproval?: Body } }) => {
  assert.equal(r.status, 202, r.text);
  return String(r.body.pendingApproval!.id);
};

test('user creation, role change, enabling and password reset wait for custodians; the requester collects the password once', async () => {
  for (const a of ['user.create', 'user.set-role', 'user.enable', 'user.reset-password']) await rule(a, { required: 1 });

  const created = pendingId(await call('POST', '/users', h.admin.token, { username: 'gus', role: 'custodian' }));
  assert.equal((await call('GET', '/users/gus', h.admin.token)).status, 404, 'nothing happens on request');
  assert.equal((await call<Body>('POST', `/approvals/${created}/approve`, c.ana!.apiKey)).body.status, 'executed');
  assert.equal((await call('POST', `/approvals/${created}/collect`, c.ana!.apiKey)).status, 403, 'only the requester collects');
  const got = await call<{ result: { oneTimePassword: string } }>('POST', `/approvals/${created}/collect`, h.admin.token);
  assert.equal(got.status, 200, got.text);
  assert.equal((await h.login('gus', got.body.result.oneTimePassword)).status, 200);
  assert.equal((await call('POST', `/approvals/${created}/collect`, h.admin.token)).status, 409, 'once');

  assert.equal(pendingId(await call('PATCH', '/users/gus', h.admin.token, { role: 'auditor' })).length > 0, true);
  const disabled = await call<Body>('PATCH', '/users/gus', h.admin.token, { enabled: false });
  assert.equal(disabled.status, 200, 'disabling takes rights away and runs at once');
  const enable = await call<{ pendingApproval: Body }>('PATCH', '/users/gus', h.admin.token, { enabled: true });
  assert.equal(enable.body.pendingApproval.rule, 'user.enable');
  const reset = await call<{ pendingApproval: Body }>('POST', '/users/fay/reset-password', h.admin.token);
  assert.equal(reset.body.pendingApproval.rule, 'user.reset-password');
  assert.equal((await call<Body>('GET', `/approvals/${String(reset.body.pendingApproval.id)}`, h.admin.token)).status, 200, 'the requester sees the request');
  for (const id of [String(enable.body.pendingApproval.id), String(reset.body.pendingApproval.id)]) await call('POST', `/approvals/${id}/cancel`, h.admin.token);
  for (const a of ['user.create', 'user.set-role', 'user.enable', 'user.reset-password']) await clear(a);
});

test('votes of accounts created, re-enabled, re-roled or reset after the request do not count; a disabled voter is void', async () => {
  await rule('key.schedule-deletion', { required: 2, ttlMinutes: 600 });
  assert.equal((await call('POST', '/keys', c.ana!.apiKey, { keyId: 'quorum-key', keyStore: 'vault' })).status, 200);
  const auditor = await h.provision('auditor', 'ivy');
  h.clock.advance(1);
  const id = pendingId(await call('POST', '/keys/quorum-key/schedule-deletion', c.ana!.apiKey));
  h.clock.advance(1);

  // A custodian created after the request.
  const late = await h.provision('custodian', 'late');
  const lateVote = await call<Body>('POST', `/approvals/${id}/approve`, late.apiKey);
  assert.equal(lateVote.status, 403);
  assert.match(String(lateVote.body.message), /after this request was filed/);
  // A custodian disabled and enabled again (sessions and keys end; sign in anew).
  await call('PATCH', '/users/ben', h.admin.token, { enabled: false });
  await call('PATCH', '/users/ben', h.admin.token, { enabled: true });
  const ben = String((await h.login('ben', c.ben!.password)).body.token);
  assert.equal((await call('POST', `/approvals/${id}/approve`, ben)).status, 403);
  // An auditor made custodian.
  await call('PATCH', '/users/ivy', h.admin.token, { role: 'custodian' });
  const ivy = String((await h.login('ivy', auditor.password)).body.token);
  assert.equal((await call('POST', `/approvals/${id}/approve`, ivy)).status, 403);
  // A custodian whose password the administrator reset (and who then chose a new one).
  const otp = String((await call<Body>('POST', '/users/cleo/reset-password', h.admin.token)).body.oneTimePassword);
  const first = String((await h.login('cleo', otp)).body.token);
  const newPassword = 'Another-Long-Passphrase-42';
  assert.equal((await call('POST', '/auth/password', first, { currentPassword: otp, newPassword })).status, 200);
  assert.equal((await call('POST', `/approvals/${id}/approve`, first)).status, 403);

  // dan approves, then is disabled: his vote is void when eve's arrives.
  assert.equal((await call<Body>('POST', `/approvals/${id}/approve`, c.dan!.apiKey)).body.status, 'pending');
  await call('PATCH', '/users/dan', h.admin.token, { enabled: false });
  const eve = await call<Body>('POST', `/approvals/${id}/approve`, c.eve!.apiKey);
  assert.equal(eve.body.status, 'pending', 'one valid approval of two');
  assert.equal(eve.body.approvals, 1, 'the request shows the approvals that count');
  assert.equal((eve.body.votes as Body[]).length, 2, 'and every vote cast');
  assert.equal((await call<Body>('GET', '/keys/quorum-key', c.ana!.apiKey)).body.state, 'Enabled');
  assert.equal((await call<Body>('POST', `/approvals/${id}/approve`, c.fay!.apiKey)).body.status, 'executed', 'a second valid vote completes it');
  await clear('key.schedule-deletion');
  await call('PATCH', '/users/dan', h.admin.token, { enabled: true });
});

test("a request whose requester was disabled since filing does not run", async () => {
  await rule('keystore.disable', { required: 1 });
  const leaver = await h.provision('custodian', 'leaver');
  h.clock.advance(1);
  const id = pendingId(await call('POST', '/keystores/vault/disable', leaver.apiKey));
  await call('PATCH', '/users/leaver', h.admin.token, { enabled: false });
  const r = await call<Body>('POST', `/approvals/${id}/approve`, c.eve!.apiKey);
  assert.equal(r.body.status, 'failed', r.text);
  assert.match(String((r.body.error as Body).message), /requester 'leaver' was disabled/);
  assert.equal((await call<Body>('GET', '/keystores/vault', c.ana!.apiKey)).body.enabled, true);
  await clear('keystore.disable');
});

test('lowering or removing a rule can itself require approval', async () => {
  await rule('keystore.delete', { required: 2 });
  await rule('approval-rule.change', { required: 1 });
  const del = await call<{ pendingApproval: Body }>('DELETE', '/settings/approval-rules/keystore.delete', h.admin.token);
  assert.equal(del.status, 202, del.text);
  assert.equal((await call<Body[]>('GET', '/settings/approval-rules', h.admin.token)).body.find((r) => r.action === 'keystore.delete')?.required, 2, 'the rule stands meanwhile');
  assert.equal((await call<Body>('POST', `/approvals/${String(del.body.pendingApproval.id)}/approve`, c.eve!.apiKey)).body.status, 'executed');
  assert.equal((await call<Body[]>('GET', '/settings/approval-rules', h.admin.token)).body.find((r) => r.action === 'keystore.delete'), undefined);
  const off = pendingId(await call('DELETE', '/settings/approval-rules/approval-rule.change', h.admin.token));
  assert.equal((await call<Body>('POST', `/approvals/${off}/approve`, c.eve!.apiKey)).body.status, 'executed');
});

test('API keys and sessions die with their owner’s role change, and stay dead even if a revocation was missed', async () => {
  const u = await h.provision('custodian', 'mover');
  h.clock.advance(1);
  const whoami = (t: string) => h.api.call('GET', '/api/v1/auth/whoami', { token: t });
  assert.equal((await whoami(u.apiKey)).status, 200);
  assert.equal((await call('PATCH', '/users/mover', h.admin.token, { role: 'auditor' })).status, 200);
  assert.equal((await whoami(u.apiKey)).status, 401, 'the API key made under the old role ends');
  assert.equal((await whoami(u.token)).status, 401, 'so does the session');
  // Undo the revocation in the database, as a crash between the two writes would leave it:
  // the key still dies, because it predates the account's change.
  const db = new BetterSqlite3(h.dbPath);
  try {
    db.prepare('UPDATE admin_api_keys SET revoked_at = NULL WHERE user_id = (SELECT id FROM admin_users WHERE username = ?)').run('mover');
  } finally {
    db.close();
  }
  const r = await whoami(u.apiKey);
  assert.equal(r.status, 401);
  assert.match(r.text, /predates a change/);
});

test('the AWS configuration export: administrators only, audited, and under approval when a rule says so', async () => {
  assert.equal((await call('POST', '/keystores/vault/aws-config', c.ana!.apiKey, {})).status, 403);
  const direct = await call<Body>('POST', '/keystores/vault/aws-config', h.admin.token, {});
  assert.equal(direct.status, 200);
  const rec = h.records.filter((x) => x.action === 'keystores.aws-config' && x.outcome === 'ok');
  assert.equal(rec.length, 1);
  assert.equal(rec[0]!.actor.role, 'administrator');
  assert.ok(!JSON.stringify(rec[0]).includes(String((direct.body.XksProxyAuthenticationCredential as Body).RawSecretAccessKey)), 'the record holds no secret');

  await rule('keystore.aws-config', { required: 1 });
  const id = pendingId(await call('POST', '/keystores/vault/aws-config', h.admin.token, {}));
  assert.equal((await call<Body>('POST', `/approvals/${id}/approve`, c.ana!.apiKey)).body.status, 'executed');
  const file = await call<{ result: Body }>('POST', `/approvals/${id}/collect`, h.admin.token);
  assert.equal(file.status, 200);
  assert.equal(file.body.result.XksProxyUriPath, '/vault/kms/xks/v1');
  await clear('keystore.aws-config');
});
