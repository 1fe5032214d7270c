import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startKeyhold, type KeyholdHarness } from './support/keyhold-harness.js';
import { demoXksClient, type XksClient } from './support/xks-client.js';

let h: KeyholdHarness;
let c: XksClient;

before(async () => {
  h = await startKeyhold();
  c = demoXksClient(h);
  await h.json(['key', 'create', 'enc-only', '--keystore', 'demo', '--usage', 'encrypt']);
});

after(async () => {
  c?.close();
  await h?.dispose();
});

test('GetKeyMetadata answers AES_256, both usages, ENABLED', async () => {
  const r = await c.metadata('demo-key');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { keySpec: 'AES_256', keyUsage: ['ENCRYPT', 'DECRYPT'], keyStatus: 'ENABLED' });
  assert.equal(r.text, '{"keySpec":"AES_256","keyUsage":["ENCRYPT","DECRYPT"],"keyStatus":"ENABLED"}', 'compact one-line JSON');
  assert.match(String(r.headers['content-type']), /^application\/json/);
});

test('encrypt then decrypt returns the plaintext, with AAD and metadata bound', async () => {
  const plaintext = Buffer.from('a 32-byte data key, as KMS sends');
  const aad = Buffer.from('kms-aad');
  const e = await c.encrypt('demo-key', { plaintext, aad });
  assert.equal(e.status, 200, e.text);
  assert.equal(Buffer.from(String(e.body.ciphertext), 'base64').length, plaintext.length);
  assert.equal(Buffer.from(String(e.body.initializationVector), 'base64').length, 12);
  assert.equal(Buffer.from(String(e.body.authenticationTag), 'base64').length, 16);
  assert.ok(Buffer.from(String(e.body.ciphertextMetadata), 'base64').length <= 20);
  assert.equal(e.body.ciphertextDataIntegrityValue, undefined, 'no CDIV unless asked');
  const fields = {
    ciphertext: String(e.body.ciphertext),
    initializationVector: String(e.body.initializationVector),
    authenticationTag: String(e.body.authenticationTag),
    ciphertextMetadata: String(e.body.ciphertextMetadata),
  };
  const d = await c.decrypt('demo-key', { ...fields, aad });
  assert.equal(d.status, 200, d.text);
  assert.equal(Buffer.from(String(d.body.plaintext), 'base64').toString(), plaintext.toString());

  const wrongAad = await c.decrypt('demo-key', { ...fields, aad: Buffer.from('other') });
  assert.equal(wrongAad.status, 400);
  assert.equal(wrongAad.body.errorName, 'InvalidCiphertextException');
  const noAad = await c.decrypt('demo-key', fields);
  assert.equal(noAad.body.errorName, 'InvalidCiphertextException');
  const md = Buffer.from(fields.ciphertextMetadata, 'base64');
  md[md.length - 1]! ^= 1;
  const badMd = await c.decrypt('demo-key', { ...fields, aad, ciphertextMetadata: md.toString('base64') });
  assert.equal(badMd.body.errorName, 'InvalidCiphertextException');
  const tag = Buffer.from(fields.authenticationTag, 'base64');
  tag[0]! ^= 0x80;
  const badTag = await c.decrypt('demo-key', { ...fields, aad, authenticationTag: tag.toString('base64') });
  assert.equal(badTag.body.errorName, 'InvalidCiphertextException');
});

test('encrypt with CDIV returns the SHA-256 the spec defines', async () => {
  const aad = Buffer.from('project=nile');
  const e = await c.encrypt('demo-key', { plaintext: Buffer.from('data key'), aad, cdiv: true });
  assert.equal(e.status, 200, e.text);
  const b = (k: string) => Buffer.from(String(e.body[k]), 'base64');
  const expected = createHash('sha256').update(Buffer.concat([aad, b('ciphertextMetadata'), b('initializationVector'), b('ciphertext'), b('authenticationTag')])).digest('base64');
  assert.equal(e.body.ciphertextDataIntegrityValue, expected);
});

test('an encrypt-only key encrypts, refuses CDIV and refuses decrypt', async () => {
  const ok = await c.encrypt('enc-only', { plaintext: Buffer.from('x') });
  assert.equal(ok.status, 200);
  const withCdiv = await c.encrypt('enc-only', { plaintext: Buffer.from('x'), cdiv: true });
  assert.equal(withCdiv.status, 400);
  assert.equal(withCdiv.body.errorName, 'InvalidKeyUsageException');
  const dec = await c.decrypt('enc-only', {
    ciphertext: String(ok.body.ciphertext),
    initializationVector: String(ok.body.initializationVector),
    authenticationTag: String(ok.body.authenticationTag),
    ciphertextMetadata: String(ok.body.ciphertextMetadata),
  });
  assert.equal(dec.body.errorName, 'InvalidKeyUsageException');
});

test('health is deep and reports fleet and EKM details', async () => {
  const r = await c.health();
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.xksProxyFleetSize, 1);
  assert.equal(r.body.xksProxyVendor, 'Keyhold');
  assert.match(String(r.body.xksProxyModel), /^Keyhold XKS Proxy \d/);
  assert.equal(r.body.ekmVendor, 'Keyhold');
  const fleet = r.body.ekmFleetDetails as { id: string; model: string; healthStatus: string }[];
  assert.ok(fleet.length >= 1 && fleet.length <= 10);
  assert.deepEqual(fleet.map((f) => f.healthStatus), fleet.map(() => 'ACTIVE'));
});

test('an unknown key id is KeyNotFoundException', async () => {
  const r = await c.metadata('no-such-key');
  assert.equal(r.status, 404);
  assert.equal(r.body.errorName, 'KeyNotFoundException');
});

test('unknown prefixes and paths are InvalidUriPathException, checked before authentication', async () => {
  for (const path of ['/nope/kms/xks/v1/health', '/demo/invalid/kms/xks/v1/health', '/demo/kms/xks/v1/keys/demo-key/sign', '/demo/kms/xks/v2/health', '/']) {
    const r = await c.send(path, { body: { requestMetadata: { kmsRequestId: 'x', kmsOperation: 'KmsHealthCheck' } } });
    assert.equal(r.status, 404, path);
    assert.equal(r.body.errorName, 'InvalidUriPathException', path);
  }
  const unsigned = await c.send('/nope/kms/xks/v1/health', { unsigned: true, body: {} });
  assert.equal(unsigned.body.errorName, 'InvalidUriPathException');
});

test('GET on an API URI is 405; GET /ping is 200', async () => {
  const r = await c.send(c.path('/keys/demo-key/encrypt'), { method: 'GET' });
  assert.equal(r.status, 405);
  assert.equal(r.headers.allow, 'POST');
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['content-length'], String(Buffer.byteLength(r.text)));
  assert.match(JSON.parse(r.text).errorMessage, /use POST/);
  const ping = await c.send('/ping', { method: 'GET', unsigned: true });
  assert.equal(ping.status, 200);
  assert.equal(ping.text, 'pong');
});
