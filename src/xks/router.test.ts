import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routeXks } from './router.js';

test('routes health and the three key operations, with and without a prefix', () => {
  assert.deepEqual(routeXks('/kms/xks/v1/health'), { prefix: '', operation: 'health' });
  assert.deepEqual(routeXks('/tenant-a/kms/xks/v1/health'), { prefix: '/tenant-a', operation: 'health' });
  for (const op of ['metadata', 'encrypt', 'decrypt'] as const) {
    assert.deepEqual(routeXks(`/kms/xks/v1/keys/k1/${op}`), { prefix: '', operation: op, externalKeyId: 'k1' });
    assert.deepEqual(routeXks(`/a/b_c/d-e/kms/xks/v1/keys/orders-db.key_01/${op}`), { prefix: '/a/b_c/d-e', operation: op, externalKeyId: 'orders-db.key_01' });
  }
});

test('a prefix that itself contains /kms/xks/v1 routes from the right', () => {
  assert.deepEqual(routeXks('/kms/xks/v1/kms/xks/v1/health'), { prefix: '/kms/xks/v1', operation: 'health' });
  assert.deepEqual(routeXks('/x/kms/xks/v1/keys/kms/xks/v1/keys/k/encrypt'), { prefix: '/x/kms/xks/v1/keys', operation: 'encrypt', externalKeyId: 'k' });
  // A key id may look like an operation name.
  assert.deepEqual(routeXks('/kms/xks/v1/keys/health/metadata'), { prefix: '', operation: 'metadata', externalKeyId: 'health' });
  assert.deepEqual(routeXks('/kms/xks/v1/keys/encrypt/decrypt'), { prefix: '', operation: 'decrypt', externalKeyId: 'encrypt' });
});

test('key ids are 1-128 characters of A-Z a-z 0-9 . _ -', () => {
  assert.equal(routeXks(`/kms/xks/v1/keys/${'k'.repeat(128)}/metadata`)?.externalKeyId, 'k'.repeat(128));
  assert.equal(routeXks('/kms/xks/v1/keys/A.b_C-9/metadata')?.externalKeyId, 'A.b_C-9');
  assert.equal(routeXks('/kms/xks/v1/keys/.../metadata')?.externalKeyId, '...');
  for (const id of ['', 'k'.repeat(129), 'a b', 'a%20b', 'a~b', 'a+b', 'a:b', 'é', 'a/b']) {
    assert.equal(routeXks(`/kms/xks/v1/keys/${id}/metadata`), undefined, JSON.stringify(id));
  }
});

test('refuses unknown operations, versions, extra segments and trailing slashes', () => {
  for (const path of [
    '/',
    '',
    '/kms/xks/v1',
    '/kms/xks/v1/',
    '/kms/xks/v1/health/',
    '/kms/xks/v1/healthz',
    '/kms/xks/v2/health',
    '/kms/xks/V1/health',
    '/KMS/xks/v1/health',
    '/kms/xks/v1/keys/k/sign',
    '/kms/xks/v1/keys/k/encrypt/',
    '/kms/xks/v1/keys/k/encrypt/x',
    '/kms/xks/v1/keys/k',
    '/kms/xks/v1/keys//encrypt',
    '/kms/xks/v1/key/k/encrypt',
    'kms/xks/v1/health',
    '/ping',
  ]) {
    assert.equal(routeXks(path), undefined, path);
  }
});

test('the prefix holds only / A-Z a-z 0-9 _ - (no period, no percent-encoding)', () => {
  for (const prefix of ['/with.period', '/a b', '/a%2Fb', '/a~b', '/ü', '/a?b', 'relative']) {
    assert.equal(routeXks(`${prefix}/kms/xks/v1/health`), undefined, prefix);
  }
  assert.equal(routeXks('/A_b-9/x/kms/xks/v1/health')?.prefix, '/A_b-9/x');
});

test('the whole URI is at most 256 characters', () => {
  const suffix = '/kms/xks/v1/keys/k/metadata';
  const atLimit = '/' + 'p'.repeat(256 - suffix.length - 1) + suffix;
  assert.equal(atLimit.length, 256);
  assert.ok(routeXks(atLimit));
  assert.equal(routeXks('/p' + atLimit), undefined);
  const health = '/kms/xks/v1/health';
  assert.ok(routeXks('/' + 'p'.repeat(255 - health.length) + health));
  assert.equal(routeXks('/' + 'p'.repeat(256 - health.length) + health), undefined);
});
