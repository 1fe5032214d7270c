import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { startKeyhold, eventually, setConfigValues, type KeyholdHarness } from './support/keyhold-harness.js';
import { demoXksClient, type XksClient, type XksResponse } from './support/xks-client.js';
import { assertOk, assertXksError, ciphertextFields } from './support/xks-assert.js';

/**
 * Input validation of the four XKS operations (xks-spec §4, §5, §7, §14): every malformed
 * input is a spec-shaped error, limits sit exactly at the spec minimums (the server runs
 * with max_plaintext_bytes = 4300 and max_aad_bytes = 8192), and bad input changes nothing.
 */

const SPEC_PLAINTEXT = 4300;
const SPEC_AAD = 8192;

let h: KeyholdHarness;
let c: XksClient;
let good: ReturnType<typeof ciphertextFields>;
const goodAad = Buffer.from('validation-aad');
const plaintext = Buffer.from('a data key of thirty-two bytes!!');

const arn = 'arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
const md = (op: string, extra: Record<string, unknown> = {}) => ({
  awsPrincipalArn: 'arn:aws:iam::111122223333:role/App',
  kmsKeyArn: arn,
  kmsOperation: op,
  kmsRequestId: 'b7f5c6a4-0000-4000-8000-000000000001',
  ...extra,
});
const b64 = (n: number, fill = 0x61) => Buffer.alloc(n, fill).toString('base64');

function encryptBody(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { requestMetadata: md('Encrypt'), plaintext: plaintext.toString('base64'), encryptionAlgorithm: 'AES_GCM', ...over };
}
function decryptBody(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { requestMetadata: md('Decrypt'), ...good, additionalAuthenticatedData: goodAad.toString('base64'), encryptionAlgorithm: 'AES_GCM', ...over };
}
const metadataBody = (over: Record<string, unknown> = {}) => ({ requestMetadata: { awsPrincipalArn: 'arn:aws:iam::111122223333:role/KeyAdmin', kmsOperation: 'CreateKey', kmsRequestId: 'm-1' }, ...over });
const healthBody = (over: Record<string, unknown> = {}) => ({ requestMetadata: { kmsRequestId: 'h-1', kmsOperation: 'KmsHealthCheck' }, ...over });

const post = (op: 'encrypt' | 'decrypt' | 'metadata' | 'health', body: unknown, key = 'demo-key'): Promise<XksResponse> =>
  c.send(op === 'health' ? c.path('/health') : c.path(`/keys/${key}/${op}`), { body });

before(async () => {
  h = await startKeyhold({
    beforeStart: (dir) => setConfigValues(dir, 'xks', { max_plaintext_bytes: SPEC_PLAINTEXT, max_aad_bytes: SPEC_AAD }),
  });
  c = demoXksClient(h);
  const policyFile = join(h.dataDir, 'policy.json');
  writeFileSync(policyFile, JSON.stringify({ default: 'allow', rules: [{ id: 'no-denied-key', effect: 'deny', keyIds: ['denied-key'] }] }));
  await Promise.all([
    h.json(['key', 'create', 'enc-only', '--keystore', 'demo', '--usage', 'encrypt']),
    h.json(['key', 'create', 'off-key', '--keystore', 'demo']),
    h.json(['key', 'create', 'denied-key', '--keystore', 'demo']),
  ]);
  await Promise.all([h.json(['key', 'disable', 'off-key']), h.json(['keystore', 'policy', 'set', 'demo', '--file', policyFile])]);
  const e = await c.encrypt('demo-key', { plaintext, aad: goodAad });
  assertOk(e);
  good = ciphertextFields(e);
  await eventually(async () => assertXksError(await c.encrypt('off-key', { plaintext }), 400, 'InvalidStateException'));
  await eventually(async () => assertXksError(await c.encrypt('denied-key', { plaintext }), 403, 'AccessDeniedException'));
});

after(async () => {
  c?.close();
  await h?.dispose();
});

