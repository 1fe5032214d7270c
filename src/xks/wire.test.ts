import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKeyholdError, type ErrorCode } from '../base/index.js';
import { DEFAULT_LIMITS, parseDecrypt, parseEncrypt, parseHealth, parseMetadata, SPEC_MINIMUM_LIMITS, type XksLimits } from './wire.js';

const md = { awsPrincipalArn: 'arn:aws:iam::1:role/App', kmsKeyArn: 'arn:aws:kms:us-east-1:1:key/k', kmsOperation: 'Encrypt', kmsRequestId: 'r-1' };
const b64 = (n: number) => Buffer.alloc(n, 7).toString('base64');
const encrypt = (over: Record<string, unknown> = {}) => ({ requestMetadata: md, plaintext: b64(32), encryptionAlgorithm: 'AES_GCM', ...over });
const decrypt = (over: Record<string, unknown> = {}) => ({ requestMetadata: md, ciphertext: b64(32), initializationVector: b64(12), authenticationTag: b64(16), encryptionAlgorithm: 'AES_GCM', ...over });

function throwsCode(fn: () => unknown, code: ErrorCode, what: string): void {
  assert.throws(fn, (e: unknown) => isKeyholdError(e, code), what);
}

test('the limits are at or above the spec minimums', () => {
  assert.deepEqual(SPEC_MINIMUM_LIMITS, { maxPlaintextBytes: 4300, maxAadBytes: 8192 });
  assert.ok(DEFAULT_LIMITS.maxPlaintextBytes >= 4300);
  assert.ok(DEFAULT_LIMITS.maxAadBytes >= 8192);
});

test('parses a full encrypt request into bytes and context', () => {
  const r = parseEncrypt(encrypt({ additionalAuthenticatedData: b64(5), ciphertextDataIntegrityValueAlgorithm: 'SHA_256' }), DEFAULT_LIMITS);
  assert.deepEqual(r.plaintext, Buffer.alloc(32, 7));
  assert.deepEqual(r.aad, Buffer.alloc(5, 7));
  assert.equal(r.wantCdiv, true);
  assert.deepEqual(r.ctx, md);
  const bare = parseEncrypt(encrypt(), DEFAULT_LIMITS);
  assert.equal(bare.aad, undefined);
  assert.equal(bare.wantCdiv, false);
});

test('the plaintext and ciphertext limit is exact for every length modulo 3', () => {
  for (const max of [4300, 4301, 4302]) {
    const limits: XksLimits = { maxPlaintextBytes: max, maxAadBytes: 8192 };
    assert.equal(parseEncrypt(encrypt({ plaintext: b64(max) }), limits).plaintext.length, max, `${max} accepted`);
    assert.equal(parseDecrypt(decrypt({ ciphertext: b64(max) }), limits).ciphertext.length, max);
    throwsCode(() => parseEncrypt(encrypt({ plaintext: b64(max + 1) }), limits), 'TooLarge', `${max + 1} plaintext`);
    throwsCode(() => parseDecrypt(decrypt({ ciphertext: b64(max + 1) }), limits), 'TooLarge', `${max + 1} ciphertext`);
  }
});

test('the AAD limit is exact for every length modulo 3; empty AAD is allowed', () => {
  for (const max of [8192, 8193, 8194]) {
    const limits: XksLimits = { maxPlaintextBytes: 4300, maxAadBytes: max };
    assert.equal(parseEncrypt(encrypt({ additionalAuthenticatedData: b64(max) }), limits).aad?.length, max);
    assert.equal(parseDecrypt(decrypt({ additionalAuthenticatedData: b64(max) }), limits).aad?.length, max);
    throwsCode(() => parseEncrypt(encrypt({ additionalAuthenticatedData: b64(max + 1) }), limits), 'TooLarge', `${max + 1} AAD`);
    throwsCode(() => parseDecrypt(decrypt({ additionalAuthenticatedData: b64(max + 1) }), limits), 'TooLarge', `${max + 1} AAD`);
  }
  assert.equal(parseEncrypt(encrypt({ additionalAuthenticatedData: '' }), DEFAULT_LIMITS).aad?.length, 0);
});

test('a huge Base64 field is refused by length before it is decoded', () => {
  throwsCode(() => parseEncrypt(encrypt({ plaintext: 'A'.repeat(1 << 20) }), DEFAULT_LIMITS), 'TooLarge', '1 MiB of Base64');
  // Above the schema's own bound it is a validation failure.
  throwsCode(() => parseEncrypt(encrypt({ plaintext: 'A'.repeat((1 << 20) + 4) }), DEFAULT_LIMITS), 'ValidationFailed', 'over the schema bound');
});

