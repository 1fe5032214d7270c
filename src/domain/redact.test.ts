import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSecretName, redactSecrets } from './redact.js';

test('secret names are recognised by word in any case style, and look-alikes are kept', () => {
  for (const n of ['password', 'newPassword', 'one_time_password', 'passphrase', 'hsm-pin', 'pin', 'apiKey', 'api_key', 'x-api-key', 'secretAccessKey', 'clientSecret', 'sessionToken', 'authorization', 'cookie', 'privateKey', 'material']) {
    assert.ok(isSecretName(n), n);
  }
  for (const n of ['spinner', 'username', 'accessKeyId', 'keyId', 'policy', 'region', 'passes', 'opinion']) assert.ok(!isSecretName(n), n);
});

test('redaction is idempotent: a redacted change redacted again is unchanged', () => {
  const once = redactSecrets({ user: 'ana', password: 'p', nested: [{ apiKey: 'k', n: 1 }] });
  assert.deepEqual(redactSecrets(once), once);
  assert.deepEqual(once, { user: 'ana', password: '[redacted]', nested: [{ apiKey: '[redacted]', n: 1 }] });
});
