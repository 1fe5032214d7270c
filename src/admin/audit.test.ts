import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recordedChange } from './audit.js';

test('fields that look secret are redacted at any depth in a recorded change; the rest is kept', () => {
  const out = recordedChange({
    username: 'ana',
    password: 'hunter2-hunter2',
    nested: { newPassword: 'x', apiKey: 'kha_1', list: [{ secretAccessKey: 's', accessKeyId: 'AKID' }] },
    policy: { default: 'deny', rules: [] },
  });
  assert.deepEqual(out, {
    username: 'ana',
    password: '[redacted]',
    nested: { newPassword: '[redacted]', apiKey: '[redacted]', list: [{ secretAccessKey: '[redacted]', accessKeyId: 'AKID' }] },
    policy: { default: 'deny', rules: [] },
  });
});

test('a recorded change is bounded in size', () => {
  assert.equal(recordedChange(undefined), null);
  const big = recordedChange({ policy: { rules: Array.from({ length: 200 }, (_, i) => ({ id: `rule-${i}`, principals: ['x'.repeat(100)] })) } });
  assert.deepEqual(Object.keys(big as object), ['truncated', 'bytes']);
});
