import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../base/index.js';
import { auditXksCalls, observeXksCalls, xksAuditRecord, type XksCall } from './xks-call.js';

const call: XksCall = {
  at: Date.UTC(2026, 11, 3, 12, 0, 0),
  operation: 'encrypt',
  keyStoreId: 'ks-1',
  keyStoreName: 'payments',
  externalKeyId: 'pay-key',
  keyVersion: 2,
  accessKeyId: 'A'.repeat(200),
  authenticated: true,
  claimedRequestId: 'claimed',
  ctx: { kmsRequestId: 'req-1', kmsOperation: 'Encrypt', awsPrincipalArn: 'arn:aws:iam::111122223333:role/App', kmsKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/k' },
  policyDecidedBy: 'app-role',
  remoteAddress: '10.0.0.1',
  status: 200,
  errorName: undefined,
  errorMessage: undefined,
  latencyMs: 0.4567891,
};

test('the audit record is made from the call record directly, members in sorted order', () => {
  const r = xksAuditRecord(call, 'node-a');
  const keys = Object.keys(r);
  assert.deepEqual(keys, [...keys].sort());
  assert.equal(r.kind, 'xks');
  assert.equal(r.node, 'node-a');
  assert.equal(r.time, '2026-12-03T12:00:00.000Z');
  assert.equal(r.kmsRequestId, 'req-1', 'the validated request id, not the claimed one');
  assert.equal(r.keyId, 'pay-key');
  assert.equal(r.keyVersion, 2);
  assert.equal(r.accessKeyId!.length, 128, 'an unverified access key id is clipped');
  assert.equal(r.policyRule, 'app-role');
  assert.equal(r.outcome, 'ok');
  assert.equal(r.latencyMs, 0.457);
  assert.equal(xksAuditRecord({ ...call, status: 400, errorName: 'ValidationException' }, 'n').outcome, 'error');
});

test('recorders run in order, each after the previous one settled; then every answered', async () => {
  const seen: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const o = observeXksCalls([
    {
      record: () => {
        seen.push('audit');
        return held.then(() => void seen.push('audit durable'));
      },
    },
    undefined,
    { record: () => void seen.push('hold') },
    { answered: (_c, a) => void seen.push(`metrics ${a.status}`) },
    { answered: () => void seen.push('log') },
  ]);
  const pending = o.record!(call);
  assert.ok(pending instanceof Promise, 'the answer waits for the first recorder');
  assert.deepEqual(seen, ['audit']);
  release();
  await pending;
  assert.deepEqual(seen, ['audit', 'audit durable', 'hold']);
  o.answered!(call, { status: 200, errorName: undefined, latencyMs: 1 });
  assert.deepEqual(seen, ['audit', 'audit durable', 'hold', 'metrics 200', 'log']);
  assert.equal(observeXksCalls([{ answered: () => undefined }]).record, undefined, 'no recorder: nothing to wait for');
});

test('durable audit: the answer waits for the commit and a failed append rejects it', async () => {
  const appended: XksCall[] = [];
  let fail = false;
  const audit = { xksCall: async (c: XksCall) => (fail ? Promise.reject(new Error('disk full')) : void appended.push(c)) };
  const o = auditXksCalls({ audit, durable: true, backlog: () => 0, backlogLimit: 10, log: silentLogger });
  await o.record!(call);
  assert.equal(appended.length, 1);
  fail = true;
  await assert.rejects(Promise.resolve(o.record!(call)), /disk full/);
});

test('queued audit: the answer goes out at once unless the backlog is over its limit; a failure is logged, not thrown', async () => {
  let backlog = 0;
  const errors: unknown[] = [];
  const log = { ...silentLogger, error: (o: unknown) => void errors.push(o) };
  const o = auditXksCalls({ audit: { xksCall: () => Promise.reject(new Error('nope')) }, durable: false, backlog: () => backlog, backlogLimit: 10, log });
  assert.equal(o.record!(call), undefined);
  backlog = 11;
  const waited = o.record!(call);
  assert.ok(waited instanceof Promise);
  await waited;
  await new Promise((r) => setImmediate(r));
  assert.equal(errors.length, 2);
});
