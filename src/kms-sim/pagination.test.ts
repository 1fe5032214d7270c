import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paginate } from './pagination.js';
import { isKmsError } from './errors.js';

const id = (s: string) => s;

test('pages in sort order with a marker only while truncated', () => {
  const items = ['d', 'a', 'c', 'b', 'e'];
  const p1 = paginate(items, id, 2, undefined);
  assert.deepEqual(p1.items, ['a', 'b']);
  assert.equal(p1.truncated, true);
  const p2 = paginate(items, id, 2, p1.nextMarker);
  assert.deepEqual(p2.items, ['c', 'd']);
  const p3 = paginate(items, id, 2, p2.nextMarker);
  assert.deepEqual(p3.items, ['e']);
  assert.equal(p3.truncated, false);
  assert.equal(p3.nextMarker, undefined);
});

test('an item removed between pages neither skips nor repeats the rest', () => {
  const p1 = paginate(['a', 'b', 'c', 'd'], id, 2, undefined);
  const p2 = paginate(['a', 'c', 'd'], id, 2, p1.nextMarker); // 'b' was deleted
  assert.deepEqual(p2.items, ['c', 'd']);
});

test('a marker it did not issue is InvalidMarkerException', () => {
  for (const m of ['garbage', 'a b', Buffer.from('other:x').toString('base64url')]) {
    assert.throws(() => paginate(['a'], id, 1, m), (e) => isKmsError(e, 'InvalidMarkerException'));
  }
});
