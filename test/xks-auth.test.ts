import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { startKeyhold, eventually, type KeyholdHarness } from './support/keyhold-harness.js';
import { xksClient, type XksClient, type XksCredential } from './support/xks-client.js';
import { curlSigV4 } from './support/curl.js';
import { assertOk, assertXksError, ciphertextFields } from './support/xks-assert.js';

/**
 * SigV4 authentication of the XKS listener (xks-spec §8.1) against two independent signers:
 * @smithy/signature-v4 (with tampering after signing) and curl --aws-sigv4.
 */

interface CreatedStore {
  uriPath: string;
  accessKeyId: string;
  secretAccessKey: string;
}

let h: KeyholdHarness;
let demo: XksClient;
let tenantB: CreatedStore;
let eu: CreatedStore;
const clients: XksClient[] = [];

function client(uriPath: string, credential: XksCredential, region?: string): XksClient {
  const c = xksClient({ url: h.url, caPem: h.caPem, uriPath, credential, ...(region ? { region } : {}) });
  clients.push(c);
  return c;
}

before(async () => {
  h = await startKeyhold();
  demo = client(h.demo!.uriPath, h.demo!.credential);
  [tenantB, eu] = await Promise.all([
    h.json<CreatedStore>(['keystore', 'create', 'tenant-b', '--prefix', '/tenant-b']),
    h.json<CreatedStore>(['keystore', 'create', 'eu', '--prefix', '/eu', '--region', 'eu-west-1']),
  ]);
  await Promise.all([h.json(['key', 'create', 'b-key', '--keystore', 'tenant-b']), h.json(['key', 'create', 'eu-key', '--keystore', 'eu'])]);
  // The new stores reach the running server within a second.
  await eventually(async () => assertOk(await client(tenantB.uriPath, tenantB).metadata('b-key')));
  await eventually(async () => assertOk(await client(eu.uriPath, eu, 'eu-west-1').metadata('eu-key')));
});

after(async () => {
  for (const c of clients) c.close();
  await h?.dispose();
});

const plaintext = Buffer.from('thirty-two bytes of a data key!!');

test('a correctly signed request succeeds, with and without x-amz-content-sha256', async () => {
  assertOk(await demo.encrypt('demo-key', { plaintext }));
  // KMS does not send x-amz-content-sha256: the verifier hashes the body itself.
  assertOk(await demo.encrypt('demo-key', { plaintext }, { applyChecksum: false }));
});

test('rejects a body changed after signing', async () => {
  const flip = (req: { body: Buffer }) => {
    const i = req.body.indexOf('"plaintext":"') + 13;
    req.body[i] = req.body[i] === 0x41 ? 0x42 : 0x41;
  };
  // With the signed x-amz-content-sha256 header (smithy's default) ...
  assertXksError(await demo.encrypt('demo-key', { plaintext }, { mutate: flip }), 401, 'AuthenticationFailedException', 'checksum header');
  // ... without it, as KMS signs (the body hash inside the signature catches it) ...
  assertXksError(await demo.encrypt('demo-key', { plaintext }, { mutate: flip, applyChecksum: false }), 401, 'AuthenticationFailedException', 'no checksum header');
  // ... and with x-amz-content-sha256 rewritten to match the new body (it is signed).
  const rewrite = (req: { headers: [string, string][]; body: Buffer }) => {
    flip(req);
    for (const hdr of req.headers) if (hdr[0].toLowerCase() === 'x-amz-content-sha256') hdr[1] = createHash('sha256').update(req.body).digest('hex');
  };
  assertXksError(await demo.encrypt('demo-key', { plaintext }, { mutate: rewrite }), 401, 'AuthenticationFailedException', 'rewritten checksum');
  // A body appended to (longer than signed) is refused too.
  const append = (req: { body: Buffer }) => {
    req.body = Buffer.concat([req.body.subarray(0, req.body.length - 1), Buffer.from(',"extra":1}')]);
  };
  assertXksError(await demo.encrypt('demo-key', { plaintext }, { mutate: append, applyChecksum: false }), 401, 'AuthenticationFailedException', 'appended');
});

