/**
 * A slow, stalled or failing token, made with the fault shim in front of SoftHSM2: time
 * budgets (DependencyTimeout), the bounded pool, the event loop staying free for software
 * keys, re-initialisation after a device error, and health (DEGRADED / UNAVAILABLE).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isKeyholdError } from '../src/base/index.js';
import { buildGcmAad, gcmDecrypt, gcmEncrypt } from '../src/crypto/index.js';
import { createHsmKeyBackend } from '../src/backends/index.js';
import { CKR, createSessionPool, createTokenKeys, resolveProfile, type PoolEvent, type SessionPool } from '../src/hsm/index.js';
import { createSoftHsm } from './support/softhsm.js';
import { createFaultToken } from './support/fault-token.js';

const hsm = createSoftHsm();
const token = hsm.addToken('faults');
const fault = createFaultToken(hsm.module, hsm.root);

const pools: SessionPool[] = [];
after(async () => {
  fault.clear();
  for (const p of pools) await p.close();
  hsm.cleanup();
});

function pool(o: { callTimeoutMs?: number; maxSessions?: number; events?: PoolEvent[] } = {}): SessionPool {
  const p = createSessionPool({
    modulePath: fault.module,
    tokenLabel: token.label,
    pin: token.userPin,
    maxSessions: o.maxSessions ?? 2,
    callTimeoutMs: o.callTimeoutMs ?? 5000,
    reinitIntervalMs: 0,
    profile: resolveProfile('softhsm2'),
    onEvent: (e) => o.events?.push(e),
  });
  pools.push(p);
  return p;
}

const aad = buildGcmAad(Buffer.from('ctx'), undefined);

/** Resolves true if the promise settled by the time the event loop got around to it. */
async function settledYet(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setImmediate(r));
  return done;
}

test('answers DependencyTimeout when the token does not answer within the budget', async (t) => {
  const p = pool({ callTimeoutMs: 100 });
  await p.warmUp(2);
  const keys = createTokenKeys(p);
  const ref = await keys.generate('timeout-key', { deadline: Date.now() + 5000 });
  await keys.encrypt(ref, Buffer.from('warm'), aad); // sessions open, handle cached
  fault.hold();
  t.after(() => fault.release());
  await assert.rejects(keys.encrypt(ref, Buffer.from('x'), aad), (e) => isKeyholdError(e, 'DependencyTimeout') && /within 100 ms/.test(e.message));
  fault.release();
  // The stalled session comes back to the pool once the token answers; the next call works.
  const out = await keys.encrypt(ref, Buffer.from('after'), aad, { deadline: Date.now() + 5000 });
  assert.deepEqual(await keys.decrypt(ref, out.iv, out.ciphertext, out.tag, aad, { deadline: Date.now() + 5000 }), Buffer.from('after'));
});

test('a stalled token does not hold up software-key work on the event loop', async (t) => {
  const keys = createTokenKeys(pool());
  const ref = await keys.generate('stall-key');
  await keys.encrypt(ref, Buffer.from('warm'), aad);
  fault.hold();
  t.after(() => fault.release());
  const hsmCall = keys.encrypt(ref, Buffer.from('held'), aad);
  // While the token holds the call, software keys keep being served.
  const swKey = randomBytes(32);
  for (let i = 0; i < 100; i++) {
    const pt = randomBytes(64);
    const out = gcmEncrypt(swKey, pt, aad);
    assert.deepEqual(gcmDecrypt(swKey, out.iv, out.ciphertext, out.tag, aad), pt);
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(await settledYet(hsmCall), false, 'the HSM call is still held by the token');
  fault.release();
  const out = await hsmCall;
  assert.equal(out.ciphertext.length, 4);
});

test('never opens more sessions than configured; callers wait their turn', async (t) => {
  const p = pool({ maxSessions: 2 });
  const keys = createTokenKeys(p);
  const ref = await keys.generate('bounded-key');
  fault.hold();
  t.after(() => fault.release());
  const calls = [1, 2, 3].map((i) => keys.encrypt(ref, Buffer.from(`call ${i}`), aad));
  // Two calls reach the held token; the third waits for a session.
  const settled = () => p.stats().lanes === 2 && p.stats().waiting === 1;
  for (let i = 0; i < 200 && !settled(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual({ lanes: p.stats().lanes, waiting: p.stats().waiting }, { lanes: 2, waiting: 1 });
  fault.release();
  const outs = await Promise.all(calls);
  assert.equal(outs.length, 3);
  assert.ok(p.stats().lanes <= 2);
});

test('a waiting caller gets DependencyTimeout when every session stays busy', async (t) => {
  const p = pool({ maxSessions: 1, callTimeoutMs: 80 });
  await p.warmUp(1);
  const keys = createTokenKeys(p);
  const ref = await keys.generate('queue-key', { deadline: Date.now() + 5000 });
  await keys.encrypt(ref, Buffer.from('warm'), aad);
  fault.hold();
  t.after(() => fault.release());
  const [first, second] = await Promise.allSettled([keys.encrypt(ref, Buffer.from('first'), aad), keys.encrypt(ref, Buffer.from('second'), aad)]);
  fault.release();
  assert.ok(first.status === 'rejected' && isKeyholdError(first.reason, 'DependencyTimeout'), 'the held call times out');
  assert.ok(second.status === 'rejected' && isKeyholdError(second.reason, 'DependencyTimeout') && /became free/.test(second.reason.message), 'the queued call times out waiting for a session');
});

test('re-initialises the module after a device error and recovers', async () => {
  const events: PoolEvent[] = [];
  const p = pool({ events });
  const keys = createTokenKeys(p);
  const ref = await keys.generate('device-key');
  const before = await keys.encrypt(ref, Buffer.from('kept'), aad);
  fault.fail(CKR.DEVICE_REMOVED);
  await assert.rejects(keys.encrypt(ref, Buffer.from('x'), aad), (e) => isKeyholdError(e, 'BackendUnavailable') && /CKR_DEVICE_REMOVED/.test(e.message));
  assert.ok(events.some((e) => e.type === 'reinitialise'), 'a device error re-initialises the module');
  fault.clear();
  assert.deepEqual(await keys.decrypt(ref, before.iv, before.ciphertext, before.tag, aad), Buffer.from('kept'));
  assert.equal(p.stats().state, 'ready');
});

test('health: a slow token is DEGRADED, a removed one UNAVAILABLE, a returned one ACTIVE', async (t) => {
  const p = pool({ callTimeoutMs: 150 });
  await p.warmUp(2);
  const backend = createHsmKeyBackend({ pool: p });
  await backend.ensureHealthKey();
  assert.equal((await backend.selfTest()).status, 'ACTIVE');

  fault.delay(200);
  t.after(() => fault.clear());
  const slow = await backend.selfTest();
  assert.equal(slow.status, 'DEGRADED');
  assert.match(slow.detail ?? '', /within 150 ms/);
  fault.clear();

  const plugBack = hsm.unplug(token);
  t.after(() => {
    try {
      plugBack();
    } catch {
      // already back
    }
  });
  const gone = await backend.selfTest();
  assert.equal(gone.status, 'UNAVAILABLE');
  plugBack();
  // The token is looked for again by label once it is back.
  let back = await backend.selfTest();
  for (let i = 0; i < 20 && back.status !== 'ACTIVE'; i++) back = await backend.selfTest();
  assert.equal(back.status, 'ACTIVE', back.detail);
});
