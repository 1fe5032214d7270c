/**
 * PKCS#11 plumbing against a real SoftHSM2 token: token selection by label, login, key
 * generation template, lookup by label, session handling after data and session errors,
 * IV strategies, and token removal (the token's directory leaves the token store).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isKeyholdError } from '../src/base/index.js';
import { buildGcmAad } from '../src/crypto/index.js';
import { createSessionPool, createTokenKeys, resolveProfile, type PoolEvent, type ProfileOverrides, type SessionPool } from '../src/hsm/index.js';
import { createSoftHsm, type SoftHsmToken } from './support/softhsm.js';

const hsm = createSoftHsm();
after(() => hsm.cleanup());

const pools: SessionPool[] = [];
after(async () => {
  for (const p of pools) await p.close();
});

function poolFor(token: SoftHsmToken, o: { pin?: string | null; overrides?: ProfileOverrides; events?: PoolEvent[]; maxSessions?: number } = {}): SessionPool {
  const p = createSessionPool({
    modulePath: hsm.module,
    tokenLabel: token.label,
    pin: o.pin === undefined ? token.userPin : o.pin,
    maxSessions: o.maxSessions ?? 2,
    callTimeoutMs: 5000,
    reinitIntervalMs: 0,
    profile: resolveProfile('softhsm2', o.overrides),
    onEvent: (e) => o.events?.push(e),
  });
  pools.push(p);
  return p;
}

const aad = buildGcmAad(Buffer.from('ctx'), Buffer.of(1, 0, 0, 0, 1));

test('selects the token by its label, not by slot', async () => {
  const a = hsm.addToken('plumbing-a');
  const b = hsm.addToken('plumbing-b');
  const keysA = createTokenKeys(poolFor(a));
  const keysB = createTokenKeys(poolFor(b));
  await keysB.generate('only-in-b');
  assert.equal(await keysA.find('only-in-b'), undefined);
  assert.ok(await keysB.find('only-in-b'));
  assert.equal(keysA.pool.stats().token?.label, 'plumbing-a');
});

test('reports a missing token by its label', async () => {
  const p = createSessionPool({ modulePath: hsm.module, tokenLabel: 'no-such-token', pin: '1234', maxSessions: 1, callTimeoutMs: 5000, profile: resolveProfile('softhsm2') });
  pools.push(p);
  await assert.rejects(createTokenKeys(p).find('x'), (e) => isKeyholdError(e, 'BackendUnavailable') && /no token labelled 'no-such-token'/.test(e.message));
});

test('refuses a wrong PIN once and never retries it', async () => {
  const t = hsm.addToken('plumbing-pin');
  const events: PoolEvent[] = [];
  const wrong = poolFor(t, { pin: 'not-the-pin', events });
  await assert.rejects(createTokenKeys(wrong).find('x'), (e) => isKeyholdError(e, 'BackendUnavailable') && /refused the user PIN/.test(e.message) && !e.message.includes('not-the-pin'));
  assert.equal(wrong.stats().state, 'login-refused');
  // The second attempt fails without another C_Login: only one refusal was recorded.
  await assert.rejects(createTokenKeys(wrong).find('x'), (e) => isKeyholdError(e, 'BackendUnavailable') && /refused earlier/.test(e.message));
  assert.equal(events.filter((e) => e.type === 'login-refused').length, 1);
  // The token is not locked: the right PIN still works.
  assert.equal(await createTokenKeys(poolFor(t)).find('x'), undefined);
});

test('requires a PIN for a token that needs login', async () => {
  const t = hsm.addToken('plumbing-nopin');
  await assert.rejects(createTokenKeys(poolFor(t, { pin: null })).find('x'), (e) => isKeyholdError(e) && /requires a user PIN/.test(e.message));
});

test('generates AES-256 keys that stay in the token and only encrypt and decrypt', async () => {
  const t = hsm.addToken('plumbing-gen');
  const keys = createTokenKeys(poolFor(t));
  const ref = await keys.generate('gen-key');
  assert.match(ref.idHex ?? '', /^[0-9a-f]{32}$/);
  const a = await keys.attributes(ref);
  assert.equal(a.label, 'gen-key');
  assert.equal(a.idHex, ref.idHex);
  assert.equal(a.objectClass, 4, 'CKO_SECRET_KEY');
  assert.equal(a.keyType, 0x1f, 'CKK_AES');
  assert.equal(a.valueLen, 32);
  assert.deepEqual(
    { token: a.token, sensitive: a.sensitive, extractable: a.extractable, encrypt: a.encrypt, decrypt: a.decrypt, wrap: a.wrap, unwrap: a.unwrap, sign: a.sign, verify: a.verify, derive: a.derive },
    { token: true, sensitive: true, extractable: false, encrypt: true, decrypt: true, wrap: false, unwrap: false, sign: false, verify: false, derive: false },
  );
  await assert.rejects(keys.generate('gen-key'), (e) => isKeyholdError(e, 'Conflict'));
});

test('finds a key by label and refuses an ambiguous label', async () => {
  const t = hsm.addToken('plumbing-find');
  const pool = poolFor(t);
  const keys = createTokenKeys(pool);
  const ref = await keys.generate('unique');
  assert.deepEqual(await keys.find('unique'), ref);
  // Two objects with one label, as a careless HSM admin can create.
  await pool.withSession(async (s) => {
    await s.call({ op: 'generate', label: 'twice', idHex: '01' });
    await s.call({ op: 'generate', label: 'twice', idHex: '02' });
  });
  await assert.rejects(keys.find('twice'), (e) => isKeyholdError(e, 'Conflict'));
  // With the CKA_ID the object is unique again.
  const out = await keys.encrypt({ label: 'twice', idHex: '02' }, Buffer.from('x'), aad);
  assert.deepEqual(await keys.decrypt({ label: 'twice', idHex: '02' }, out.iv, out.ciphertext, out.tag, aad), Buffer.from('x'));
  assert.equal(await keys.decrypt({ label: 'twice', idHex: '01' }, out.iv, out.ciphertext, out.tag, aad), undefined);
});

test('keeps the session after a data error (a bad tag)', async () => {
  const t = hsm.addToken('plumbing-data');
  const events: PoolEvent[] = [];
  const pool = poolFor(t, { events, maxSessions: 1 });
  const keys = createTokenKeys(pool);
  const ref = await keys.generate('k');
  const out = await keys.encrypt(ref, Buffer.from('data'), aad);
  assert.equal(await keys.decrypt(ref, out.iv, out.ciphertext, randomBytes(16), aad), undefined);
  assert.deepEqual(await keys.decrypt(ref, out.iv, out.ciphertext, out.tag, aad), Buffer.from('data'));
  assert.equal(events.filter((e) => e.type === 'session-dropped').length, 0, 'no session was dropped');
});

test('drops a session after a session error and retries once on a fresh one', async () => {
  const t = hsm.addToken('plumbing-session');
  const events: PoolEvent[] = [];
  const pool = poolFor(t, { events, maxSessions: 1 });
  const keys = createTokenKeys(pool);
  const ref = await keys.generate('k');
  let attempts = 0;
  const found = await pool.withSession(async (s) => {
    if (attempts++ === 0) await s.call({ op: 'close' }); // the session disappears under the pool's feet
    return s.call({ op: 'find', label: 'k' });
  });
  assert.equal(found.length, 1);
  assert.equal(attempts, 2);
  assert.deepEqual(
    events.filter((e) => e.type === 'session-dropped').map((e) => e.type),
    ['session-dropped'],
  );
  const out = await keys.encrypt(ref, Buffer.from('after'), aad);
  assert.deepEqual(await keys.decrypt(ref, out.iv, out.ciphertext, out.tag, aad), Buffer.from('after'));
});

test('does not repeat a session failure twice in one call', async () => {
  const t = hsm.addToken('plumbing-session2');
  const pool = poolFor(t, { maxSessions: 1 });
  await assert.rejects(
    pool.withSession(async (s) => {
      await s.call({ op: 'close' });
      return s.call({ op: 'find', label: 'k' });
    }),
    (e) => isKeyholdError(e, 'BackendUnavailable') && /find failed: no open session/.test(e.message),
  );
});

test("refuses iv_strategy 'token-zero-buffer' on a token that does not generate IVs", async () => {
  const t = hsm.addToken('plumbing-zero');
  const keys = createTokenKeys(poolFor(t, { overrides: { ivStrategy: 'token-zero-buffer' } }));
  const ref = await keys.generate('k');
  await assert.rejects(keys.encrypt(ref, Buffer.from('x'), aad), (e) => isKeyholdError(e) && /left the IV buffer zeroed/.test(e.message));
});

test("refuses iv_strategy 'token-appends' on a token that appends no IV", async () => {
  const t = hsm.addToken('plumbing-append');
  const keys = createTokenKeys(poolFor(t, { overrides: { ivStrategy: 'token-appends' } }));
  const ref = await keys.generate('k');
  await assert.rejects(keys.encrypt(ref, Buffer.from('x'), aad), (e) => isKeyholdError(e) && /appended 0 IV bytes/.test(e.message));
});

test('a removed token fails calls, and is found again once it is back', async () => {
  const t = hsm.addToken('plumbing-unplug');
  const events: PoolEvent[] = [];
  const pool = poolFor(t, { events });
  const keys = createTokenKeys(pool);
  const ref = await keys.generate('k');
  const before = await keys.encrypt(ref, Buffer.from('before'), aad);

  const plugBack = hsm.unplug(t);
  await assert.rejects(keys.encrypt(ref, Buffer.from('x'), aad), (e) => isKeyholdError(e, 'BackendUnavailable'));
  // The next call re-initialises the module and looks for the token by label: still gone.
  await assert.rejects(keys.encrypt(ref, Buffer.from('x'), aad), (e) => isKeyholdError(e, 'BackendUnavailable') && /no token labelled 'plumbing-unplug'/.test(e.message));
  assert.ok(pool.stats().reinitialisations >= 1);

  plugBack();
  const back = await keys.decrypt(ref, before.iv, before.ciphertext, before.tag, aad);
  assert.deepEqual(back, Buffer.from('before'));
  assert.ok(events.some((e) => e.type === 'reinitialise'));
});
