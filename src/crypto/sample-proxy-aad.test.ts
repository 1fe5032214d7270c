import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSampleProxyAad } from './sample-proxy-aad.js';
import { gcmDecrypt, gcmEncrypt } from './aes-gcm.js';
import { buildGcmAad } from './gcm-aad.js';

// Expected values below were computed with Python's `cryptography` (AESGCM) and hashlib,
// an implementation independent of this code, from the sample proxy's documented layout.
const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const iv = Buffer.from(Array.from({ length: 12 }, (_, i) => i));
const plaintext = Buffer.from('xks fact sheet demo');
const aad = Buffer.from('kms-demo-aad:v1');
const md = Buffer.from('djAuMC4x', 'base64'); // the sample's commented-out example metadata "v0.0.1"

test('AAD and metadata: raw length, digest of the AAD, metadata length, metadata', () => {
  assert.equal(
    buildSampleProxyAad(aad, md).toString('hex'),
    '000f' + 'b4e3763406af4769c5001d3dfb2bd784cc0b3381af12a4ce5b21c9d36173217d' + '06' + '76302e302e31',
  );
});

test('an absent AAD has no digest: three zero bytes without metadata', () => {
  assert.equal(buildSampleProxyAad(undefined, undefined).toString('hex'), '000000');
  assert.equal(buildSampleProxyAad(undefined, Buffer.alloc(0)).toString('hex'), '000000');
});

test('an empty but present AAD is hashed, unlike an absent one', () => {
  assert.equal(
    buildSampleProxyAad(Buffer.alloc(0), undefined).toString('hex'),
    '0000' + 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' + '00',
  );
});

test('reproduces the tag an independent AES-GCM computes over the sample layout', () => {
  const out = gcmEncrypt(key, plaintext, buildSampleProxyAad(aad, md), iv);
  assert.equal(out.ciphertext.toString('base64'), 'P2mlO6OEoW+tMv/u1J1YCea76A==');
  assert.equal(out.tag.toString('base64'), '3FoQaohoWMT2zxDvPLPTgg==');
  assert.equal(gcmEncrypt(key, plaintext, buildSampleProxyAad(Buffer.alloc(0), undefined), iv).tag.toString('base64'), 'lKY/5UJzYfCkl1B1JMQpTg==');
  assert.equal(gcmEncrypt(key, plaintext, buildSampleProxyAad(undefined, undefined), iv).tag.toString('base64'), 'C5o+a7El6Wl1QTRQCcsczw==');
});

test('a sample-proxy ciphertext does not open under the Keyhold layout, and vice versa', () => {
  const sample = gcmEncrypt(key, plaintext, buildSampleProxyAad(aad, md), iv);
  assert.equal(gcmDecrypt(key, sample.iv, sample.ciphertext, sample.tag, buildGcmAad(aad, md)), undefined);
  const own = gcmEncrypt(key, plaintext, buildGcmAad(aad, md), iv);
  assert.equal(gcmDecrypt(key, own.iv, own.ciphertext, own.tag, buildSampleProxyAad(aad, md)), undefined);
});

test('changing the AAD or the metadata changes the layout', () => {
  const base = buildSampleProxyAad(aad, md);
  assert.notDeepEqual(buildSampleProxyAad(Buffer.from('kms-demo-aad:v2'), md), base);
  assert.notDeepEqual(buildSampleProxyAad(aad, Buffer.from('v0.0.2')), base);
});

test('refuses lengths that do not fit the prefixes', () => {
  assert.throws(() => buildSampleProxyAad(Buffer.alloc(0x10000), undefined), RangeError);
  assert.throws(() => buildSampleProxyAad(undefined, Buffer.alloc(256)), RangeError);
});
