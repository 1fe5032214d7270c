import { test } from 'node:test';
import assert from 'node:assert/strict';
import { narrowsExpiry, narrowsQuota, narrowsRegions, narrowsUsage } from './approval-actions.js';
import { hashLimiter } from './admin-identity-service.js';

test('usage narrows when it loses encrypt or decrypt, not when it gains one', () => {
  assert.equal(narrowsUsage(['encrypt', 'decrypt'], []), true);
  assert.equal(narrowsUsage(['encrypt', 'decrypt'], ['decrypt']), true);
  assert.equal(narrowsUsage(['decrypt'], ['encrypt', 'decrypt']), false);
  assert.equal(narrowsUsage(['decrypt', 'encrypt'], ['encrypt', 'decrypt']), false);
});

test('expiry narrows when set where there was none, or moved earlier', () => {
  assert.equal(narrowsExpiry(null, '2030-01-01T00:00:00.000Z'), true);
  assert.equal(narrowsExpiry('2030-01-01T00:00:00.000Z', '2029-01-01T00:00:00.000Z'), true);
  assert.equal(narrowsExpiry('2030-01-01T00:00:00.000Z', '2031-01-01T00:00:00.000Z'), false);
  assert.equal(narrowsExpiry('2030-01-01T00:00:00.000Z', null), false, 'removing an expiry widens');
  assert.equal(narrowsExpiry('2030-01-01T00:00:00.000Z', undefined), false);
  assert.equal(narrowsExpiry('2030-01-01T00:00:00.000Z', 'not a date'), true, 'unreadable counts as narrowing (it is refused later)');
});

test('regions narrow when a Region that could call no longer can; empty means any', () => {
  assert.equal(narrowsRegions([], ['eu-west-1']), true);
  assert.equal(narrowsRegions(['eu-west-1', 'us-east-1'], ['us-east-1']), true);
  assert.equal(narrowsRegions(['eu-west-1'], ['eu-west-1', 'us-east-1']), false);
  assert.equal(narrowsRegions(['eu-west-1'], []), false);
});

test('a quota narrows when it is new or lower in rate or burst', () => {
  assert.equal(narrowsQuota(null, { rps: 1000, burst: 1000 }), true);
  assert.equal(narrowsQuota({ rps: 100, burst: 100 }, { rps: 50, burst: 100 }), true);
  assert.equal(narrowsQuota({ rps: 100, burst: 100 }, { rps: 100, burst: 10 }), true);
  assert.equal(narrowsQuota({ rps: 100, burst: 100 }, { rps: 200, burst: 200 }), false);
  assert.equal(narrowsQuota({ rps: 100, burst: 100 }, null), false);
});

test('the hash limiter refuses at once beyond its queue and an address share, and frees places', async () => {
  const run = hashLimiter({ max: 1, maxQueued: 2, perAddress: 2 });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const held = [run('a', () => gate), run('b', () => gate), run('c', () => gate)];
  await assert.rejects(run('d', async () => undefined), /too many password checks are in progress/);
  release();
  await Promise.all(held);
  let release2!: () => void;
  const gate2 = new Promise<void>((r) => (release2 = r));
  const two = [run('a', () => gate2), run('a', () => gate2)];
  await assert.rejects(run('a', async () => undefined), /from your address/);
  const other = run(null, async () => 'queued');
  release2();
  await Promise.all(two);
  assert.equal(await other, 'queued', 'another caller still got a place');
  assert.equal(await run('a', async () => 42), 42, 'places are given back');
});
