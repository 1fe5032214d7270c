import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { blob, int, oneOf, parseInput, str } from './schemas.js';
import { isKmsError, type KmsError } from './errors.js';

const schema = z.object({ KeyId: str(1, 10), Limit: int(1, 5).optional(), Mode: oneOf(['A', 'B']).optional(), Plaintext: blob(1, 4).optional() });

function error(body: unknown): KmsError {
  try {
    parseInput(schema, body);
  } catch (e) {
    assert.ok(isKmsError(e));
    return e;
  }
  throw new Error('expected a validation error');
}

test('a missing member is ValidationException "must not be null"', () => {
  const e = error({});
  assert.equal(e.type, 'ValidationException');
  assert.equal(e.message, "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null");
});

test('constraint failures are listed in the AWS format', () => {
  const e = error({ KeyId: 'x'.repeat(11), Limit: 9, Mode: 'C' });
  assert.equal(e.type, 'ValidationException');
  assert.match(e.message, /^3 validation errors detected: /);
  assert.match(e.message, /Value 'xxxxxxxxxxx' at 'keyId' failed to satisfy constraint: Member must have length less than or equal to 10/);
  assert.match(e.message, /Value '9' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 5/);
  assert.match(e.message, /at 'mode' failed to satisfy constraint: Member must satisfy enum value set: \[A, B\]/);
});

test('wrong JSON types and bad Base64 are SerializationException', () => {
  assert.equal(error({ KeyId: 1 }).type, 'SerializationException');
  assert.equal(error({ KeyId: 'k', Plaintext: 'AA=A' }).type, 'SerializationException');
  assert.equal(error({ KeyId: 'k', Plaintext: 'AA-_' }).type, 'SerializationException');
});

test('blob lengths are checked on decoded bytes and never echoed', () => {
  const e = error({ KeyId: 'k', Plaintext: Buffer.alloc(5).toString('base64') });
  assert.equal(e.type, 'ValidationException');
  assert.ok(!e.message.includes('AAAAAAA'));
  assert.deepEqual(parseInput(schema, { KeyId: 'k', Plaintext: 'AQID' }).Plaintext, Buffer.from([1, 2, 3]));
});

test('null counts as absent and unknown members are dropped', () => {
  assert.deepEqual(parseInput(schema, { KeyId: 'k', Limit: null, Other: 1 }), { KeyId: 'k' });
});
