import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createGroupCommitter } from './audit-group-commit.js';

/** A commit function whose transactions the test finishes by hand. */
function manualCommits() {
  const batches: { items: number[]; finish(ok?: boolean): void }[] = [];
  const commit = (items: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      batches.push({ items, finish: (ok = true) => (ok ? resolve(items.map((i) => `c${i}`)) : reject(new Error('disk full'))) });
    });
  return { batches, commit };
}

const turn = () => new Promise((r) => setImmediate(r));

test('records appended in one event-loop turn go into one transaction', async () => {
  const m = manualCommits();
  const g = createGroupCommitter({ commit: m.commit, maxBatch: 100, delayMs: 0 });
  const p = [g.append([1]), g.append([2]), g.append([3])];
  assert.equal(m.batches.length, 0, 'nothing commits before the turn ends');
  await turn();
  assert.deepEqual(m.batches.map((b) => b.items), [[1, 2, 3]]);
  m.batches[0]!.finish();
  assert.deepEqual(await Promise.all(p), [['c1'], ['c2'], ['c3']]);
});

test('a caller is answered only after its transaction commits', async () => {
  const m = manualCommits();
  const g = createGroupCommitter({ commit: m.commit, maxBatch: 100, delayMs: 0 });
  let settled = false;
  const p = g.append([1]).then(() => (settled = true));
  await turn();
  await turn();
  assert.equal(settled, false);
  m.batches[0]!.finish();
  await p;
  assert.equal(settled, true);
});

test('records that arrive during a commit are committed together right after it', async () => {
  const m = manualCommits();
  const g = createGroupCommitter({ commit: m.commit, maxBatch: 100, delayMs: 0 });
  const first = g.append([1]);
  await turn();
  const later = [g.append([2]), g.append([3, 4]), g.append([5])];
  await turn();
  assert.equal(m.batches.length, 1, 'one transaction at a time');
  m.batches[0]!.finish();
  await first;
  await turn();
  assert.deepEqual(m.batches.map((b) => b.items), [[1], [2, 3, 4, 5]]);
  m.batches[1]!.finish();
  assert.deepEqual(await Promise.all(later), [['c2'], ['c3', 'c4'], ['c5']]);
});

test('max_batch bounds a transaction without splitting one caller', async () => {
  const m = manualCommits();
  const g = createGroupCommitter({ commit: m.commit, maxBatch: 4, delayMs: 0 });
  const first = g.append([0]);
  await turn();
  const rest = [g.append([1, 2]), g.append([3, 4, 5]), g.append([6]), g.append([7, 8, 9, 10, 11])];
  m.batches[0]!.finish();
  await first;
  await turn();
  for (let i = 1; i < 6 && m.batches[i]; i++) {
    m.batches[i]!.finish();
    await turn();
  }
  await Promise.all(rest);
  assert.deepEqual(m.batches.map((b) => b.items), [[0], [1, 2], [3, 4, 5, 6], [7, 8, 9, 10, 11]]);
  assert.equal(g.stats().largestBatch, 5, 'a single caller above max_batch still commits whole');
});

test('a failed transaction rejects all its callers and later ones still commit', async () => {
  const m = manualCommits();
  const g = createGroupCommitter({ commit: m.commit, maxBatch: 100, delayMs: 0 });
  const a = g.append([1]);
  const b = g.append([2]);
  await turn();
  m.batches[0]!.finish(false);
  await assert.rejects(a, /disk full/);
  await assert.rejects(b, /disk full/);
  const c = g.append([3]);
  await turn();
  m.batches[1]!.finish();
  assert.deepEqual(await c, ['c3']);
});

test('close commits what is queued, then refuses new records', async () => {
  const m = manualCommits();
  const g = createGroupCommitter({ commit: m.commit, maxBatch: 100, delayMs: 50 });
  const a = g.append([1]);
  const closing = g.close();
  await turn();
  m.batches[0]!.finish();
  await closing;
  assert.deepEqual(await a, ['c1']);
  await assert.rejects(g.append([2]), /closed/);
});
