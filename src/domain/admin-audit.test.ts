import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyholdError } from '../base/index.js';
import { auditAdminAction } from './admin-audit.js';
import { sanitizeChange, type AdminEvent } from './audit-service.js';

test('changes lose anything that looks secret, by name or by type', () => {
  const out = sanitizeChange({
    name: 'payments',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    password: 'hunter2',
    hsmPin: '1234',
    pin: '9999',
    sessionToken: 'tok',
    nested: { clientSecret: 's', material: Buffer.from('key bytes'), spinner: 'kept' },
    list: [{ apiToken: 't', ok: 1 }],
    blob: new Uint8Array([1, 2, 3]),
    inf: Number.POSITIVE_INFINITY,
  });
  assert.deepEqual(out, {
    name: 'payments',
    secretAccessKey: '[redacted]',
    password: '[redacted]',
    hsmPin: '[redacted]',
    pin: '[redacted]',
    sessionToken: '[redacted]',
    nested: { clientSecret: '[redacted]', material: '[redacted]', spinner: 'kept' },
    list: [{ apiToken: '[redacted]', ok: 1 }],
    blob: '[binary]',
    inf: 'Infinity',
  });
});

test('an admin action is recorded with its outcome, and a failure with its error code', async () => {
  const recorded: AdminEvent[] = [];
  const audit = {
    admin: async (e: AdminEvent) => {
      recorded.push(e);
      return { seq: recorded.length, prev: '', mac: '', record: { ...e, kind: 'admin' as const, node: 'n', time: '' } };
    },
  };
  const who = { actor: 'alice', source: 'api', address: '10.0.0.1' };
  const r = await auditAdminAction(audit, who, { action: 'key.rotate', target: 'k1', keyId: 'k1' }, async () => ({ v: 2 }), (x) => ({ version: x.v }));
  assert.deepEqual(r, { v: 2 });
  await assert.rejects(
    auditAdminAction(audit, who, { action: 'key.rotate', target: 'nope' }, async () => {
      throw new KeyholdError('KeyNotFound', 'no such key');
    }),
    /no such key/,
  );
  assert.deepEqual(recorded, [
    { actor: 'alice', source: 'api', address: '10.0.0.1', action: 'key.rotate', target: 'k1', keyId: 'k1', outcome: 'ok', change: { version: 2 } },
    { actor: 'alice', source: 'api', address: '10.0.0.1', action: 'key.rotate', target: 'nope', outcome: 'error', errorName: 'KeyNotFound' },
  ]);
});

test('a change that was made but could not be recorded is reported as such', async () => {
  const audit = { admin: async () => Promise.reject(new Error('disk full')) };
  await assert.rejects(
    auditAdminAction(audit, { actor: 'a', source: 'cli' }, { action: 'key.disable', target: 'k1' }, async () => 'done'),
    /key.disable on 'k1' was carried out, but its audit record could not be written: disk full/,
  );
});
