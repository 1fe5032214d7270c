import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { canonicalEncryptionContext, decodeBlob, encodeHeader, encodeNativeBlob, encodeXksBlob, FORMAT_NATIVE, FORMAT_XKS, innerAad, packInner, proxyAad, unpackInner } from './ciphertext-blob.js';

const KEY = '1234abcd-12ab-34cd-56ef-1234567890ab';
const MATERIAL = Buffer.alloc(32, 0xab);

test('a native blob round-trips and its header names the key and material', () => {
  const header = encodeHeader(FORMAT_NATIVE, KEY, MATERIAL);
  assert.deepEqual([...header.subarray(0, 2)], [FORMAT_NATIVE, KEY.length]);
  const blob = encodeNativeBlob(header, Buffer.alloc(12, 1), Buffer.alloc(16, 2), Buffer.from('ct'));
  const d = decodeBlob(blob);
  assert.ok(d && 'native' in d);
  assert.equal(d.native.header.keyId, KEY);
  assert.deepEqual(d.native.header.materialId, MATERIAL);
  assert.deepEqual(d.native.header.bytes, header);
  assert.deepEqual(d.native.ciphertext, Buffer.from('ct'));
});

test('an XKS blob carries the proxy IV, tag and metadata unchanged', () => {
  const header = encodeHeader(FORMAT_XKS, KEY, MATERIAL);
  const parts = { iv: randomBytes(16), tag: randomBytes(16), metadata: Buffer.from([1, 0, 0, 0, 2]), ciphertext: randomBytes(60) };
  const d = decodeBlob(encodeXksBlob(header, parts));
  assert.ok(d && 'xks' in d);
  assert.deepEqual(d.xks.proxyIv, parts.iv);
  assert.deepEqual(d.xks.proxyTag, parts.tag);
  assert.deepEqual(d.xks.metadata, parts.metadata);
  assert.deepEqual(d.xks.proxyCiphertext, parts.ciphertext);
  const noMd = decodeBlob(encodeXksBlob(header, { ...parts, metadata: undefined }));
  assert.ok(noMd && 'xks' in noMd && noMd.xks.metadata === undefined);
});

test('the largest XKS blob fits the 6144-byte CiphertextBlob limit', () => {
  const header = encodeHeader(FORMAT_XKS, `mrk-${'0'.repeat(32)}`, MATERIAL);
  const inner = packInner(Buffer.alloc(12), Buffer.alloc(4096), Buffer.alloc(16));
  assert.ok(inner.length <= 4300, 'the proxy must accept the inner ciphertext');
  const blob = encodeXksBlob(header, { iv: Buffer.alloc(16), tag: Buffer.alloc(16), metadata: Buffer.alloc(20), ciphertext: inner });
  assert.ok(blob.length <= 6144, `${blob.length}`);
});

test('rejects truncated, unknown-format and malformed blobs', () => {
  const header = encodeHeader(FORMAT_XKS, KEY, MATERIAL);
  const good = encodeXksBlob(header, { iv: Buffer.alloc(12), tag: Buffer.alloc(16), metadata: undefined, ciphertext: Buffer.alloc(40) });
  assert.equal(decodeBlob(good.subarray(0, 30)), undefined);
  assert.equal(decodeBlob(Buffer.concat([Buffer.from([9]), good.subarray(1)])), undefined);
  const badIv = Buffer.from(good);
  badIv[header.length] = 8;
  assert.equal(decodeBlob(badIv), undefined);
  assert.equal(decodeBlob(Buffer.from([FORMAT_NATIVE, 3, 0x2f, 0x2f, 0x2f])), undefined);
  assert.equal(decodeBlob(Buffer.alloc(0)), undefined);
});

test('the encryption context is canonical: order-independent, unambiguous', () => {
  assert.deepEqual(canonicalEncryptionContext({ a: '1', b: '2' }), canonicalEncryptionContext({ b: '2', a: '1' }));
  assert.notDeepEqual(canonicalEncryptionContext({ ab: 'c' }), canonicalEncryptionContext({ a: 'bc' }));
  assert.notDeepEqual(canonicalEncryptionContext({}), canonicalEncryptionContext({ '': '' }));
  assert.deepEqual(canonicalEncryptionContext(undefined), canonicalEncryptionContext({}));
});

test('the proxy AAD binds header and context, and never exceeds 8192 bytes', () => {
  const header = encodeHeader(FORMAT_XKS, KEY, MATERIAL);
  assert.deepEqual(proxyAad(header, { a: 'b' }), innerAad(header, { a: 'b' }));
  assert.notDeepEqual(proxyAad(header, { a: 'b' }), proxyAad(header, { a: 'c' }));
  const big = proxyAad(header, { k: 'v'.repeat(10_000) });
  assert.equal(big.length, 32);
});

test('the inner layer splits back into nonce, ciphertext and tag', () => {
  const inner = packInner(Buffer.alloc(12, 1), Buffer.from('abc'), Buffer.alloc(16, 2));
  assert.deepEqual(unpackInner(inner), { nonce: Buffer.alloc(12, 1), ciphertext: Buffer.from('abc'), tag: Buffer.alloc(16, 2) });
  assert.equal(unpackInner(Buffer.alloc(27)), undefined);
});
