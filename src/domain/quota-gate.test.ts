import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKeyholdError } from '../base/index.js';
import type { KeyStore, RateQuota } from './model.js';
import { createQuotaGate } from './quota-gate.js';

function store(quota: RateQuota | null, name = 'payments'): KeyStore {
  return { id: `id-${name}`, name, prefix: `/${name}`, regions: [], enabled: true, policy: null, quota, createdAt: '', updatedAt: '' };
}

/** A clock the test moves by hand: no test here depends on real time. */
function manualClock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

function admitted(gate: ReturnType<typeof createQuotaGate>, ks: KeyStore): boolean {
  try {
    gate.admit(ks);
    return true;
  } catch (e) {
    assert.ok(isKeyholdError(e, 'Throttled'), String(e));
    assert.match((e as Error).message, /over its quota of \d+ requests per second/);
    return false;
  }
}

test('a key store without a quota is never throttled', () => {
  const gate = createQuotaGate({ clock: manualClock() });
  const ks = store(null);
  for (let i = 0; i < 10_000; i++) assert.equal(admitted(gate, ks), true);
});

test('admits a burst, then refuses until tokens refill at the configured rate', () => {
  const clock = manualClock();
  const gate = createQuotaGate({ clock });
  const ks = store({ rps: 10, burst: 3 });
  assert.deepEqual([1, 2, 3, 4].map(() => admitted(gate, ks)), [true, true, true, false]);
  clock.advance(99); // 0.99 of a token
  assert.equal(admitted(gate, ks), false);
  clock.advance(1); // one token (10 per second)
  assert.equal(admitted(gate, ks), true);
  assert.equal(admitted(gate, ks), false);
  clock.advance(10_000); // refills to the burst, not beyond
  assert.deepEqual([1, 2, 3, 4].map(() => admitted(gate, ks)), [true, true, true, false]);
  assert.equal(gate.throttled().get('payments'), 4);
});

test('key stores have separate buckets', () => {
  const gate = createQuotaGate({ clock: manualClock() });
  const a = store({ rps: 1, burst: 1 }, 'a');
  const b = store({ rps: 1, burst: 1 }, 'b');
  assert.equal(admitted(gate, a), true);
  assert.equal(admitted(gate, a), false);
  assert.equal(admitted(gate, b), true);
});

test('a changed quota applies on the next call, and removing it lifts the limit', () => {
  const gate = createQuotaGate({ clock: manualClock() });
  assert.equal(admitted(gate, store({ rps: 1, burst: 1 })), true);
  assert.equal(admitted(gate, store({ rps: 1, burst: 1 })), false);
  assert.equal(admitted(gate, store({ rps: 5, burst: 5 })), true);
  assert.equal(admitted(gate, store(null)), true);
});

test('each of N workers enforces 1/N of the quota', () => {
  const clock = manualClock();
  const gate = createQuotaGate({ clock, share: 0.5 });
  const ks = store({ rps: 100, burst: 10 });
  let n = 0;
  while (admitted(gate, ks)) n++;
  assert.equal(n, 5);
  clock.advance(1000); // 50 tokens at half of 100 per second, capped at the half burst
  n = 0;
  while (admitted(gate, ks)) n++;
  assert.equal(n, 5);
});
