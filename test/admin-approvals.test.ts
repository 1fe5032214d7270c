import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startAdminHarness, type AdminHarness, type SignedInUser } from './support/admin-harness.js';

/** Quorum approvals: M-of-N among custodians, self-approval refused, expiry, run exactly once. */
let h: AdminHarness;
let c: SignedInUser[];
type Body = Record<string, unknown>;
const MIN = 60_000;

before(async () => {
  h = await startAdminHarness({ demo: false });
  c = [];
  for (const name of ['ana', 'ben', 'cleo', 'dan', 'eve']) c.push(await h.provision('custodian', name));
  await call('POST', '/keystores', c[0]!.apiKey, { name: 'vault', prefix: '/vault' });
});

after(async () => {
  await h?.dispose();
});

const call = <T = Body>(method: string, path: string, token: string, body?: unknown) => h.api.call<T>(method, `/api/v1${path}`, { token, ...(body !== undefined ? { body } : {}) });
const rule = (action: string, body: Body) => call('PUT', `/settings/approval-rules/${action}`, h.admin.token, body);
const approval = async (id: string) => (await call<Body>('GET', `/approvals/${id}`, c[0]!.apiKey)).body;

async function newKey(id: string): Promise<void> {
  const r = await call('POST', '/keys', c[0]!.apiKey, { keyId: id, keyStore: 'vault' });
  assert.equal(r.status, 200, r.text);
}

test('2-of-N: the requester cannot vote, one approval is not enough, the second runs the action', async () => {
  await rule('key.schedule-deletion', { required: 2 });
  await newKey('q-key');
  const req = await call<{ pendingApproval: Body }>('POST', '/keys/q-key/schedule-deletion', c[0]!.apiKey, { pendingWindowInDays: 10 });
  assert.equal(req.status, 202);
  const id = String(req.body.pendingApproval.id);
  assert.equal(req.body.pendingApproval.required, 2);
  assert.equal((await call<Body>('GET', '/keys/q-key', c[0]!.apiKey)).body.state, 'Enabled', 'nothing happens on request');

  const self = await call<Body>('POST', `/approvals/${id}/approve`, c[0]!.apiKey);
  assert.equal(self.status, 403);
  assert.match(String(self.body.message), /you made this request/);
  assert.equal((await call('POST', `/approvals/${id}/deny`, c[0]!.apiKey)).status, 403, 'nor deny it (cancel instead)');

  const first = await call<Body>('POST', `/approvals/${id}/approve`, c[1]!.apiKey, { comment: 'checked with the app team' });
  assert.equal(first.body.status, 'pending');
  assert.equal(first.body.approvals, 1);
  assert.equal((await call<Body>('GET', '/keys/q-key', c[0]!.apiKey)).body.state, 'Enabled');
  assert.equal((await call('POST', `/approvals/${id}/approve`, c[1]!.apiKey)).status, 409, 'one vote per custodian');

  const second = await call<Body>('POST', `/approvals/${id}/approve`, c[2]!.apiKey);
  assert.equal(second.body.status, 'executed');
  assert.equal((second.body.result as Body).deletionDate !== null, true);
  const key = (await call<Body>('GET', '/keys/q-key', c[0]!.apiKey)).body;
  assert.equal(key.state, 'PendingDeletion');
  assert.equal(Date.parse(String(key.deletionDate)) - h.clock.now(), 10 * 86_400_000, 'the requested parameters were used');
  const late = await call<Body>('POST', `/approvals/${id}/approve`, c[3]!.apiKey);
  assert.equal(late.status, 409);
  assert.equal(late.body.error, 'InvalidState');

  const rec = h.records.filter((r) => r.approvalId === id).map((r) => `${r.action}:${r.actor.username}:${r.outcome}`);
  assert.deepEqual(rec, ['keys.schedule-deletion:ana:pending-approval', 'approvals.approve:ana:denied', 'approvals.deny:ana:denied', 'approvals.approve:ben:ok', 'approvals.approve:ben:failed', 'approvals.approve:cleo:ok', 'approvals.approve:dan:failed']);
});

test('the action runs exactly once when approvals arrive together', async () => {
  await rule('credential.add', { required: 2 });
  const before = (await call<Body[]>('GET', '/keystores/vault/credentials', c[0]!.apiKey)).body.filter((x) => x.live).length;
  assert.equal(before, 1);
  const id = String((await call<{ pendingApproval: Body }>('POST', '/keystores/vault/credentials', c[0]!.apiKey)).body.pendingApproval.id);
  await call('POST', `/approvals/${id}/approve`, c[1]!.apiKey);
  const racing = await Promise.all([2, 3, 4].map((i) => call<Body>('POST', `/approvals/${id}/approve`, c[i]!.apiKey)));
  assert.ok(racing.every((r) => r.status === 200 || r.status === 409), racing.map((r) => r.text).join('\n'));
  const after = (await call<Body[]>('GET', '/keystores/vault/credentials', c[0]!.apiKey)).body.filter((x) => x.live).length;
  assert.equal(after, 2, 'one credential added, not two or three');
  const final = await approval(id);
  assert.equal(final.status, 'executed');
  assert.equal(final.error, null);
  await call('DELETE', '/settings/approval-rules/credential.add', h.admin.token);
});

