import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ROLES } from '../src/domain/index.js';
import { operationsOf, startAdminHarness, type AdminHarness, type OpenApiOperation, type SignedInUser } from './support/admin-harness.js';

/**
 * The route × role matrix, generated from the server's own OpenAPI document: a route added
 * tomorrow is checked for every role without anyone editing this file. The route table
 * refuses to register a route that declares no roles.
 */
let h: AdminHarness;
let ops: OpenApiOperation[];
let callers: { name: string; user: SignedInUser | undefined }[];

before(async () => {
  h = await startAdminHarness({ metrics: { render: async () => '# TYPE keyhold_up gauge\nkeyhold_up 1\n' } });
  const custodian = await h.provision('custodian');
  const auditor = await h.provision('auditor');
  callers = [
    { name: 'anonymous', user: undefined },
    { name: 'administrator', user: h.admin },
    { name: 'custodian', user: custodian },
    { name: 'auditor', user: auditor },
  ];
  const doc = await h.api.call<{ paths: Record<string, Record<string, Record<string, unknown>>> }>('GET', '/api/v1/openapi.json');
  assert.equal(doc.status, 200);
  ops = operationsOf(doc.body);
});

after(async () => {
  await h?.dispose();
});

/** A concrete path for a template; the probe values name nothing that exists. */
function probePath(op: OpenApiOperation): string {
  return op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => (name === 'version' ? '1' : 'matrix-probe'));
}

test('the OpenAPI document lists exactly the registered routes, each with its roles', () => {
  const registered = h.running.admin!.routes.map((r) => r.id).sort();
  assert.deepEqual(ops.map((o) => o.operationId).sort(), registered);
  assert.ok(ops.length >= 40, `expected the full API, got ${ops.length} operations`);
  for (const op of ops) {
    assert.ok(op.roles.length > 0, `${op.method} ${op.path} declares no roles`);
    for (const r of op.roles) assert.ok(r === 'public' || (ROLES as readonly string[]).includes(r), `${op.operationId}: unknown role ${r}`);
  }
});

test('every route answers every role as declared (route × role matrix)', async () => {
  let checked = 0;
  for (const op of ops) {
    for (const c of callers) {
      let token = c.user?.token;
      // Logging out would end the session the rest of the matrix uses: use a fresh one.
      if (op.operationId === 'auth.logout' && c.user) token = String((await h.login(c.user.username, c.user.password)).body.token);
      const r = await h.api.call(op.method, probePath(op), { token, ...(op.hasBody ? { body: {} } : {}) });
      const where = `${c.name} ${op.method} ${op.path} → ${r.status} ${r.text.slice(0, 160)}`;
      const isPublic = op.roles.includes('public');
      if (!c.user) {
        if (isPublic) assert.ok(r.status !== 401 && r.status !== 403, `public route refused: ${where}`);
        else {
          assert.equal(r.status, 401, where);
          assert.equal(r.body.error, 'AuthenticationFailed', where);
        }
      } else if (isPublic || op.roles.includes(c.user.role)) {
        assert.ok(r.status !== 401 && r.status !== 403, `allowed role refused: ${where}`);
        // 501 Unsupported is a deliberate answer (no [hsm] section here), not a failure.
        assert.ok(r.status < 500 || r.body.error === 'Unsupported', `server error: ${where}`);
      } else {
        assert.equal(r.status, 403, `forbidden role let through: ${where}`);
        assert.equal(r.body.error, 'AccessDenied', where);
        assert.match(String(r.body.message), new RegExp(`the ${c.user.role} role may not call`), where);
      }
      checked++;
    }
  }
  assert.equal(checked, ops.length * callers.length);
});

test('segregation of duties holds across the whole route table', () => {
  const keyPlane = (p: string) => /^\/api\/v1\/(keystores|keys|approvals)(\/|$)/.test(p);
  const adminPlane = (p: string) => /^\/api\/v1\/(users|settings)(\/|$)/.test(p);
  for (const op of ops) {
    const name = `${op.method} ${op.path}`;
    // Administrators reach the key plane in two places only: the AWS configuration export
    // (issue 15: administrator-only), and their own approval requests (see, cancel, collect).
    const adminOnKeyPlane = ['keystores.aws-config', 'approvals.get', 'approvals.cancel', 'approvals.collect'].includes(op.operationId);
    if (keyPlane(op.path) && !adminOnKeyPlane) assert.ok(!op.roles.includes('administrator'), `administrators must not reach key operations: ${name}`);
    if (adminPlane(op.path) && op.method !== 'GET') assert.deepEqual(op.roles, ['administrator'], `only administrators change admins and settings: ${name}`);
    if (adminPlane(op.path)) assert.ok(!op.roles.includes('custodian'), `custodians must not manage admins or approval rules: ${name}`);
    // Auditors read; the only writes they may make are to their own session and API keys.
    const selfService = op.path.startsWith('/api/v1/auth/');
    if (op.roles.includes('auditor') && op.method !== 'GET') assert.ok(selfService, `auditors are read-only: ${name}`);
    // A guarded action is requested by one role only: custodians for keys and stores,
    // administrators for users, rules and the AWS configuration export.
    if (op.approval) assert.equal(op.roles.length, 1, `one role requests a guarded action: ${name}`);
  }
  const publicOps = ops.filter((o) => o.roles.includes('public')).map((o) => o.operationId).sort();
  assert.deepEqual(publicOps, ['auth.login', 'meta.openapi']);
  // The secret-bearing export is an administrator-only write, never readable by auditors.
  const awsConfig = ops.find((o) => o.operationId === 'keystores.aws-config')!;
  assert.deepEqual(awsConfig.roles, ['administrator']);
});

test('a user with a one-time password may only replace it', async () => {
  const created = await h.api.call('POST', '/api/v1/users', { token: h.admin.token, body: { username: 'fresh-user', role: 'custodian' } });
  const login = await h.login('fresh-user', String(created.body.oneTimePassword));
  const token = String(login.body.token);
  assert.equal((await h.api.call('GET', '/api/v1/auth/whoami', { token })).status, 200);
  const keys = await h.api.call('GET', '/api/v1/keys', { token });
  assert.equal(keys.status, 403);
  assert.match(String(keys.body.message), /one-time password/);
});
