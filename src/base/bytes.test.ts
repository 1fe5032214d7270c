import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeBase64Strict, isBase64, ownedCopy } from './bytes.js';

test('decodes exactly what Buffer encodes, for every length modulo 3', () => {
  for (let n = 0; n < 64; n++) {
    const b = randomBytes(n);
    assert.deepEqual(decodeBase64Strict(b.toString('base64')), b, `${n} bytes`);
  }
});

test('refuses non-canonical padding bits, URL-safe characters, missing or extra padding', () => {
  // "YWI=" is canonical for "ab"; "YWJ=" decodes to the same bytes with a non-zero unused bit.
  for (const bad of ['YWJ=', 'YR==', 'Yh==', 'YWI', 'YW==', 'YQ===', '-_-_', 'YW I=', 'Y===', '====', 'YQ==YQ==', 'ab\ncd', 'abc\u00e9', 'YQ=a', '=QQQ', 'Zm9v\u0000']) {
    assert.equal(decodeBase64Strict(bad), undefined, JSON.stringify(bad));
  }
  assert.deepEqual(decodeBase64Strict('YWI='), Buffer.from('ab'));
  assert.deepEqual(decodeBase64Strict('YQ=='), Buffer.from('a'));
  assert.deepEqual(decodeBase64Strict(''), Buffer.alloc(0));
});

/** The definition isBase64 implements without a regular expression. */
const REFERENCE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$/;

test('agrees with the regular-expression definition on random and near-valid strings', () => {
  const alphabet = 'AQZagwz0489+/=-_ .\n\u00e9';
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let i = 0; i < 20_000; i++) {
    let s = '';
    const len = next() % 13;
    for (let j = 0; j < len; j++) s += alphabet[next() % alphabet.length];
    assert.equal(isBase64(s), REFERENCE.test(s), JSON.stringify(s));
  }
  // Valid encodings with one character replaced: mostly on the boundary of the language.
  for (let i = 0; i < 20_000; i++) {
    const valid = randomBytes(next() % 10).toString('base64');
    if (valid.length === 0) continue;
    const at = next() % valid.length;
    const s = valid.slice(0, at) + alphabet[next() % alphabet.length] + valid.slice(at + 1);
    assert.equal(isBase64(s), REFERENCE.test(s), JSON.stringify(s));
  }
});

test('ownedCopy copies into memory of its own, never a slice of the shared pool', () => {
  const source = Buffer.from([1, 2, 3, 4, 5]);
  const copy = ownedCopy(source.subarray(1, 4));
  assert.deepEqual([...copy], [2, 3, 4]);
  assert.equal(copy.buffer.byteLength, 3, 'a pooled copy would sit in an 8 KiB slab');
  assert.equal(copy.byteOffset, 0);
  source[2] = 9;
  assert.equal(copy[0], 2, 'a copy, not a view');
  assert.equal(ownedCopy(new Uint8Array(0)).length, 0);
});