test('a request expires after its time to live; approving it then changes nothing', async () => {
  await rule('keystore.disable', { required: 1, ttlMinutes: 30 });
  const id = String((await call<{ pendingApproval: Body }>('POST', '/keystores/vault/disable', c[0]!.apiKey)).body.pendingApproval.id);
  assert.equal(Date.parse(String((await approval(id)).expiresAt)) - h.clock.now(), 30 * MIN);
  h.clock.advance(31 * MIN);
  const r = await call<Body>('POST', `/approvals/${id}/approve`, c[1]!.apiKey);
  assert.equal(r.status, 409);
  assert.match(String(r.body.message), /expired/);
  assert.equal((await approval(id)).status, 'expired');
  assert.equal((await call<Body>('GET', '/keystores/vault', c[0]!.apiKey)).body.enabled, true);
  const pending = await call<Body[]>('GET', '/approvals?status=pending', c[0]!.apiKey);
  assert.ok(!pending.body.some((x) => x.id === id));
});

test('the scheduler expires overdue requests without anyone looking at them', async () => {
  const id = String((await call<{ pendingApproval: Body }>('POST', '/keystores/vault/disable', c[0]!.apiKey)).body.pendingApproval.id);
  h.clock.advance(31 * MIN);
  const run = await h.running.scheduler.runOnce();
  assert.equal(run.expiredApprovals, 1);
  assert.equal((await approval(id)).status, 'expired');
  await call('DELETE', '/settings/approval-rules/keystore.disable', h.admin.token);
});

test('one denial ends a request; a cancelled or denied request never runs', async () => {
  await rule('policy.change', { required: 2 });
  const policy = { default: 'deny', rules: [] };
  const a = String((await call<{ pendingApproval: Body }>('PUT', '/keystores/vault/policy', c[0]!.apiKey, { policy })).body.pendingApproval.id);
  await call('POST', `/approvals/${a}/approve`, c[1]!.apiKey);
  const denied = await call<Body>('POST', `/approvals/${a}/deny`, c[2]!.apiKey, { comment: 'would block KMS' });
  assert.equal(denied.body.status, 'denied');
  assert.equal((await call('POST', `/approvals/${a}/approve`, c[3]!.apiKey)).status, 409);
  const b = String((await call<{ pendingApproval: Body }>('DELETE', '/keystores/vault/policy', c[0]!.apiKey)).body.pendingApproval.id);
  assert.equal((await call('POST', `/approvals/${b}/cancel`, c[1]!.apiKey)).status, 403, 'only the requester cancels');
  assert.equal((await call<Body>('POST', `/approvals/${b}/cancel`, c[0]!.apiKey)).body.status, 'cancelled');
  assert.equal((await call<Body>('GET', '/keystores/vault/policy', c[0]!.apiKey)).body.policy, null);
  // An invalid policy is refused when requested, not after the quorum.
  assert.equal((await call('PUT', '/keystores/vault/policy', c[0]!.apiKey, { policy: { default: 'sometimes' } })).status, 400);
  await call('DELETE', '/settings/approval-rules/policy.change', h.admin.token);
});

test('named approvers: only they vote, and a quorum that cannot be reached is refused up front', async () => {
  await rule('key.delete-version', { required: 1, approvers: ['dan'] });
  await newKey('v-key');
  await call('POST', '/keys/v-key/rotate', c[0]!.apiKey);
  const id = String((await call<{ pendingApproval: Body }>('DELETE', '/keys/v-key/versions/1', c[0]!.apiKey)).body.pendingApproval.id);
  const other = await call<Body>('POST', `/approvals/${id}/approve`, c[1]!.apiKey);
  assert.equal(other.status, 403);
  assert.match(String(other.body.message), /not among the approvers/);
  assert.equal((await call<Body>('POST', `/approvals/${id}/approve`, c[3]!.apiKey)).body.status, 'executed');
  assert.deepEqual((await call<{ versions: Body[] }>('GET', '/keys/v-key', c[0]!.apiKey)).body.versions.map((v) => v.version), [2]);
  // dan cannot ask for it himself: nobody else may approve.
  await call('POST', '/keys/v-key/rotate', c[0]!.apiKey);
  const refused = await call<Body>('DELETE', '/keys/v-key/versions/2', c[3]!.apiKey);
  assert.equal(refused.status, 409);
  assert.match(String(refused.body.message), /needs 1 approval/);
  // And a request that could never succeed (the current version) is refused at once.
  assert.equal((await call('DELETE', '/keys/v-key/versions/3', c[0]!.apiKey)).status, 409);
  await call('DELETE', '/settings/approval-rules/key.delete-version', h.admin.token);
});

test('a failure when the quorum runs the action is recorded on the request', async () => {
  await rule('keystore.delete', { required: 1 });
  const id = String((await call<{ pendingApproval: Body }>('DELETE', '/keystores/vault', c[0]!.apiKey)).body.pendingApproval.id);
  const r = await call<Body>('POST', `/approvals/${id}/approve`, c[1]!.apiKey);
  assert.equal(r.status, 200);
  assert.equal(r.body.status, 'failed');
  assert.equal((r.body.error as Body).error, 'Conflict', 'the store still holds keys');
  await call('DELETE', '/settings/approval-rules/keystore.delete', h.admin.token);
});
