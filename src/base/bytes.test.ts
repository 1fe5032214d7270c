import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeBase64Strict } from './bytes.js';

test('decodes exactly what Buffer encodes, for every length modulo 3', () => {
  for (let n = 0; n < 64; n++) {
    const b = randomBytes(n);
    assert.deepEqual(decodeBase64Strict(b.toString('base64')), b, `${n} bytes`);
  }
});

test('refuses non-canonical padding bits, URL-safe characters, missing or extra padding', () => {
  // "YWI=" is canonical for "ab"; "YWJ=" decodes to the same bytes with a non-zero unused bit.
  for (const bad of ['YWJ=', 'YR==', 'Yh==', 'YWI', 'YW==', 'YQ===', '-_-_', 'YW I=', 'Y===', '====', 'YQ==YQ==']) {
    assert.equal(decodeBase64Strict(bad), undefined, JSON.stringify(bad));
  }
  assert.deepEqual(decodeBase64Strict('YWI='), Buffer.from('ab'));
  assert.deepEqual(decodeBase64Strict('YQ=='), Buffer.from('a'));
  assert.deepEqual(decodeBase64Strict(''), Buffer.alloc(0));
});
