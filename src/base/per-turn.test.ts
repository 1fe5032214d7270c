import { test } from 'node:test';
import assert from 'node:assert/strict';
import { perTurnQueue } from './per-turn.js';

test('items of one turn are handed over once, together and in order; drain hands over at once', async () => {
  const flushed: number[][] = [];
  const q = perTurnQueue<number>((items) => flushed.push(items));
  q.push(1);
  q.push(2);
  assert.deepEqual(flushed, [], 'nothing before the check phase');
  await new Promise((r) => setImmediate(r));
  q.push(3);
  assert.equal(q.drain(), true);
  assert.equal(q.drain(), false);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(flushed, [[1, 2], [3]]);
});
