import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectionErrorCode, createKeyProxyError, cryptoProxyError, keyStoreSettingsError, type HealthFailure } from './proxy-outcomes.js';
import type { ProxyFailure } from './xks-proxy.js';

const err = (status: number, errorName: string): ProxyFailure => ({ kind: 'error', status, errorName });

test('health failures map to the Create/Update exceptions and the Connect error codes (kms-semantics §1.5)', () => {
  const rows: [HealthFailure, string, string][] = [
    [err(400, 'ValidationException'), 'XksProxyInvalidResponseException', 'XKS_PROXY_INVALID_RESPONSE'],
    [err(401, 'AuthenticationFailedException'), 'XksProxyIncorrectAuthenticationCredentialException', 'INVALID_CREDENTIALS'],
    [err(403, 'AccessDeniedException'), 'XksProxyInvalidResponseException', 'XKS_PROXY_ACCESS_DENIED'],
    [err(404, 'InvalidUriPathException'), 'XksProxyInvalidConfigurationException', 'XKS_PROXY_INVALID_CONFIGURATION'],
    [err(501, 'UnsupportedOperationException'), 'UnsupportedOperationException', 'XKS_PROXY_INVALID_RESPONSE'],
    [err(503, 'DependencyTimeoutException'), 'XksProxyUriUnreachableException', 'XKS_PROXY_TIMED_OUT'],
    [err(429, 'ThrottlingException'), 'XksProxyUriUnreachableException', 'XKS_PROXY_NOT_REACHABLE'],
    [err(500, 'InternalException'), 'XksProxyInvalidResponseException', 'XKS_PROXY_INVALID_RESPONSE'],
    [{ kind: 'timeout' }, 'XksProxyUriUnreachableException', 'XKS_PROXY_TIMED_OUT'],
    [{ kind: 'network', code: 'ECONNREFUSED' }, 'XksProxyUriUnreachableException', 'XKS_PROXY_NOT_REACHABLE'],
    [{ kind: 'tls', code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, 'XksProxyUriUnreachableException', 'XKS_PROXY_INVALID_TLS_CONFIGURATION'],
    [{ kind: 'all-unavailable' }, 'XksProxyUriUnreachableException', 'XKS_PROXY_NOT_REACHABLE'],
    [{ kind: 'invalid', reason: 'x' }, 'XksProxyInvalidResponseException', 'XKS_PROXY_INVALID_RESPONSE'],
  ];
  for (const [f, create, connect] of rows) {
    assert.equal(keyStoreSettingsError(f).type, create, JSON.stringify(f));
    assert.equal(connectionErrorCode(f), connect, JSON.stringify(f));
  }
});

test('GetKeyMetadata failures map to the CreateKey exceptions', () => {
  assert.equal(createKeyProxyError(err(404, 'KeyNotFoundException'), 'k').type, 'XksKeyNotFoundException');
  assert.equal(createKeyProxyError(err(400, 'InvalidStateException'), 'k').type, 'XksKeyInvalidConfigurationException');
  assert.equal(createKeyProxyError(err(400, 'InvalidKeyUsageException'), 'k').type, 'XksKeyInvalidConfigurationException');
  const others: ProxyFailure[] = [err(403, 'AccessDeniedException'), err(501, 'UnsupportedOperationException'), err(401, 'AuthenticationFailedException'), { kind: 'timeout' }];
  for (const f of others) {
    assert.equal(createKeyProxyError(f, 'k').type, 'CustomKeyStoreInvalidStateException');
  }
});

test('every failure of a cryptographic operation is KMSInvalidStateException and never quotes the proxy', () => {
  const failures: ProxyFailure[] = [err(400, 'InvalidCiphertextException'), err(429, 'ThrottlingException'), err(500, 'Weird'), { kind: 'timeout' }, { kind: 'invalid', reason: 'secret detail' }];
  for (const f of failures) {
    const e = cryptoProxyError(f, 'arn:aws:kms:eu-west-1:111122223333:key/k', 'decrypt');
    assert.equal(e.type, 'KMSInvalidStateException');
    assert.ok(!e.message.includes('secret detail'));
  }
});