test('rejects a request whose signed header was changed, honours unsigned extra headers', async () => {
  const setHeader = (name: string, value: string) => (req: { headers: [string, string][] }) => {
    const hdr = req.headers.find(([k]) => k.toLowerCase() === name);
    assert.ok(hdr, `the signer sent ${name}`);
    hdr[1] = value;
  };
  assertXksError(await demo.health({ mutate: setHeader('content-type', 'application/json; charset=utf-8') }), 401, 'AuthenticationFailedException', 'content-type');
  assertXksError(await demo.health({ mutate: setHeader('host', `127.0.0.1:${h.port}`) }), 401, 'AuthenticationFailedException', 'host');
  assertXksError(await demo.health({ mutate: setHeader('x-amz-date', new Date(Date.now() - 1000).toISOString().replace(/[-:]|\.\d{3}/g, '')) }), 401, 'AuthenticationFailedException', 'x-amz-date');
  // A header added after signing is not in SignedHeaders and does not matter.
  assertOk(await demo.health({ mutate: (req) => req.headers.push(['x-forwarded-for', '203.0.113.7']) }), 'unsigned header');
  // Changing the path (another key) breaks the signature; the route still exists.
  const retarget = (req: { path: string }) => {
    req.path = req.path.replace('/demo-key/', '/other-key/');
  };
  assertXksError(await demo.metadata('demo-key', { mutate: retarget }), 401, 'AuthenticationFailedException', 'path');
});

test('a key store pinned to eu-west-1 refuses signatures for other regions', async () => {
  const euClient = client(eu.uriPath, eu, 'eu-west-1');
  assertOk(await euClient.metadata('eu-key'));
  assertXksError(await euClient.metadata('eu-key', { region: 'us-east-1' }), 401, 'AuthenticationFailedException', 'us-east-1');
  assertXksError(await euClient.health({ region: 'eu-west-2' }), 401, 'AuthenticationFailedException', 'health eu-west-2');
  // A store with no regions accepts any region.
  assertOk(await demo.metadata('demo-key', { region: 'ap-southeast-2' }));
});

test('refuses a signature for another service', async () => {
  for (const service of ['kms', 's3', 'kms-xks-proxy2']) {
    assertXksError(await demo.metadata('demo-key', { service }), 401, 'AuthenticationFailedException', service);
  }
});

test('refuses dates more than five minutes in the past or future, accepts inside the window', async () => {
  const minutes = (m: number) => new Date(Date.now() + m * 60_000);
  assertXksError(await demo.health({ signingDate: minutes(-6) }), 401, 'AuthenticationFailedException', 'stale');
  assertXksError(await demo.health({ signingDate: minutes(6) }), 401, 'AuthenticationFailedException', 'future');
  assertXksError(await demo.health({ signingDate: minutes(-60 * 24) }), 401, 'AuthenticationFailedException', 'a day old');
  assertOk(await demo.health({ signingDate: minutes(-4) }), 'four minutes old');
  assertOk(await demo.health({ signingDate: minutes(4) }), 'four minutes ahead');
});

test('an unknown access key id is AuthenticationFailedException, not ValidationException', async () => {
  const secret = h.demo!.credential.secretAccessKey;
  for (const accessKeyId of [`Invalid${h.demo!.credential.accessKeyId}`, 'AAAAAAAAAAAAAAAAAAAAAAAA', 'x']) {
    const c = client(h.demo!.uriPath, { accessKeyId, secretAccessKey: secret });
    assertXksError(await c.metadata('demo-key'), 401, 'AuthenticationFailedException', accessKeyId);
    assertXksError(await c.health(), 401, 'AuthenticationFailedException', `${accessKeyId} health`);
  }
  // The right id with the wrong secret.
  const wrongSecret = client(h.demo!.uriPath, { accessKeyId: h.demo!.credential.accessKeyId, secretAccessKey: secret.replace(/^./, (ch) => (ch === 'A' ? 'B' : 'A')) });
  assertXksError(await wrongSecret.metadata('demo-key'), 401, 'AuthenticationFailedException', 'wrong secret');
});

test('a missing or malformed Authorization header is AuthenticationFailedException', async () => {
  assertXksError(await demo.metadata('demo-key', { unsigned: true }), 401, 'AuthenticationFailedException', 'unsigned');
  const setAuth = (value: string | undefined) => (req: { headers: [string, string][] }) => {
    req.headers = req.headers.filter(([k]) => k.toLowerCase() !== 'authorization');
    if (value !== undefined) req.headers.push(['Authorization', value]);
  };
  const akid = h.demo!.credential.accessKeyId;
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, '');
  const sig = 'a'.repeat(64);
  for (const value of [
    '',
    'Basic dXNlcjpwYXNz',
    'AWS4-HMAC-SHA256',
    `AWS4-HMAC-SHA256 Credential=${akid}/${day}/us-east-1/kms-xks-proxy/aws4_request`,
    `AWS4-HMAC-SHA256 Credential=${akid}/${day}/us-east-1/kms-xks-proxy/aws4_request, SignedHeaders=host;x-amz-date, Signature=zz`,
    `AWS4-HMAC-SHA256 Credential=${akid}/${day}/us-east-1/kms-xks-proxy, SignedHeaders=host;x-amz-date, Signature=${sig}`,
    `AWS4-HMAC-SHA512 Credential=${akid}/${day}/us-east-1/kms-xks-proxy/aws4_request, SignedHeaders=host;x-amz-date, Signature=${sig}`,
    `AWS4-HMAC-SHA256 Credential=${akid}/${day}/us-east-1/kms-xks-proxy/aws4_request, SignedHeaders=x-amz-date, Signature=${sig}`,
  ]) {
    assertXksError(await demo.metadata('demo-key', { mutate: setAuth(value) }), 401, 'AuthenticationFailedException', JSON.stringify(value));
  }
  // A signature that is well formed but computed over something else.
  assertXksError(
    await demo.metadata('demo-key', {
      mutate: (req) => {
        const hdr = req.headers.find(([k]) => k.toLowerCase() === 'authorization')!;
        hdr[1] = hdr[1].replace(/Signature=([0-9a-f])/, (_m, ch: string) => `Signature=${ch === '0' ? '1' : '0'}`);
      },
    }),
    401,
    'AuthenticationFailedException',
    'one signature digit changed',
  );
});

