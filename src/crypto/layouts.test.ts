import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGcmAad } from './gcm-aad.js';
import { computeCdiv } from './cdiv.js';
import { gcmDecrypt, gcmEncrypt, randomIv } from './aes-gcm.js';
import { decodeCiphertextMetadata, encodeCiphertextMetadata } from './ciphertext-metadata.js';
import { decodeSealedValue, encodeSealedValue, sealAad } from './sealed-value.js';
import { base32, generateAccessKeyId, generateSecretAccessKey, ACCESS_KEY_ID_RE, SECRET_ACCESS_KEY_RE } from './credentials.js';

// Vectors from the XKS fact sheet (§4.2, §6): key = 0x00..0x1f, IV = 0x00..0x0b.
const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const iv = Buffer.from(Array.from({ length: 12 }, (_, i) => i));
const plaintext = Buffer.from('xks fact sheet demo');
const aad = Buffer.from('kms-demo-aad:v1');
const b64 = (s: string) => Buffer.from(s, 'base64');

test('GCM AAD with metadata matches the spec vector', () => {
  assert.equal(buildGcmAad(aad, Buffer.of(1)).toString('hex'), '000f6b6d732d64656d6f2d6161643a76310101');
});

test('GCM AAD with neither part is three zero bytes', () => {
  assert.equal(buildGcmAad(undefined, undefined).toString('hex'), '000000');
});

test('encrypt with the length-prefixed AAD reproduces the spec ciphertext, tag and CDIV', () => {
  const md = Buffer.of(1);
  const out = gcmEncrypt(key, plaintext, buildGcmAad(aad, md), iv);
  assert.equal(out.ciphertext.toString('base64'), 'P2mlO6OEoW+tMv/u1J1YCea76A==');
  assert.equal(out.tag.toString('base64'), 'LO+9nh1KjRaA3vZ9xybAlw==');
  const cdiv = computeCdiv({ aad, metadata: md, iv, ciphertext: out.ciphertext, tag: out.tag });
  assert.equal(cdiv.toString('base64'), 'AiSsewXSfzqr99Ey3sAkCnS/I+c2Yx8L1wqZ4IA1uEc=');
});

test('raw-AAD mode reproduces the §4.2 example', () => {
  const out = gcmEncrypt(key, plaintext, aad, iv);
  assert.equal(out.tag.toString('base64'), 'ZwN/zeWwp6ziRRA5NX+qiQ==');
  const cdiv = computeCdiv({ aad, iv, ciphertext: out.ciphertext, tag: out.tag });
  assert.equal(cdiv.toString('base64'), 'EkpvXTmeLkcqcW5r+0Hx3Z7W6s/Vmu00LNGaqXyr8jU=');
});

test('no AAD, no metadata, raw mode matches the spec tag and CDIV', () => {
  const out = gcmEncrypt(key, plaintext, Buffer.alloc(0), iv);
  assert.equal(out.tag.toString('base64'), '02WPTIy8lGgOQSn35GEb0A==');
  assert.equal(computeCdiv({ iv, ciphertext: out.ciphertext, tag: out.tag }).toString('base64'), '8GkYoY/Wevf6fMSEK6VoELWkp1CqFlilfVATyWlR5Gs=');
});

test('CDIV matches the XKS specification vector', () => {
  const cdiv = computeCdiv({
    aad: Buffer.from('project=nile,department=marketing'),
    metadata: Buffer.from('key_version=1'),
    iv: b64('HMrlRw85cAJUd5Ax'),
    ciphertext: b64('ghxkK1txeDNn3q8Y'),
    tag: b64('vBxN2ncH1oEkR8WVXpmyYQ=='),
  });
  assert.equal(cdiv.toString('base64'), 'qHA/ImC9h5HsLRXqCyPmWgYx7tzyoTplzILbP0fPXsc=');
});

test('decrypt refuses a ciphertext whose tag, AAD or metadata changed', () => {
  const gAad = buildGcmAad(aad, Buffer.of(1, 0, 0, 0, 1));
  const out = gcmEncrypt(key, plaintext, gAad);
  assert.deepEqual(gcmDecrypt(key, out.iv, out.ciphertext, out.tag, gAad), plaintext);
  const badTag = Buffer.from(out.tag);
  badTag[0]! ^= 1;
  assert.equal(gcmDecrypt(key, out.iv, out.ciphertext, badTag, gAad), undefined);
  assert.equal(gcmDecrypt(key, out.iv, out.ciphertext, out.tag, buildGcmAad(aad, Buffer.of(1, 0, 0, 0, 2))), undefined);
  assert.equal(gcmDecrypt(key, out.iv, out.ciphertext, out.tag.subarray(0, 12), gAad), undefined);
});

test('ciphertext metadata round-trips and rejects foreign bytes', () => {
  const md = encodeCiphertextMetadata({ format: 1, keyVersion: 7 });
  assert.equal(md.toString('hex'), '0100000007');
  assert.deepEqual(decodeCiphertextMetadata(md), { format: 1, keyVersion: 7 });
  assert.equal(decodeCiphertextMetadata(Buffer.of(2, 0, 0, 0, 7)), undefined);
  assert.equal(decodeCiphertextMetadata(Buffer.of(1, 0, 0, 0, 0)), undefined);
  assert.equal(decodeCiphertextMetadata(Buffer.of(1, 0, 0, 7)), undefined);
  assert.equal(decodeCiphertextMetadata(undefined), undefined);
});

test('sealed value layout round-trips and binds its place', () => {
  const parts = { format: 1, nonce: Buffer.alloc(12, 7), ciphertext: Buffer.from('abc'), tag: Buffer.alloc(16, 9) };
  const enc = encodeSealedValue(parts);
  assert.equal(enc.length, 1 + 12 + 3 + 16);
  assert.deepEqual(decodeSealedValue(enc), parts);
  assert.equal(decodeSealedValue(Buffer.alloc(10)), undefined);
  assert.notDeepEqual(sealAad({ table: 'keys', id: 'a', column: 'm' }), sealAad({ table: 'keys', id: 'b', column: 'm' }));
  assert.throws(() => sealAad({ table: 'k\0', id: 'a', column: 'm' }));
});

test('generated credentials meet the formats KMS enforces', () => {
  assert.equal(base32(Buffer.from('foobar')), 'MZXW6YTBOI');
  for (let i = 0; i < 50; i++) {
    assert.match(generateAccessKeyId(), ACCESS_KEY_ID_RE);
    assert.match(generateSecretAccessKey(), SECRET_ACCESS_KEY_RE);
  }
  assert.notEqual(generateSecretAccessKey(), generateSecretAccessKey());
});

test('random IVs are 12 bytes, distinct, and never change once handed out', () => {
  const seen = new Set<string>();
  const kept: { iv: Buffer; hex: string }[] = [];
  for (let i = 0; i < 2000; i++) {
    const iv = randomIv();
    assert.equal(iv.length, 12);
    const hex = iv.toString('hex');
    assert.ok(!seen.has(hex), 'an IV repeated');
    seen.add(hex);
    if (i % 100 === 0) kept.push({ iv, hex });
  }
  // More than one pool has been used up by now; earlier IVs must be unchanged.
  for (const k of kept) assert.equal(k.iv.toString('hex'), k.hex);
});