test('every error row of the spec that the proxy can produce, with its HTTP status', async () => {
  const flippedTag = Buffer.from(good.authenticationTag, 'base64');
  flippedTag[3]! ^= 0x10;
  const rows: [string, () => Promise<XksResponse>, number, string][] = [
    ['malformed JSON', () => post('encrypt', '{"requestMetadata":'), 400, 'ValidationException'],
    ['disabled key', () => post('encrypt', encryptBody(), 'off-key'), 400, 'InvalidStateException'],
    ['altered tag', () => post('decrypt', decryptBody({ authenticationTag: flippedTag.toString('base64') })), 400, 'InvalidCiphertextException'],
    ['decrypt with an encrypt-only key', () => post('decrypt', decryptBody(), 'enc-only'), 400, 'InvalidKeyUsageException'],
    ['no signature', () => c.send(c.path('/health'), { body: healthBody(), unsigned: true }), 401, 'AuthenticationFailedException'],
    ['policy denial', () => post('encrypt', encryptBody(), 'denied-key'), 403, 'AccessDeniedException'],
    ['unknown key', () => post('metadata', metadataBody(), 'no-such-key'), 404, 'KeyNotFoundException'],
    ['unknown prefix', () => c.send('/unknown/kms/xks/v1/health', { body: healthBody() }), 404, 'InvalidUriPathException'],
    ['unknown operation path', () => c.send(c.path('/keys/demo-key/sign'), { body: metadataBody() }), 404, 'InvalidUriPathException'],
    ['plaintext above the limit', () => post('encrypt', encryptBody({ plaintext: b64(SPEC_PLAINTEXT + 1) })), 501, 'UnsupportedOperationException'],
  ];
  for (const [what, call, status, name] of rows) assertXksError(await call(), status, name, what);

  // GET on an API URI: 405, no errorName is defined for it.
  for (const op of ['health', 'keys/demo-key/metadata', 'keys/demo-key/encrypt', 'keys/demo-key/decrypt']) {
    const r = await c.send(c.path(`/${op}`), { method: 'GET' });
    assert.equal(r.status, 405, op);
    assert.match(String(r.headers['content-type']), /^application\/json/);
  }
});

test('rejects Base64 that is URL-safe, unpadded, or not Base64 at all', async () => {
  // 0xfb 0xff 0xbf encodes to "+/+/" in standard Base64 and "-_-_" in the URL-safe alphabet.
  const binary = Buffer.from([0xfb, 0xff, 0xbf, 0xfb, 0xff]);
  const bad = {
    'URL-safe alphabet': binary.toString('base64url') + '=',
    'missing padding': Buffer.from('abcd1').toString('base64').replace(/=+$/, ''),
    junk: '!!!!',
    'embedded newline': 'YWJj\nZGVm',
    'embedded space': 'YWJj ZGVm',
    'padding in the middle': 'YQ==YWJj',
    'too much padding': 'YQ===',
    'not a string': 12345,
  };
  assert.equal(binary.toString('base64'), '+/+/+/8=', 'the test value uses both special characters');
  for (const [what, value] of Object.entries(bad)) {
    assertXksError(await post('encrypt', encryptBody({ plaintext: value })), 400, 'ValidationException', `plaintext ${what}`);
    assertXksError(await post('encrypt', encryptBody({ additionalAuthenticatedData: value })), 400, 'ValidationException', `encrypt AAD ${what}`);
    for (const field of ['ciphertext', 'initializationVector', 'authenticationTag', 'ciphertextMetadata', 'additionalAuthenticatedData']) {
      assertXksError(await post('decrypt', decryptBody({ [field]: value })), 400, 'ValidationException', `decrypt ${field} ${what}`);
    }
  }
  // The same bytes in standard Base64 are fine (the key just cannot decrypt them).
  assertOk(await post('encrypt', encryptBody({ plaintext: binary.toString('base64') })));
});

test('IVs must be 12 or 16 bytes and tags 16 bytes', async () => {
  for (const n of [0, 1, 11, 13, 15, 17, 32]) {
    assertXksError(await post('decrypt', decryptBody({ initializationVector: b64(n) })), 400, 'ValidationException', `IV of ${n} bytes`);
  }
  // A 16-byte IV is a legal size: it passes validation and fails only the tag check.
  assertXksError(await post('decrypt', decryptBody({ initializationVector: b64(16) })), 400, 'InvalidCiphertextException', 'IV of 16 bytes');
  for (const n of [0, 12, 15, 17, 32]) {
    assertXksError(await post('decrypt', decryptBody({ authenticationTag: b64(n) })), 400, 'ValidationException', `tag of ${n} bytes`);
  }
});

