import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDelaySampler, createOverloadGuard, type OverloadLimits } from './overload.js';

/** Time and event-loop delay are inputs the test sets: nothing here depends on real time. */
function rig(limits: Partial<OverloadLimits> = {}) {
  let now = 10_000;
  let delay = 0;
  const guard = createOverloadGuard({ maxInFlight: 1000, maxEventLoopDelayMs: 100, maxQueueMs: 150, ...limits }, { now: () => now, eventLoopDelayMs: () => delay });
  return {
    guard,
    advance: (ms: number) => void (now += ms),
    setDelay: (ms: number) => void (delay = ms),
  };
}

test('admits while below every limit and counts calls in flight', () => {
  const { guard } = rig();
  for (let i = 0; i < 10; i++) assert.equal(guard.arrive(), undefined);
  assert.equal(guard.stats().inFlight, 10);
  for (let i = 0; i < 10; i++) guard.done();
  assert.equal(guard.stats().inFlight, 0);
});

test('refuses over the in-flight limit, and admits again once calls finish', () => {
  const { guard } = rig({ maxInFlight: 2 });
  assert.equal(guard.arrive(), undefined);
  assert.equal(guard.arrive(), undefined);
  assert.equal(guard.arrive(), 'in_flight');
  guard.done();
  assert.equal(guard.arrive(), undefined);
  assert.equal(guard.stats().shed.in_flight, 1);
});

test('refuses while the event loop runs late', () => {
  const r = rig();
  r.setDelay(250);
  assert.equal(r.guard.arrive(), 'event_loop_delay');
  assert.equal(r.guard.stats().inFlight, 0, 'a refused call is not in flight');
  r.setDelay(5);
  assert.equal(r.guard.arrive(), undefined);
  assert.equal(r.guard.stats().shed.event_loop_delay, 1);
});

test('refuses when the backlog would wait longer than the deadline allows', () => {
  const r = rig({ maxQueueMs: 150 });
  // A steady 100 completions per second over the last second...
  for (let i = 0; i < 100; i++) {
    assert.equal(r.guard.arrive(), undefined);
    r.advance(10);
    r.guard.done();
  }
  // ...and 16 calls in flight: about 160 ms of queue for the next one.
  for (let i = 0; i < 16; i++) assert.equal(r.guard.arrive(), undefined);
  assert.equal(r.guard.arrive(), 'queue_time');
  // Faster completions shorten the expected wait below the limit.
  for (let i = 0; i < 400; i++) r.guard.done();
  for (let i = 0; i < 16; i++) assert.equal(r.guard.arrive(), undefined);
  assert.equal(r.guard.arrive(), undefined);
});

test('a backlog with no completion for a second is refused; a small one never is', () => {
  const r = rig();
  for (let i = 0; i < 15; i++) assert.equal(r.guard.arrive(), undefined);
  r.advance(5000);
  assert.equal(r.guard.arrive(), undefined, 'below the backlog where the estimate applies');
  assert.equal(r.guard.arrive(), 'queue_time');
  assert.equal(r.guard.stats().shed.queue_time, 1);
});

test('the rate is measured on busy time: a burst after an idle spell is not taken for a slow server', () => {
  const r = rig();
  r.advance(900); // nothing in flight for most of the last second
  for (let i = 0; i < 50; i++) assert.equal(r.guard.arrive(), undefined);
  // 20 answers in the next 2 ms: about 10 per ms, so 50 in flight wait about 5 ms.
  for (let i = 0; i < 20; i++) {
    r.advance(0.1);
    r.guard.done();
  }
  for (let i = 0; i < 20; i++) assert.equal(r.guard.arrive(), undefined);
  assert.equal(r.guard.stats().shed.queue_time, 0);
  // A server that really answers 20 calls in 200 busy ms is refused at that backlog.
  r.advance(200);
  for (let i = 0; i < 20; i++) r.guard.done();
  r.advance(200);
  assert.equal(r.guard.arrive(), 'queue_time');
});

test('a burst at idle is admitted: no rate is known yet, and nothing has stalled', () => {
  const { guard } = rig();
  for (let i = 0; i < 64; i++) assert.equal(guard.arrive(), undefined);
});

test('the event-loop delay counts only when it lasts: the smallest of the last four readings', () => {
  const s = createDelaySampler({ timer: false });
  assert.equal(s.value(), 0);
  s.add(400); // one GC pause, one big body, one moment without the CPU
  assert.equal(s.value(), 0);
  for (const ms of [150, 160, 170]) s.add(ms);
  assert.equal(s.value(), 150, 'four late readings in a row');
  s.add(2);
  assert.equal(s.value(), 2);
  s.close();
});

test('the default delay sampler starts at zero and stops on close', () => {
  const guard = createOverloadGuard({ maxInFlight: 10, maxEventLoopDelayMs: 100, maxQueueMs: 150 });
  assert.equal(guard.arrive(), undefined);
  assert.equal(typeof guard.stats().eventLoopDelayMs, 'number');
  guard.close();
});