test('IV of 12 or 16 bytes, tag of 16 bytes, metadata up to 20 bytes', () => {
  for (const n of [12, 16]) assert.equal(parseDecrypt(decrypt({ initializationVector: b64(n) }), DEFAULT_LIMITS).iv.length, n);
  for (const n of [0, 1, 11, 13, 15, 17, 24]) throwsCode(() => parseDecrypt(decrypt({ initializationVector: b64(n) }), DEFAULT_LIMITS), 'ValidationFailed', `IV ${n}`);
  for (const n of [0, 12, 15, 17, 32]) throwsCode(() => parseDecrypt(decrypt({ authenticationTag: b64(n) }), DEFAULT_LIMITS), 'ValidationFailed', `tag ${n}`);
  for (const n of [0, 1, 5, 19, 20]) assert.equal(parseDecrypt(decrypt({ ciphertextMetadata: b64(n) }), DEFAULT_LIMITS).metadata?.length, n);
  for (const n of [21, 22, 23, 100]) throwsCode(() => parseDecrypt(decrypt({ ciphertextMetadata: b64(n) }), DEFAULT_LIMITS), 'ValidationFailed', `metadata ${n}`);
  assert.equal(parseDecrypt(decrypt(), DEFAULT_LIMITS).metadata, undefined);
});

test('only canonical standard Base64 with padding is accepted', () => {
  for (const bad of ['-_-_', 'YQ', 'YQ=', 'YQ===', 'YWJj ', ' YWJj', 'YW\nJj', 'YQ==YQ==', '****', 'YWJ=', 'Y===']) {
    throwsCode(() => parseEncrypt(encrypt({ plaintext: bad }), DEFAULT_LIMITS), 'ValidationFailed', JSON.stringify(bad));
  }
  assert.deepEqual(parseEncrypt(encrypt({ plaintext: '+/+/' }), DEFAULT_LIMITS).plaintext, Buffer.from([0xfb, 0xff, 0xbf]));
});

test('required fields per operation; unknown fields are ignored', () => {
  assert.deepEqual(parseHealth({ requestMetadata: { kmsRequestId: 'r', kmsOperation: 'KmsHealthCheck' } }), { kmsRequestId: 'r', kmsOperation: 'KmsHealthCheck' });
  throwsCode(() => parseHealth({ requestMetadata: { kmsRequestId: 'r' } }), 'ValidationFailed', 'health without kmsOperation');
  throwsCode(() => parseHealth({}), 'ValidationFailed', 'health {}');
  throwsCode(() => parseMetadata({ requestMetadata: { kmsRequestId: 'r', kmsOperation: 'CreateKey' } }), 'ValidationFailed', 'metadata without principal');
  const ctx = parseMetadata({ requestMetadata: { awsPrincipalArn: 'p', kmsOperation: 'Whatever', kmsRequestId: 'r', SourceIdentity: 'x' }, extra: [1] });
  assert.deepEqual(ctx, { awsPrincipalArn: 'p', kmsOperation: 'Whatever', kmsRequestId: 'r' }, 'unknown fields are dropped, not passed on');
  for (const field of ['awsPrincipalArn', 'kmsKeyArn', 'kmsOperation', 'kmsRequestId']) {
    const m: Record<string, unknown> = { ...md };
    delete m[field];
    throwsCode(() => parseEncrypt(encrypt({ requestMetadata: m }), DEFAULT_LIMITS), 'ValidationFailed', `encrypt without ${field}`);
    throwsCode(() => parseDecrypt(decrypt({ requestMetadata: m }), DEFAULT_LIMITS), 'ValidationFailed', `decrypt without ${field}`);
  }
  for (const field of ['plaintext', 'encryptionAlgorithm']) {
    const b: Record<string, unknown> = encrypt();
    delete b[field];
    throwsCode(() => parseEncrypt(b, DEFAULT_LIMITS), 'ValidationFailed', `encrypt without ${field}`);
  }
  for (const field of ['ciphertext', 'initializationVector', 'authenticationTag', 'encryptionAlgorithm']) {
    const b: Record<string, unknown> = decrypt();
    delete b[field];
    throwsCode(() => parseDecrypt(b, DEFAULT_LIMITS), 'ValidationFailed', `decrypt without ${field}`);
  }
});

test('ARN fields up to 2048 characters; optional metadata is kept', () => {
  const arn = 'a'.repeat(2048);
  const r = parseEncrypt(encrypt({ requestMetadata: { ...md, awsPrincipalArn: arn, kmsKeyArn: arn, kmsViaService: 'ebs', awsSourceVpc: 'vpc-1', awsSourceVpce: 'vpce-1' } }), DEFAULT_LIMITS);
  assert.equal(r.ctx.awsPrincipalArn, arn);
  assert.equal(r.ctx.kmsViaService, 'ebs');
  assert.equal(r.ctx.awsSourceVpce, 'vpce-1');
});

test('enum values are exact', () => {
  for (const alg of ['aes_gcm', 'AES_GCM ', 'AES_CBC', '']) throwsCode(() => parseEncrypt(encrypt({ encryptionAlgorithm: alg }), DEFAULT_LIMITS), 'ValidationFailed', alg);
  for (const alg of ['SHA_512', 'sha_256', null]) throwsCode(() => parseEncrypt(encrypt({ ciphertextDataIntegrityValueAlgorithm: alg }), DEFAULT_LIMITS), 'ValidationFailed', String(alg));
});

test('validation messages name the field and stay short and printable', () => {
  try {
    parseEncrypt(encrypt({ requestMetadata: { ...md, kmsKeyArn: 7 } }), DEFAULT_LIMITS);
    assert.fail('accepted a number');
  } catch (e) {
    assert.ok(isKeyholdError(e, 'ValidationFailed'));
    assert.match(e.message, /requestMetadata\.kmsKeyArn/);
    assert.match(e.message, /^[\x20-\x7e]{1,511}$/);
  }
});