test('ciphertextMetadata over 20 bytes is a ValidationException; 20 bytes is a legal size', async () => {
  assertXksError(await post('decrypt', decryptBody({ ciphertextMetadata: b64(21, 1) })), 400, 'ValidationException', '21 bytes');
  assertXksError(await post('decrypt', decryptBody({ ciphertextMetadata: b64(64, 1) })), 400, 'ValidationException', '64 bytes');
  // Legal size but not what this key wrote: the tag (or the format) refuses it.
  assertXksError(await post('decrypt', decryptBody({ ciphertextMetadata: b64(20, 1) })), 400, 'InvalidCiphertextException', '20 bytes');
});

test('plaintext and ciphertext of exactly 4300 bytes work; one byte more is UnsupportedOperationException', async () => {
  const big = Buffer.alloc(SPEC_PLAINTEXT, 0x5a);
  const e = await c.encrypt('demo-key', { plaintext: big, cdiv: true });
  assertOk(e, '4300-byte plaintext');
  assert.equal(Buffer.from(String(e.body.ciphertext), 'base64').length, SPEC_PLAINTEXT);
  const d = await c.decrypt('demo-key', ciphertextFields(e));
  assertOk(d, '4300-byte ciphertext');
  assert.ok(Buffer.from(String(d.body.plaintext), 'base64').equals(big));

  assertXksError(await post('encrypt', encryptBody({ plaintext: b64(SPEC_PLAINTEXT + 1) })), 501, 'UnsupportedOperationException', 'plaintext +1');
  assertXksError(await post('decrypt', decryptBody({ ciphertext: b64(SPEC_PLAINTEXT + 1) })), 501, 'UnsupportedOperationException', 'ciphertext +1');
  assertXksError(await post('encrypt', encryptBody({ plaintext: b64(SPEC_PLAINTEXT * 3) })), 501, 'UnsupportedOperationException', 'plaintext x3');
  assertXksError(await post('encrypt', encryptBody({ plaintext: '' })), 400, 'ValidationException', 'empty plaintext');
  assertXksError(await post('decrypt', decryptBody({ ciphertext: '' })), 400, 'ValidationException', 'empty ciphertext');
});

test('AAD of exactly 8192 bytes works on encrypt and decrypt; one byte more is UnsupportedOperationException', async () => {
  const aad = Buffer.alloc(SPEC_AAD, 0x41);
  aad[SPEC_AAD - 1] = 0x42;
  const e = await c.encrypt('demo-key', { plaintext, aad, cdiv: true });
  assertOk(e, '8192-byte AAD');
  assertOk(await c.decrypt('demo-key', { ...ciphertextFields(e), aad }), 'decrypt with 8192-byte AAD');
  const other = Buffer.from(aad);
  other[0] = 0x43;
  assertXksError(await c.decrypt('demo-key', { ...ciphertextFields(e), aad: other }), 400, 'InvalidCiphertextException', 'AAD differs in its first byte');
  assertXksError(await post('encrypt', encryptBody({ additionalAuthenticatedData: b64(SPEC_AAD + 1) })), 501, 'UnsupportedOperationException', 'encrypt AAD +1');
  assertXksError(await post('decrypt', decryptBody({ additionalAuthenticatedData: b64(SPEC_AAD + 1) })), 501, 'UnsupportedOperationException', 'decrypt AAD +1');
});

test('ARNs and other requestMetadata strings of 2048 characters are accepted', async () => {
  const long = (p: string) => p + 'x'.repeat(2048 - p.length);
  const extra = {
    awsPrincipalArn: long('arn:aws:iam::111122223333:role/'),
    kmsKeyArn: long('arn:aws:kms:us-east-1:111122223333:key/'),
    kmsViaService: long('s3'),
    awsSourceVpc: long('vpc-'),
    awsSourceVpce: long('vpce-'),
    kmsRequestId: long('req-'),
  };
  for (const v of Object.values(extra)) assert.equal(v.length, 2048);
  assertOk(await post('metadata', metadataBody({ requestMetadata: { ...md('CreateKey'), ...extra } })), 'metadata');
  const e = await post('encrypt', encryptBody({ requestMetadata: md('Encrypt', extra) }));
  assertOk(e, 'encrypt');
  assertOk(await post('decrypt', { requestMetadata: md('Decrypt', extra), ...ciphertextFields(e), encryptionAlgorithm: 'AES_GCM' }), 'decrypt');
});

