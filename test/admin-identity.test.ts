import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { startAdminHarness, type AdminHarness } from './support/admin-harness.js';

/** Admin identity: lockout with backoff, session expiry, browser cookies, disabled users. */
let h: AdminHarness;
type Body = Record<string, unknown>;
const MIN = 60_000;

before(async () => {
  h = await startAdminHarness({ demo: false });
});

after(async () => {
  await h?.dispose();
});

const whoami = (token: string) => h.api.call('GET', '/api/v1/auth/whoami', { token });

test('failed logins lock the username with a doubling backoff; success resets it', async () => {
  const u = await h.provision('auditor', 'locky');
  for (let i = 1; i <= 5; i++) assert.equal((await h.login('locky', `wrong-password-${i}`)).status, 401, `attempt ${i}`);
  const locked = await h.login('locky', u.password);
  assert.equal(locked.status, 429, 'even the right password is refused while locked');
  assert.equal(locked.body.error, 'Throttled');
  assert.match(String(locked.body.message), /try again in \d+ s/);
  h.clock.advance(MIN + 1000);
  // The next failure locks for twice as long.
  assert.equal((await h.login('locky', 'wrong-password-6')).status, 401);
  h.clock.advance(MIN + 1000);
  assert.equal((await h.login('locky', u.password)).status, 429, 'second lock is 2 minutes');
  h.clock.advance(MIN);
  const ok = await h.login('locky', u.password);
  assert.equal(ok.status, 200);
  assert.equal(((await h.api.call<Body>('GET', '/api/v1/users/locky', { token: h.admin.token })).body).failedLogins, 0);
  // An administrator can also unlock by issuing a new one-time password.
  for (let i = 1; i <= 5; i++) await h.login('locky', `wrong-password-${i}`);
  const reset = await h.api.call<Body>('POST', '/api/v1/users/locky/reset-password', { token: h.admin.token });
  assert.equal((await h.login('locky', String(reset.body.oneTimePassword))).status, 200);
});

test('unknown usernames lock exactly like known ones (no enumeration through lockout)', async () => {
  const answers: number[] = [];
  for (let i = 1; i <= 6; i++) answers.push((await h.login('ghost-user', `wrong-password-${i}`)).status);
  assert.deepEqual(answers, [401, 401, 401, 401, 401, 429]);
});

test('sessions end after the idle timeout and after their absolute lifetime', async () => {
  const u = await h.provision('auditor');
  const idle = String((await h.login(u.username, u.password)).body.token);
  h.clock.advance(29 * MIN);
  assert.equal((await whoami(idle)).status, 200);
  h.clock.advance(29 * MIN);
  assert.equal((await whoami(idle)).status, 200, 'use resets the idle timer');
  h.clock.advance(31 * MIN);
  const r = await whoami(idle);
  assert.equal(r.status, 401);
  assert.match(String(r.body.message), /expired/);

  const busy = String((await h.login(u.username, u.password)).body.token);
  for (let i = 0; i < 23; i++) {
    h.clock.advance(20 * MIN);
    assert.equal((await whoami(busy)).status, 200, `after ${(i + 1) * 20} minutes`);
  }
  h.clock.advance(20 * MIN);
  assert.equal((await whoami(busy)).status, 401, 'eight hours is the limit however busy the session');
});

test('browser login sets an HttpOnly, Secure, SameSite=Strict cookie and keeps the token out of the body', async () => {
  const u = await h.provision('custodian');
  const r = await h.api.call<Body>('POST', '/api/v1/auth/login', { body: { username: u.username, password: u.password, cookie: true } });
  assert.equal(r.status, 200);
  assert.equal(r.body.token, undefined);
  const setCookie = String(r.headers['set-cookie']);
  assert.match(setCookie, /^keyhold_session=khs_[A-Za-z0-9_-]+;/);
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /Secure/);
  assert.match(setCookie, /SameSite=Strict/);
  const cookie = setCookie.split(';')[0]!;
  const me = await h.api.call<{ user: Body }>('GET', '/api/v1/auth/whoami', { headers: { cookie } });
  assert.equal(me.status, 200);
  assert.equal(me.body.user.username, u.username);
  // Writes with a cookie need the CSRF header, which cross-site forms cannot add.
  const noHeader = await h.api.call<Body>('POST', '/api/v1/keystores', { headers: { cookie }, body: { name: 'csrf', prefix: '/csrf' } });
  assert.equal(noHeader.status, 403);
  assert.match(String(noHeader.body.message), /x-keyhold-request/);
  const withHeader = await h.api.call('POST', '/api/v1/keystores', { headers: { cookie, 'x-keyhold-request': '1' }, body: { name: 'csrf', prefix: '/csrf' } });
  assert.equal(withHeader.status, 200);
  const out = await h.api.call('POST', '/api/v1/auth/logout', { headers: { cookie, 'x-keyhold-request': '1' } });
  assert.equal(out.status, 200);
  assert.match(String(out.headers['set-cookie']), /keyhold_session=;/);
  assert.equal((await h.api.call('GET', '/api/v1/auth/whoami', { headers: { cookie } })).status, 401);
});

test('disabling a user ends its sessions and API keys at once', async () => {
  const u = await h.provision('custodian', 'leaver');
  const key = String((await h.api.call<Body>('POST', '/api/v1/auth/api-keys', { token: u.token, body: { name: 'automation' } })).body.apiKey);
  assert.equal((await whoami(key)).status, 200);
  await h.api.call('PATCH', '/api/v1/users/leaver', { token: h.admin.token, body: { enabled: false } });
  assert.equal((await whoami(u.token)).status, 401);
  assert.equal((await whoami(key)).status, 401);
  assert.equal((await h.login('leaver', u.password)).status, 401);
  await h.api.call('PATCH', '/api/v1/users/leaver', { token: h.admin.token, body: { enabled: true } });
  assert.equal((await whoami(key)).status, 401, 'API keys stay revoked after re-enabling');
});

test('API keys expire', async () => {
  const u = await h.provision('auditor');
  const key = String((await h.api.call<Body>('POST', '/api/v1/auth/api-keys', { token: u.token, body: { name: 'short', expiresInDays: 1 } })).body.apiKey);
  assert.equal((await whoami(key)).status, 200);
  h.clock.advance(86_400_000 + 1000);
  assert.equal((await whoami(key)).status, 401);
});

test('storage keeps scrypt hashes and token digests only', async () => {
  const db = new BetterSqlite3(h.dbPath, { readonly: true });
  try {
    const users = db.prepare('SELECT username, password_hash FROM admin_users').all() as { username: string; password_hash: string }[];
    for (const u of users) assert.match(u.password_hash, /^\$scrypt\$ln=14,r=8,p=1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/, u.username);
    const digests = db.prepare('SELECT token_digest FROM admin_sessions UNION ALL SELECT token_digest FROM admin_api_keys').all() as { token_digest: string }[];
    assert.ok(digests.length > 0);
    for (const d of digests) assert.match(d.token_digest, /^[0-9a-f]{64}$/);
  } finally {
    db.close();
  }
});
