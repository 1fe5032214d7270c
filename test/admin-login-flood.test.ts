import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import BetterSqlite3 from 'better-sqlite3';
import { startAdminHarness, type AdminHarness, type SignedInUser } from './support/admin-harness.js';
import { demoXksClient } from './support/xks-client.js';

/**
 * Login under pressure (issue 15): parallel guesses cannot get past the lockout, the scrypt
 * queue is bounded with a per-address share (429 at once when full), and the XKS listener
 * keeps answering while the admin listener is flooded.
 */
let h: AdminHarness;
let target: SignedInUser;

before(async () => {
  h = await startAdminHarness({ demo: true });
  target = await h.provision('custodian', 'target');
});

after(async () => {
  await h?.dispose();
});

/** One login over a fresh TLS connection from a chosen loopback address (127.0.0.0/8 is all local). */
function loginFrom(address: string, username: string, password: string): Promise<{ status: number; text: string }> {
  const u = new URL(h.url);
  const body = Buffer.from(JSON.stringify({ username, password }));
  return new Promise((resolve, reject) => {
    const r = request(
      { host: '127.0.0.1', port: u.port, method: 'POST', path: '/api/v1/auth/login', ca: h.caPem, servername: 'localhost', localAddress: address, agent: false, headers: { 'content-type': 'application/json', 'content-length': String(body.length) } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    r.on('error', reject);
    r.end(body);
  });
}

const tally = (rs: { status: number }[]) => rs.reduce<Record<number, number>>((m, r) => ((m[r.status] = (m[r.status] ?? 0) + 1), m), {});

// First, while the test clock still agrees with the XKS client's signing time.
test('XKS calls keep answering while the admin listener is flooded with logins', async () => {
  const xks = demoXksClient({ url: `https://localhost:${h.running.xksAddress.port}`, caPem: h.caPem, demo: h.init.demo });
  let flooding = true;
  const seen: number[] = [];
  // Waves of logins from many addresses, until the XKS calls are done.
  const flood = (async () => {
    let wave = 0;
    while (flooding) {
      const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => loginFrom(`127.0.${10 + (wave % 200)}.${1 + i}`, `flood-user-${i}`, 'wrong-password-xxxxxxxx').catch(() => ({ status: 0, text: '' }))));
      for (const r of rs) seen.push(r.status);
      wave++;
    }
  })();
  const answers: number[] = [];
  try {
    for (let i = 0; i < 30; i++) {
      const r = await xks.encrypt('demo-key', { plaintext: Buffer.from(`payload ${i}`) });
      answers.push(r.status);
    }
  } finally {
    flooding = false;
    await flood;
  }
  assert.deepEqual(answers, Array.from({ length: 30 }, () => 200), 'every XKS call answered');
  assert.ok(seen.includes(429), `the admin listener shed load early (${JSON.stringify(tally(seen.map((status) => ({ status }))))})`);
});

test('30 parallel wrong passwords from 30 addresses: at most the threshold are checked, then the name is locked', async () => {
  const rs = await Promise.all(Array.from({ length: 30 }, (_, i) => loginFrom(`127.0.0.${10 + i}`, 'target', `wrong-password-${i}-xxxxxxxx`)));
  const t = tally(rs);
  assert.equal(t[200] ?? 0, 0);
  assert.ok((t[401] ?? 0) <= 5, `at most lockout_threshold (5) guesses were checked: ${JSON.stringify(t)}`);
  assert.equal((t[401] ?? 0) + (t[429] ?? 0), 30, JSON.stringify(t));
  // The counter was not reset by racing writes, and the right password is refused while locked.
  const right = await loginFrom('127.0.0.9', 'target', target.password);
  assert.equal(right.status, 429, right.text);
  const db = new BetterSqlite3(h.dbPath, { readonly: true });
  try {
    const row = db.prepare('SELECT failed_logins, locked_until FROM admin_users WHERE username = ?').get('target') as { failed_logins: number; locked_until: string | null };
    assert.ok(row.failed_logins >= 5, `failed_logins ${row.failed_logins}`);
    assert.ok(row.locked_until !== null && Date.parse(row.locked_until) > h.clock.now());
  } finally {
    db.close();
  }
  h.clock.advance(16 * 60_000);
  assert.equal((await loginFrom('127.0.0.9', 'target', target.password)).status, 200, 'the lock ends; the right password works again');
});

test('unknown names: 30 parallel guesses are locked the same way', async () => {
  const rs = await Promise.all(Array.from({ length: 30 }, (_, i) => loginFrom(`127.0.1.${10 + i}`, 'nobody-here', `wrong-password-${i}-xxxxxxxx`)));
  const t = tally(rs);
  assert.ok((t[401] ?? 0) <= 5, JSON.stringify(t));
  assert.equal((t[401] ?? 0) + (t[429] ?? 0), 30, JSON.stringify(t));
});

test('one address gets a bounded share of password checks; beyond it, 429 at once', async () => {
  const rs = await Promise.all(Array.from({ length: 30 }, (_, i) => loginFrom('127.0.2.1', `flood-${i}`, 'wrong-password-xxxxxxxx')));
  const t = tally(rs);
  // Distinct unknown names, so no lockout is involved: every 429 here is the address's share.
  assert.equal((t[401] ?? 0) + (t[429] ?? 0), 30, JSON.stringify(t));
  assert.ok(rs.some((r) => r.status === 429 && /from your address/.test(r.text)), JSON.stringify(t));
  // Another address is not starved by the first one's flood.
  assert.equal((await loginFrom('127.0.2.2', 'target', target.password)).status, 200);
});