test('a body over the cap is UnsupportedOperationException and the server keeps serving', async () => {
  for (const size of [70_000, 1_100_000]) {
    const r = await post('encrypt', JSON.stringify(encryptBody({ pad: 'p'.repeat(size) })));
    assertXksError(r, 501, 'UnsupportedOperationException', `${size}-byte body`);
  }
  assertOk(await post('health', healthBody()), 'still serving');
});

test('malformed JSON and JSON that is not an object are ValidationException, on every operation', async () => {
  const bodies = ['', ' ', '{', '{"requestMetadata":', '{"a":1}{', '{"a":1,}', "{'a':1}", 'nul', '\u00ff\u00fe', '[]', '[{}]', '"requestMetadata"', 'null', '42', 'true'];
  for (const op of ['health', 'metadata', 'encrypt', 'decrypt'] as const) {
    for (const body of bodies) assertXksError(await post(op, body), 400, 'ValidationException', `${op} ${JSON.stringify(body)}`);
  }
});

test('a missing, empty or non-object requestMetadata is ValidationException, health included (§14.3)', async () => {
  const full = { health: healthBody(), metadata: metadataBody(), encrypt: encryptBody(), decrypt: decryptBody() };
  for (const op of ['health', 'metadata', 'encrypt', 'decrypt'] as const) {
    const { requestMetadata: _drop, ...rest } = full[op];
    assertXksError(await post(op, rest), 400, 'ValidationException', `${op} without requestMetadata`);
    assertXksError(await post(op, {}), 400, 'ValidationException', `${op} {}`);
    for (const bad of [{}, null, 'x', [], 7]) {
      assertXksError(await post(op, { ...rest, requestMetadata: bad }), 400, 'ValidationException', `${op} requestMetadata ${JSON.stringify(bad)}`);
    }
  }
});

test('each required field, when missing or of the wrong type, is a ValidationException', async () => {
  const required: Record<'health' | 'metadata' | 'encrypt' | 'decrypt', { body: () => Record<string, unknown>; top: string[]; meta: string[] }> = {
    health: { body: healthBody, top: [], meta: ['kmsRequestId', 'kmsOperation'] },
    metadata: { body: metadataBody, top: [], meta: ['awsPrincipalArn', 'kmsOperation', 'kmsRequestId'] },
    encrypt: { body: encryptBody, top: ['plaintext', 'encryptionAlgorithm'], meta: ['awsPrincipalArn', 'kmsKeyArn', 'kmsOperation', 'kmsRequestId'] },
    decrypt: { body: decryptBody, top: ['ciphertext', 'initializationVector', 'authenticationTag', 'encryptionAlgorithm'], meta: ['awsPrincipalArn', 'kmsKeyArn', 'kmsOperation', 'kmsRequestId'] },
  };
  for (const [op, spec] of Object.entries(required) as [keyof typeof required, (typeof required)[keyof typeof required]][]) {
    assertOk(await post(op, spec.body()), `${op} complete`);
    for (const field of spec.top) {
      const body = spec.body();
      delete body[field];
      assertXksError(await post(op, body), 400, 'ValidationException', `${op} without ${field}`);
      assertXksError(await post(op, { ...spec.body(), [field]: 1 }), 400, 'ValidationException', `${op} ${field} a number`);
    }
    for (const field of spec.meta) {
      const body = spec.body();
      const m = { ...(body.requestMetadata as Record<string, unknown>) };
      delete m[field];
      assertXksError(await post(op, { ...body, requestMetadata: m }), 400, 'ValidationException', `${op} without requestMetadata.${field}`);
      for (const wrong of [1, null, ['x'], {}, '']) {
        assertXksError(await post(op, { ...body, requestMetadata: { ...m, [field]: wrong } }), 400, 'ValidationException', `${op} requestMetadata.${field} = ${JSON.stringify(wrong)}`);
      }
    }
  }
});

test('encryptionAlgorithm other than AES_GCM and a CDIV algorithm other than SHA_256 are ValidationException', async () => {
  for (const alg of ['AES_CBC', 'aes_gcm', 'AES_GCM ', 'SYMMETRIC_DEFAULT', '']) {
    assertXksError(await post('encrypt', encryptBody({ encryptionAlgorithm: alg })), 400, 'ValidationException', `encrypt ${alg}`);
    assertXksError(await post('decrypt', decryptBody({ encryptionAlgorithm: alg })), 400, 'ValidationException', `decrypt ${alg}`);
  }
  for (const alg of ['SHA_512', 'sha_256', '', 1]) {
    assertXksError(await post('encrypt', encryptBody({ ciphertextDataIntegrityValueAlgorithm: alg })), 400, 'ValidationException', `CDIV ${String(alg)}`);
  }
});

