import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { createSessionPool, createTokenKeys, resolveProfile, type SessionPool } from '../src/hsm/index.js';
import { DAY, startAdminHarness, type AdminHarness, type SignedInUser } from './support/admin-harness.js';
import { createSoftHsm, type SoftHsmToken } from './support/softhsm.js';

/**
 * The admin API's HSM routes against a SoftHSM2 token: token status, the sealed PIN,
 * adopting a key by label, importing the AWS sample proxy's settings, and the refusal to
 * destroy an HSM key while the backend cannot destroy token objects.
 */
const softhsm = createSoftHsm();
let token: SoftHsmToken;
let pool: SessionPool;
let h: AdminHarness;
let custodian: SignedInUser;
let auditor: SignedInUser;
type Body = Record<string, unknown>;

before(async () => {
  token = softhsm.addToken('admin-hsm');
  pool = createSessionPool({ modulePath: softhsm.module, tokenLabel: token.label, pin: token.userPin, maxSessions: 1, callTimeoutMs: 5000, profile: resolveProfile('softhsm2') });
  await createTokenKeys(pool).generate('legacy-ledger');
  h = await startAdminHarness({
    toml: `\n[hsm]\nmodule = "${softhsm.module}"\ntoken_label = "${token.label}"\npin_env = "KEYHOLD_HSM_PIN"\nprofile = "softhsm2"\nsessions = 2\n`,
    env: { KEYHOLD_HSM_PIN: token.userPin },
  });
  custodian = await h.provision('custodian');
  auditor = await h.provision('auditor');
});

after(async () => {
  await h?.dispose();
  await pool?.close();
  softhsm.cleanup();
});

const call = <T = Body>(method: string, path: string, token: string, body?: unknown) => h.api.call<T>(method, `/api/v1${path}`, { token, ...(body !== undefined ? { body } : {}) });

test('GET /hsm reports the token and a passing self-test', async () => {
  const r = await call<{ tokenLabel: string; health: Body }>('GET', '/hsm', auditor.apiKey);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.tokenLabel, token.label);
  assert.equal(r.body.health.status, 'ACTIVE');
  assert.ok(!r.text.includes(token.userPin));
});

test('PUT /hsm/pin stores the PIN sealed; neither storage nor the records hold it in clear', async () => {
  const r = await call('PUT', '/hsm/pin', custodian.apiKey, { pin: token.userPin });
  assert.equal(r.status, 200, r.text);
  const db = new BetterSqlite3(h.dbPath, { readonly: true });
  try {
    const row = db.prepare("SELECT value FROM meta WHERE name = 'hsm.pin'").get() as { value: string } | undefined;
    assert.ok(row, 'the sealed PIN is stored');
  } finally {
    db.close();
  }
  assert.ok(!readFileSync(h.dbPath).includes(Buffer.from(token.userPin)));
  assert.ok(!JSON.stringify(h.records).includes(token.userPin));
  assert.ok(!h.logs().includes(token.userPin));
  assert.equal((await call('PUT', '/hsm/pin', auditor.apiKey, { pin: 'x' })).status, 403);
});

test('POST /keys/adopt serves an existing token key by its label', async () => {
  const r = await call<{ key: Body; warnings: string[] }>('POST', '/keys/adopt', custodian.apiKey, { label: 'legacy-ledger', keyStore: 'demo', aadLayout: 'sample-proxy' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.key.keyId, 'legacy-ledger');
  assert.equal(r.body.key.protection, 'hsm');
  assert.equal(r.body.key.aadLayout, 'sample-proxy');
  const again = await call('POST', '/keys/adopt', custodian.apiKey, { label: 'legacy-ledger', keyStore: 'demo', keyId: 'ledger-2' });
  assert.equal(again.status, 409, 'one token object backs one key');
  assert.equal((await call('POST', '/keys/adopt', custodian.apiKey, { label: 'no-such-label', keyStore: 'demo' })).status, 404);
});

test('POST /import/sample-proxy-config (dry run) reports the plan and records only the file size', async () => {
  const secret = 'Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5';
  const text = `[[external_key_stores]]\nuri_path_prefix = "/orders/xks"\nsigv4_access_key_id = "ABCDEFGHIJKLMNOPQRST"\nsigv4_secret_access_key = "${secret}"\nxks_key_id_set = ["orders"]\n`;
  const r = await call<Body>('POST', '/import/sample-proxy-config', custodian.apiKey, { text, dryRun: true });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.dryRun, true);
  const rec = h.records.find((x) => x.action === 'import.sample-proxy-config')!;
  assert.deepEqual(rec.change, { dryRun: true, bytes: Buffer.byteLength(text) });
  assert.ok(!JSON.stringify(h.records).includes(secret));
  assert.ok(!h.logs().includes(secret));
});

test('an HSM key is not destroyed while the backend cannot destroy token objects', async () => {
  const created = await call<Body>('POST', '/keys', custodian.apiKey, { keyId: 'hsm-doomed', keyStore: 'demo', protection: 'hsm' });
  assert.equal(created.status, 200, created.text);
  await call('POST', '/keys/hsm-doomed/schedule-deletion', custodian.apiKey, { pendingWindowInDays: 7 });
  h.clock.advance(8 * DAY);
  const run = await h.running.scheduler.runOnce();
  assert.deepEqual(run.destroyed, []);
  assert.equal(run.failed[0]?.keyId, 'hsm-doomed');
  assert.match(run.failed[0]!.message, /cannot destroy token objects/);
  assert.equal((await call<Body>('GET', '/keys/hsm-doomed', auditor.apiKey)).body.state, 'PendingDeletion', 'kept, with its token reference');
  await h.running.scheduler.runOnce();
  assert.equal(h.records.filter((r) => r.action === 'keys.scheduled-work' && r.target === 'hsm-doomed').length, 1, 'recorded once, not on every run');
});
