import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AdminActionRecord } from '../domain/index.js';
import { toAdminEvent } from './admin-audit.js';

const base: AdminActionRecord = {
  at: '2026-01-01T00:00:00.000Z',
  actor: { userId: 'u1', username: 'ana', role: 'custodian', via: 'session' },
  sourceIp: '127.0.0.1',
  action: 'keys.schedule-deletion',
  method: 'POST',
  path: '/api/v1/keys/k1/schedule-deletion',
  target: 'k1',
  outcome: 'pending-approval',
  status: 202,
  errorCode: null,
  change: { pendingWindowInDays: 7 },
  approvalId: 'a1',
};

test('an admin API action becomes an audit event naming actor, source, key and approval', () => {
  assert.deepEqual(toAdminEvent(base), {
    actor: 'ana',
    source: 'api',
    address: '127.0.0.1',
    action: 'keys.schedule-deletion',
    target: 'k1',
    keyStore: undefined,
    keyId: 'k1',
    outcome: 'ok',
    errorName: undefined,
    change: { pendingWindowInDays: 7, role: 'custodian', via: 'session', pendingApproval: true, approvalId: 'a1', method: 'POST', path: '/api/v1/keys/k1/schedule-deletion', status: 202 },
  });
});

test('refusals and scheduler actions map to error outcomes and the scheduler source', () => {
  const denied = toAdminEvent({ ...base, action: 'keystores.credentials.add', target: 'payments', outcome: 'denied', status: 403, errorCode: null, approvalId: null, change: null });
  assert.equal(denied.outcome, 'error');
  assert.equal(denied.errorName, 'AccessDenied');
  assert.equal(denied.keyStore, 'payments');
  const system = toAdminEvent({ ...base, actor: { userId: null, username: 'system', role: null, via: 'system' }, sourceIp: null, method: null, path: null, action: 'keys.destroy', outcome: 'ok', status: null, approvalId: null, change: { reason: 'deletion waiting period elapsed' } });
  assert.equal(system.source, 'scheduler');
  assert.equal(system.keyId, 'k1');
  assert.deepEqual(system.change, { reason: 'deletion waiting period elapsed', via: 'system' });
});