test('an unknown kmsOperation is accepted by every operation', async () => {
  for (const kmsOperation of ['FutureBulkEncrypt', 'DescribeKey', 'x']) {
    assertOk(await post('health', { requestMetadata: { kmsRequestId: 'h', kmsOperation } }), `health ${kmsOperation}`);
    assertOk(await post('metadata', metadataBody({ requestMetadata: { ...md(kmsOperation) } })), `metadata ${kmsOperation}`);
    const e = await post('encrypt', encryptBody({ requestMetadata: md(kmsOperation) }));
    assertOk(e, `encrypt ${kmsOperation}`);
    assertOk(await post('decrypt', { requestMetadata: md(kmsOperation), ...ciphertextFields(e), encryptionAlgorithm: 'AES_GCM' }), `decrypt ${kmsOperation}`);
  }
});

test('unknown fields are ignored, at the top level and inside requestMetadata', async () => {
  const futureMeta = {
    SourceIdentity: 'someone',
    kmsRecipientAttestationImageSha384: 'ab'.repeat(48),
    kmsRecipientAttestationPCR0: 'cd'.repeat(48),
    principalTags: { team: 'payments' },
    nothing: null,
    list: [1, 'two', { three: 3 }],
  };
  const futureTop = { kmsFutureField: { nested: [true, null] }, version: 2, note: 'ignored' };
  assertOk(await post('health', { requestMetadata: { kmsRequestId: 'h', kmsOperation: 'KmsHealthCheck', ...futureMeta }, ...futureTop }), 'health');
  // The test client sends kmsKeyArn and kmsViaService to GetKeyMetadata, where the spec does not list them.
  assertOk(await post('metadata', metadataBody({ requestMetadata: { ...md('CreateKey', { kmsViaService: 'ebs' }), ...futureMeta }, ...futureTop })), 'metadata');
  const e = await post('encrypt', encryptBody({ requestMetadata: md('Encrypt', futureMeta), ...futureTop }));
  assertOk(e, 'encrypt');
  const d = await post('decrypt', { requestMetadata: md('Decrypt', futureMeta), ...ciphertextFields(e), encryptionAlgorithm: 'AES_GCM', ...futureTop });
  assertOk(d, 'decrypt');
  assert.equal(d.body.plaintext, plaintext.toString('base64'));
});

/** Sends raw bytes over TLS and returns the parsed response (status and JSON body). */
function rawRequest(head: Buffer): Promise<{ status: number; text: string; body: Record<string, unknown>; headers: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: 'localhost', port: h.port, ca: h.caPem, servername: 'localhost' }, () => s.end(head));
    let data = '';
    s.on('data', (d: Buffer) => (data += d.toString('latin1')));
    s.on('error', reject);
    s.on('close', () => {
      const [headText = '', text = ''] = data.split('\r\n\r\n');
      const [statusLine = '', ...lines] = headText.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        /* not JSON */
      }
      resolve({ status: Number(statusLine.split(' ')[1]), text, body, headers });
    });
  });
}

test('requests the HTTP parser refuses get a ValidationException; errorMessage stays printable ASCII under 512 characters', async () => {
  const path = `/demo/kms/xks/v1/keys/${'\u00e9\u2603\u0007'.repeat(40)}/${'z'.repeat(250)}`;
  const body = '{}';
  const head = Buffer.concat([
    Buffer.from('POST ', 'latin1'),
    Buffer.from(path, 'utf8'),
    Buffer.from(` HTTP/1.1\r\nHost: localhost:${h.port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`, 'latin1'),
  ]);
  // Node's HTTP parser refuses such a request line before routing; the answer is still spec-shaped.
  assertXksError(await rawRequest(head), 400, 'ValidationException', 'non-ASCII request line');
  const garbage = Buffer.from(`NOT-HTTP \u0001\r\n\r\n`, 'latin1');
  assertXksError(await rawRequest(garbage), 400, 'ValidationException', 'not HTTP at all');
  // Headers beyond the parser's size limit (16 KiB).
  assertXksError(await c.health({ extraHeaders: { 'x-padding': 'p'.repeat(20_000) } }), 400, 'ValidationException', 'huge header');

  const longPath = `/demo/kms/xks/v1/keys/${'k'.repeat(128)}/metadata`;
  assertXksError(await c.send(longPath, { body: metadataBody() }), 404, 'KeyNotFoundException', '128-character key id');
  assertXksError(await c.send(`/demo/kms/xks/v1/keys/${'k'.repeat(129)}/metadata`, { body: metadataBody() }), 404, 'InvalidUriPathException', '129-character key id');
  assertXksError(await c.send(`/${'p'.repeat(400)}/kms/xks/v1/health`, { body: healthBody() }), 404, 'InvalidUriPathException', 'a 400-character prefix');
  // Non-ASCII and control characters inside JSON values never reach errorMessage unescaped.
  assertXksError(await post('encrypt', encryptBody({ encryptionAlgorithm: 'AES_GCM\u2603\u0000' + 'x'.repeat(1000) })), 400, 'ValidationException', 'odd algorithm');
  assertXksError(await post('encrypt', encryptBody({ plaintext: '\u2603'.repeat(600) })), 400, 'ValidationException', 'odd plaintext');
});