test('duplicate Host, Authorization or X-Amz-Date headers are refused', async () => {
  for (const name of ['host', 'authorization', 'x-amz-date']) {
    const r = await demo.metadata('demo-key', {
      mutate: (req) => {
        const hdr = req.headers.find(([k]) => k.toLowerCase() === name)!;
        req.headers.push([hdr[0], hdr[1]]);
      },
    });
    assertXksError(r, 401, 'AuthenticationFailedException', `duplicate ${name}`);
  }
  // A second X-Amz-Date with another value, placed first, cannot replace the signed one.
  const r = await demo.metadata('demo-key', {
    mutate: (req) => {
      req.headers.unshift(['X-Amz-Date', '20200101T000000Z']);
    },
  });
  assertXksError(r, 401, 'AuthenticationFailedException', 'two different dates');
  // The operator log says why (the response deliberately does not).
  await eventually(async () => {
    const reasons = h.output().split('\n').filter((l) => l.includes('"xks_auth_failed"') && l.includes('appears more than once'));
    assert.ok(reasons.length >= 4, `duplicate headers were the reason: ${reasons.length}`);
  });
});

test("a credential of one key store does not open another key store's prefix", async () => {
  const aOnB = client(tenantB.uriPath, h.demo!.credential);
  assertXksError(await aOnB.health(), 401, 'AuthenticationFailedException', 'demo credential on tenant-b health');
  assertXksError(await aOnB.metadata('b-key'), 401, 'AuthenticationFailedException', 'demo credential on tenant-b key');
  const bOnA = client(h.demo!.uriPath, tenantB);
  assertXksError(await bOnA.metadata('demo-key'), 401, 'AuthenticationFailedException', 'tenant-b credential on demo');
  // With its own credential, a key of another store is simply not there.
  assertXksError(await client(tenantB.uriPath, tenantB).metadata('demo-key'), 404, 'KeyNotFoundException', 'demo-key via tenant-b');
});

test('two live credentials both work, a third is refused, a revoked one stops working', async () => {
  const first = client(tenantB.uriPath, tenantB);
  const added = await h.json<{ accessKeyId: string; secretAccessKey: string }>(['keystore', 'credential', 'add', 'tenant-b']);
  assert.match(added.accessKeyId, /^[A-Z2-7]{20,30}$/);
  assert.match(added.secretAccessKey, /^[a-zA-Z0-9/+=]{43,64}$/);
  const second = client(tenantB.uriPath, added);
  await eventually(async () => assertOk(await second.metadata('b-key'), 'second credential'));
  assertOk(await first.metadata('b-key'), 'first credential still works');

  const third = await h.cli(['keystore', 'credential', 'add', 'tenant-b']);
  assert.notEqual(third.code, 0, 'a third live credential is refused');
  assert.match(third.stderr, /2 live credentials/);
  assert.doesNotMatch(third.stdout, /[A-Z2-7]{20,30}/, 'no credential was printed');
  const listed = await h.json<{ accessKeyId: string; live: boolean }[]>(['keystore', 'credential', 'list', 'tenant-b']);
  assert.equal(listed.filter((c) => c.live).length, 2);

  await h.json(['keystore', 'credential', 'revoke', 'tenant-b', tenantB.accessKeyId]);
  await eventually(async () => assertXksError(await first.metadata('b-key'), 401, 'AuthenticationFailedException', 'revoked'));
  assertOk(await second.metadata('b-key'), 'the other credential keeps working');
  // Revocation frees a slot: a new credential can be added again.
  const again = await h.json<{ accessKeyId: string }>(['keystore', 'credential', 'add', 'tenant-b']);
  assert.notEqual(again.accessKeyId, tenantB.accessKeyId);
  // The revoked one stays revoked.
  assertXksError(await first.health(), 401, 'AuthenticationFailedException', 'revoked, health');
});

