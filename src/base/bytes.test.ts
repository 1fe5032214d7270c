import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeBase64Strict, isBase64 } from './bytes.js';

/** The definition isBase64 implements without a regular expression. */
const REFERENCE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

test('accepts standard padded Base64 and decodes it', () => {
  for (const n of [0, 1, 2, 3, 4, 31, 32, 33, 4300]) {
    const b = randomBytes(n);
    assert.deepEqual(decodeBase64Strict(b.toString('base64')), b);
  }
});

test('rejects URL-safe, unpadded, misplaced padding and foreign characters', () => {
  for (const s of ['YQ', 'YQ=', 'Y===', '====', 'YQ==YQ==', 'a-_b', 'ab c', 'ab\ncd', 'abc\u00e9', 'YQ=a', '=QQQ', 'Zm9v\u0000']) {
    assert.equal(isBase64(s), false, JSON.stringify(s));
    assert.equal(decodeBase64Strict(s), undefined, JSON.stringify(s));
  }
});

test('agrees with the regular-expression definition on random strings', () => {
  const alphabet = 'AZaz09+/=-_ .\n\u00e9';
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