test('bad input changes nothing: the key, its versions and earlier ciphertexts are untouched', async () => {
  const before = await h.json<Record<string, unknown>>(['key', 'show', 'demo-key']);
  const storeBefore = await h.json<Record<string, unknown>>(['keystore', 'show', 'demo']);
  // A burst of refused calls of every kind ...
  const tag = Buffer.from(good.authenticationTag, 'base64');
  tag[0]! ^= 1;
  for (const body of [decryptBody({ authenticationTag: tag.toString('base64') }), decryptBody({ ciphertextMetadata: b64(5, 9) }), decryptBody({ initializationVector: b64(13) }), '{"x":', encryptBody({ plaintext: b64(SPEC_PLAINTEXT + 1) })]) {
    const r = await post(typeof body === 'string' || 'plaintext' in body ? 'encrypt' : 'decrypt', body);
    assert.notEqual(r.status, 200);
  }
  await c.send(c.path('/keys/demo-key/encrypt'), { body: encryptBody(), unsigned: true });
  // ... leaves the key exactly as it was, and the earlier ciphertext still decrypts.
  assert.deepEqual(await h.json(['key', 'show', 'demo-key']), before);
  assert.deepEqual(await h.json(['keystore', 'show', 'demo']), storeBefore);
  const d = await c.decrypt('demo-key', { ...good, aad: goodAad });
  assertOk(d);
  assert.equal(d.body.plaintext, plaintext.toString('base64'));
  const e = await c.encrypt('demo-key', { plaintext });
  assertOk(e);
  assert.equal(e.body.ciphertextMetadata, good.ciphertextMetadata, 'same format and key version as before');
});

test('each call is logged on one structured line with its kmsRequestId, also when its input was refused', async () => {
  const ok = await post('encrypt', encryptBody({ requestMetadata: md('Encrypt', { kmsRequestId: 'log-ok-1' }) }));
  assertOk(ok);
  const refused = await post('decrypt', decryptBody({ requestMetadata: md('Decrypt', { kmsRequestId: 'log-refused-1' }), initializationVector: b64(13) }));
  assertXksError(refused, 400, 'ValidationException');
  const line = (id: string) =>
    eventually(async () => {
      const found = h
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.event === 'xks' && l.kmsRequestId === id);
      assert.ok(found, `a log line for ${id}`);
      return found;
    });
  const a = await line('log-ok-1');
  assert.equal(a.operation, 'encrypt');
  assert.equal(a.kmsOperation, 'Encrypt');
  assert.equal(a.keyStore, 'demo');
  assert.equal(a.key, 'demo-key');
  assert.equal(a.keyVersion, 1);
  assert.equal(a.status, 200);
  assert.equal(a.outcome, 'ok');
  assert.equal(typeof a.latencyMs, 'number');
  const b = await line('log-refused-1');
  assert.equal(b.operation, 'decrypt');
  assert.equal(b.key, 'demo-key');
  assert.equal(b.status, 400);
  assert.equal(b.outcome, 'ValidationException');
});

test('the server log never contains plaintext', async () => {
  const out = h.output();
  assert.ok(!out.includes(plaintext.toString('base64')));
  assert.ok(!out.includes(plaintext.toString()));
  assert.ok(!out.includes(h.demo!.credential.secretAccessKey));
});
