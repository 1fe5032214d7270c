import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createAuditLogSink } from '../src/app/admin-audit.js';
import { operationsOf, startAdminHarness, type AdminHarness } from './support/admin-harness.js';

/**
 * No secret (password, one-time password, session token, API key, SigV4 secret) appears
 * in the database file, the server's log, the admin action records, or any API response
 * after the one that displayed it once.
 */
let h: AdminHarness;
const secrets = new Map<string, string>();
type Body = Record<string, unknown>;

function remember(what: string, value: unknown): void {
  assert.equal(typeof value, 'string', what);
  assert.ok((value as string).length >= 12, `${what} looks too short to be a secret`);
  secrets.set(what, value as string);
}

before(async () => {
  // Admin actions also go to the hash-chained audit log, as with `keyhold start`.
  const started: { h?: AdminHarness } = {};
  h = await startAdminHarness({ audit: { recordAdminAction: async (r) => started.h && (await createAuditLogSink(started.h.running.audit.service).recordAdminAction(r)) } });
  started.h = h;
  remember('bootstrap one-time password', h.init.admin.oneTimePassword);
  remember('administrator password', h.admin.password);
  remember('administrator API key', h.admin.apiKey);
  remember('demo SigV4 secret', h.init.demo!.credential.secretAccessKey);

  const c1 = await h.provision('custodian', 'keeper');
  const c2 = await h.provision('custodian', 'second');
  const reader = await h.provision('auditor', 'reader');
  for (const [n, u] of [['keeper', c1], ['second', c2], ['reader', reader]] as const) {
    remember(`${n} password`, u.password);
    remember(`${n} session token`, u.token);
    remember(`${n} API key`, u.apiKey);
  }
  const created = await h.api.call<Body>('POST', '/api/v1/users', { token: h.admin.token, body: { username: 'newbie', role: 'auditor' } });
  remember('newbie one-time password', created.body.oneTimePassword);
  const reset = await h.api.call<Body>('POST', '/api/v1/users/newbie/reset-password', { token: h.admin.token });
  remember('newbie reset password', reset.body.oneTimePassword);
  const browser = await h.api.call('POST', '/api/v1/auth/login', { body: { username: 'keeper', password: c1.password, cookie: true } });
  remember('cookie session token', /keyhold_session=([^;]+)/.exec(String(browser.headers['set-cookie']))![1]);
  // A wrong password is a near-secret too (often a typo of the real one).
  const typo = c1.password.slice(0, -1) + 'X';
  await h.login('keeper', typo);
  remember('mistyped password', typo);

  const ks = await h.api.call<{ credential: Body }>('POST', '/api/v1/keystores', { token: c1.apiKey, body: { name: 'tenant', prefix: '/tenant' } });
  remember('key store SigV4 secret', ks.body.credential.secretAccessKey);
  await h.api.call('PUT', '/api/v1/settings/approval-rules/credential.add', { token: h.admin.token, body: { required: 1 } });
  const pending = await h.api.call<{ pendingApproval: Body }>('POST', '/api/v1/keystores/tenant/credentials', { token: c1.apiKey });
  const id = String(pending.body.pendingApproval.id);
  await h.api.call('POST', `/api/v1/approvals/${id}/approve`, { token: c2.apiKey });
  const collected = await h.api.call<{ result: Body }>('POST', `/api/v1/approvals/${id}/collect`, { token: c1.apiKey });
  remember('approved SigV4 secret', collected.body.result.secretAccessKey);
  const apiKey = await h.api.call<Body>('POST', '/api/v1/auth/api-keys', { token: c2.token, body: { name: 'robot' } });
  remember('robot API key', apiKey.body.apiKey);
  await h.api.call('POST', '/api/v1/keys', { token: c1.apiKey, body: { keyId: 'k1', keyStore: 'tenant' } });
});

after(async () => {
  await h?.dispose();
});

function leaks(haystack: Buffer | string, where: string): string[] {
  const text = Buffer.isBuffer(haystack) ? haystack : Buffer.from(haystack);
  const found: string[] = [];
  for (const [what, s] of secrets) {
    for (const form of [s, Buffer.from(s).toString('base64'), Buffer.from(s).toString('hex')]) {
      if (text.includes(Buffer.from(form))) found.push(`${what} in ${where}`);
    }
  }
  return found;
}

test('the database file holds no secret in clear', async () => {
  const files = [h.dbPath, `${h.dbPath}-wal`, `${h.dbPath}-shm`].filter((p) => existsSync(p));
  const found = files.flatMap((f) => leaks(readFileSync(f), f));
  assert.deepEqual(found, []);
  assert.ok(secrets.size >= 17, `checked ${secrets.size} secrets`);
});

test('the server log and the admin action records hold no secret', () => {
  assert.ok(h.logs().includes('"event":"admin_action"'), 'the log is not empty');
  assert.deepEqual(leaks(h.logs(), 'server log'), []);
  assert.ok(h.records.length > 10);
  assert.deepEqual(leaks(JSON.stringify(h.records), 'admin action records'), []);
  const login = h.records.find((r) => r.action === 'auth.login');
  assert.deepEqual(login?.change, { username: login?.target, password: '[redacted]' });
});

test('the audit log holds no secret', async () => {
  let n = 0;
  let text = '';
  for await (const r of h.running.audit.service.export()) {
    n++;
    text += JSON.stringify(r) + '\n';
  }
  assert.ok(n > 10 && text.includes('"source":"api"'), `the audit log holds the API's actions (${n} records)`);
  assert.deepEqual(leaks(text, 'audit log'), []);
});

test('no API read shows a secret again', async () => {
  const doc = await h.api.call<{ paths: Record<string, Record<string, Record<string, unknown>>> }>('GET', '/api/v1/openapi.json');
  const reads = operationsOf(doc.body).filter((o) => o.method === 'GET' && o.operationId !== 'meta.openapi');
  const values: Record<string, string> = { name: 'tenant', keyId: 'k1', username: 'keeper', id: '' };
  const approvals = await h.api.call<Body[]>('GET', '/api/v1/approvals', { token: secrets.get('keeper API key')! });
  values.id = String(approvals.body[0]!.id);
  let read = 0;
  for (const op of reads) {
    const path = op.path.replace(/\{([^}]+)\}/g, (_m, n: string) => values[n] ?? 'x');
    for (const token of [secrets.get('keeper API key')!, h.admin.token, secrets.get('reader API key')!]) {
      const r = await h.api.call('GET', path, { token });
      if (r.status === 200) read++;
      assert.deepEqual(leaks(r.text, `GET ${path}`), []);
    }
  }
  assert.ok(read >= reads.length, `every read route answered at least once (${read})`);
});
