import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyholdError } from '../base/index.js';
import { normalisePrefix, validateExternalKeyId } from './validation.js';

function refused(fn: () => unknown, what: string): void {
  assert.throws(fn, (e: unknown) => e instanceof KeyholdError && e.code === 'ValidationFailed', what);
}

test('key ids . and .. are refused: a signer normalises them out of the path', () => {
  refused(() => validateExternalKeyId('.'), '.');
  refused(() => validateExternalKeyId('..'), '..');
  for (const ok of ['...', '.a', 'a.', 'a..b', 'k-1_2.3']) assert.equal(validateExternalKeyId(ok), ok);
});

test('prefixes with an empty segment are refused; the usual spellings still work', () => {
  for (const bad of ['/a//b', '//a', '/trailing/', '//', '/a/kms/xks/v1/', 'a//kms/xks/v1']) refused(() => normalisePrefix(bad), bad);
  assert.deepEqual(normalisePrefix('/'), { prefix: '', uriPath: '/kms/xks/v1' });
  assert.deepEqual(normalisePrefix(''), { prefix: '', uriPath: '/kms/xks/v1' });
  assert.deepEqual(normalisePrefix('tenant-a'), { prefix: '/tenant-a', uriPath: '/tenant-a/kms/xks/v1' });
  assert.deepEqual(normalisePrefix('/a/b/kms/xks/v1'), { prefix: '/a/b', uriPath: '/a/b/kms/xks/v1' });
});