test('curl --aws-sigv4 signs every operation successfully', async () => {
  const caFile = join(h.dataDir, 'tls', 'server.crt');
  const base = `${h.url}${h.demo!.uriPath}`;
  const md = (op: string) => ({
    awsPrincipalArn: 'arn:aws:iam::111122223333:role/App',
    kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
    kmsOperation: op,
    kmsRequestId: `curl-${op}`,
  });
  const call = (path: string, body: object, region = 'us-east-1') => curlSigV4({ url: base + path, caFile, region, credential: h.demo!.credential, body: JSON.stringify(body) });

  const health = await call('/health', { requestMetadata: { kmsRequestId: 'curl-h', kmsOperation: 'KmsHealthCheck' } });
  assert.equal(health.status, 200, health.text);
  assert.equal(health.body.xksProxyVendor, 'Keyhold');
  // curl signs content-type as well as host and x-amz-date; the verifier honours the list.
  assert.match(health.trace, /^> Authorization: AWS4-HMAC-SHA256 Credential=[A-Z2-7]+\/\d{8}\/us-east-1\/kms-xks-proxy\/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=[0-9a-f]{64}\r?$/m);

  const meta = await call('/keys/demo-key/metadata', { requestMetadata: { awsPrincipalArn: 'arn:aws:iam::111122223333:role/KeyAdmin', kmsOperation: 'CreateKey', kmsRequestId: 'curl-m' } });
  assert.equal(meta.status, 200, meta.text);
  assert.deepEqual(meta.body, { keySpec: 'AES_256', keyUsage: ['ENCRYPT', 'DECRYPT'], keyStatus: 'ENABLED' });

  const aad = Buffer.from('curl-aad').toString('base64');
  const enc = await call('/keys/demo-key/encrypt', { requestMetadata: md('GenerateDataKey'), plaintext: plaintext.toString('base64'), additionalAuthenticatedData: aad, encryptionAlgorithm: 'AES_GCM', ciphertextDataIntegrityValueAlgorithm: 'SHA_256' });
  assert.equal(enc.status, 200, enc.text);
  assert.equal(typeof enc.body.ciphertextDataIntegrityValue, 'string');

  const dec = await call('/keys/demo-key/decrypt', { requestMetadata: md('Decrypt'), ...ciphertextFields(enc), additionalAuthenticatedData: aad, encryptionAlgorithm: 'AES_GCM' });
  assert.equal(dec.status, 200, dec.text);
  assert.equal(dec.body.plaintext, plaintext.toString('base64'));

  // A 4300-byte plaintext, the spec minimum: curl sends it with Expect: 100-continue.
  const big = Buffer.alloc(4300, 0x33);
  const encBig = await call('/keys/demo-key/encrypt', { requestMetadata: md('Encrypt'), plaintext: big.toString('base64'), encryptionAlgorithm: 'AES_GCM' });
  assert.equal(encBig.status, 200, encBig.text);
  const decBig = await call('/keys/demo-key/decrypt', { requestMetadata: md('Decrypt'), ...ciphertextFields(encBig), encryptionAlgorithm: 'AES_GCM' });
  assert.equal(decBig.status, 200, decBig.text);
  assert.equal(decBig.body.plaintext, big.toString('base64'));

  // A curl-signed ciphertext decrypts through the other signer too.
  const viaSmithy = await demo.decrypt('demo-key', { ...ciphertextFields(enc), aad: Buffer.from('curl-aad') });
  assertOk(viaSmithy);

  // curl with a wrong region on the pinned store, and a wrong secret, is refused.
  const euWrong = await curlSigV4({ url: `${h.url}${eu.uriPath}/health`, caFile, region: 'us-west-2', credential: eu, body: JSON.stringify({ requestMetadata: { kmsRequestId: 'x', kmsOperation: 'KmsHealthCheck' } }) });
  assert.equal(euWrong.status, 401);
  assert.equal(euWrong.body.errorName, 'AuthenticationFailedException');
  const euRight = await curlSigV4({ url: `${h.url}${eu.uriPath}/health`, caFile, region: 'eu-west-1', credential: eu, body: JSON.stringify({ requestMetadata: { kmsRequestId: 'x', kmsOperation: 'KmsHealthCheck' } }) });
  assert.equal(euRight.status, 200, euRight.text);
});

test('the server log never contains a secret or a plaintext', async () => {
  const out = h.output();
  assert.ok(out.includes('"event":"xks"'), 'requests were logged');
  for (const secret of [h.demo!.credential.secretAccessKey, tenantB.secretAccessKey, eu.secretAccessKey]) assert.ok(!out.includes(secret), 'no secret in the log');
  assert.ok(!out.includes(plaintext.toString('base64')), 'no plaintext (Base64) in the log');
  assert.ok(!out.includes(plaintext.toString()), 'no plaintext in the log');
});
