import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { APPROVAL_ACTIONS } from '../src/domain/index.js';
import { issueCertificate } from '../src/app/certificates.js';
import { DAY, startAdminHarness, type AdminHarness, type SignedInUser } from './support/admin-harness.js';

/**
 * Approval rules guard effects, not verbs (issue 15): every route that changes something is
 * covered by a rule or says why none applies; a change that stops or narrows service falls
 * under the rule of the action it is equivalent to; an approved request acts on the object
 * it was filed for, never on a namesake created later.
 */
let h: AdminHarness;
let ana: SignedInUser;
let ben: SignedInUser;
type Body = Record<string, unknown>;
type Doc = { paths: Record<string, Record<string, Record<string, unknown>>> };

before(async () => {
  h = await startAdminHarness({ demo: false });
  ana = await h.provision('custodian', 'ana');
  ben = await h.provision('custodian', 'ben');
  // Accounts gain their vote at creation; requests below are filed strictly later.
  h.clock.advance(1);
  assert.equal((await call('POST', '/keystores', ana.apiKey, { name: 'shop', prefix: '/shop', regions: ['eu-west-1', 'us-east-1'] })).status, 200);
});

after(async () => {
  await h?.dispose();
});

const call = <T = Body>(method: string, path: string, token: string, body?: unknown) => h.api.call<T>(method, `/api/v1${path}`, { token, ...(body !== undefined ? { body } : {}) });
const rule = async (action: string, body: Body) => assert.equal((await call('PUT', `/settings/approval-rules/${action}`, h.admin.token, body)).status, 200);
const clear = (action: string) => call('DELETE', `/settings/approval-rules/${action}`, h.admin.token);

test('every route that changes something is covered by an approval rule or says why none applies', async () => {
  const doc = (await h.api.call<Doc>('GET', '/api/v1/openapi.json')).body;
  const rules = new Set<string>(APPROVAL_ACTIONS);
  const used = new Set<string>();
  const uncovered: string[] = [];
  let mutating = 0;
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (method === 'get') continue;
      mutating++;
      const name = `${method.toUpperCase()} ${path} (${String(op.operationId)})`;
      const guard = op['x-keyhold-approval'] as string | string[] | undefined;
      const exempt = op['x-keyhold-approval-exempt'] as string | undefined;
      if (guard === undefined && (exempt === undefined || exempt.length < 10)) {
        uncovered.push(name);
        continue;
      }
      assert.ok(guard === undefined || exempt === undefined, `${name} is both guarded and exempt`);
      for (const g of guard === undefined ? [] : Array.isArray(guard) ? guard : [guard]) {
        assert.ok(rules.has(g), `${name} names ${g}, which no rule can be set for`);
        used.add(g);
        // A guarded route documents the 202 it answers while the request waits.
        assert.ok((op.responses as Body | undefined)?.['202'], `${name} is guarded but documents no 202`);
      }
    }
  }
  assert.deepEqual(uncovered, [], 'routes that change something with no approval coverage (declare `approval` on the route)');
  assert.ok(mutating >= 30, `expected the full API, saw ${mutating} changing operations`);
  assert.deepEqual([...rules].filter((r) => !used.has(r)), [], 'every rule guards at least one route');
});

test('with a key.disable rule, no custodian stops a key alone by narrowing its usage or expiry', async () => {
  await rule('key.disable', { required: 1 });
  assert.equal((await call('POST', '/keys', ana.apiKey, { keyId: 'k-eff', keyStore: 'shop', expiresAt: new Date(h.clock.now() + 100 * DAY).toISOString() })).status, 200);
  const narrowing: [string, Body][] = [
    ['usage none', { usage: [] }],
    ['usage decrypt only', { usage: ['decrypt'] }],
    ['expiry in the past', { expiresAt: new Date(h.clock.now() - DAY).toISOString() }],
    ['expiry sooner', { expiresAt: new Date(h.clock.now() + 10 * DAY).toISOString() }],
  ];
  for (const [what, body] of narrowing) {
    const r = await call<{ pendingApproval: Body }>('PATCH', '/keys/k-eff', ana.apiKey, body);
    assert.equal(r.status, 202, `${what}: ${r.text}`);
    assert.equal(r.body.pendingApproval.rule, 'key.disable', what);
    assert.equal(r.body.pendingApproval.action, 'key.update', what);
    assert.equal((await call('POST', `/approvals/${String(r.body.pendingApproval.id)}/cancel`, ana.apiKey)).status, 200);
  }
  const key = (await call<Body>('GET', '/keys/k-eff', ana.apiKey)).body;
  assert.deepEqual([...(key.usage as string[])].sort(), ['decrypt', 'encrypt'], 'nothing changed while the requests waited');
  assert.equal(key.state, 'Enabled');
  // What widens or leaves service alone still runs at once.
  const later = await call<Body>('PATCH', '/keys/k-eff', ana.apiKey, { description: 'orders', expiresAt: new Date(h.clock.now() + 200 * DAY).toISOString() });
  assert.equal(later.status, 200, later.text);
  // An approved narrowing runs exactly what was asked.
  const req = await call<{ pendingApproval: Body }>('PATCH', '/keys/k-eff', ana.apiKey, { usage: ['decrypt'] });
  const done = await call<Body>('POST', `/approvals/${String(req.body.pendingApproval.id)}/approve`, ben.apiKey);
  assert.equal(done.body.status, 'executed', done.text);
  assert.deepEqual((await call<Body>('GET', '/keys/k-eff', ana.apiKey)).body.usage, ['decrypt']);
  assert.equal((await call('PATCH', '/keys/k-eff', ana.apiKey, { usage: ['encrypt', 'decrypt'] })).status, 200, 'widening runs at once');
  await clear('key.disable');
});

test('with a keystore.disable rule, narrowing the Regions or lowering the quota waits for approval', async () => {
  await rule('keystore.disable', { required: 1 });
  const narrowing: [string, string, string, Body][] = [
    ['a region KMS never signs with', 'PUT', '/keystores/shop/regions', { regions: ['ap-south-2'] }],
    ['one region fewer', 'PUT', '/keystores/shop/regions', { regions: ['us-east-1'] }],
    ['a first quota of 1 req/s', 'PUT', '/keystores/shop/quota', { rps: 1 }],
  ];
  for (const [what, method, path, body] of narrowing) {
    const r = await call<{ pendingApproval: Body }>(method, path, ana.apiKey, body);
    assert.equal(r.status, 202, `${what}: ${r.text}`);
    assert.equal(r.body.pendingApproval.rule, 'keystore.disable', what);
    await call('POST', `/approvals/${String(r.body.pendingApproval.id)}/cancel`, ana.apiKey);
  }
  const ks = (await call<Body>('GET', '/keystores/shop', ana.apiKey)).body;
  assert.deepEqual(ks.regions, ['eu-west-1', 'us-east-1']);
  assert.equal(ks.quota ?? null, null);
  assert.equal((await call('PUT', '/keystores/shop/regions', ana.apiKey, { regions: ['eu-west-1', 'us-east-1', 'us-west-2'] })).status, 200, 'adding a Region runs at once');
  // Approve a quota, then: raising it runs at once, lowering it waits.
  const q = await call<{ pendingApproval: Body }>('PUT', '/keystores/shop/quota', ana.apiKey, { rps: 500 });
  assert.equal((await call<Body>('POST', `/approvals/${String(q.body.pendingApproval.id)}/approve`, ben.apiKey)).body.status, 'executed');
  assert.equal((await call('PUT', '/keystores/shop/quota', ana.apiKey, { rps: 1000 })).status, 200);
  assert.equal((await call('PUT', '/keystores/shop/quota', ana.apiKey, { rps: 1000, burst: 10 })).status, 202, 'a lower burst throttles too');
  assert.equal((await call('DELETE', '/keystores/shop/quota', ana.apiKey)).status, 200, 'removing the quota runs at once');
  await clear('keystore.disable');
});

test('an approval acts on the object it was filed for, not on a new one with the same name', async () => {
  // A key store deleted and created again.
  assert.equal((await call('POST', '/keystores', ana.apiKey, { name: 'tmp', prefix: '/tmp' })).status, 200);
  await rule('keystore.disable', { required: 1 });
  const old = await call<{ pendingApproval: Body }>('POST', '/keystores/tmp/disable', ana.apiKey);
  assert.equal(old.status, 202);
  assert.ok(typeof (old.body.pendingApproval.params as Body).keyStoreId === 'string', 'the request names the store by id');
  assert.equal((await call('DELETE', '/keystores/tmp', ana.apiKey)).status, 200);
  assert.equal((await call('POST', '/keystores', ana.apiKey, { name: 'tmp', prefix: '/tmp2' })).status, 200);
  const r = await call<Body>('POST', `/approvals/${String(old.body.pendingApproval.id)}/approve`, ben.apiKey);
  assert.equal(r.body.status, 'failed', r.text);
  assert.equal((r.body.error as Body).error, 'Conflict');
  assert.match(String((r.body.error as Body).message), /deleted and created again/);
  assert.equal((await call<Body>('GET', '/keystores/tmp', ana.apiKey)).body.enabled, true, 'the new store keeps serving');
  await clear('keystore.disable');

  // A key destroyed and created again under the same id.
  await rule('key.disable', { required: 1, ttlMinutes: 43200 });
  assert.equal((await call('POST', '/keys', ana.apiKey, { keyId: 'k-bind', keyStore: 'shop' })).status, 200);
  const oldKey = await call<{ pendingApproval: Body }>('POST', '/keys/k-bind/disable', ana.apiKey);
  assert.equal(oldKey.status, 202);
  assert.equal((await call('POST', '/keys/k-bind/schedule-deletion', ana.apiKey, { pendingWindowInDays: 7 })).status, 200);
  h.clock.advance(8 * DAY);
  await h.running.scheduler.runOnce();
  assert.equal((await call('GET', '/keys/k-bind', ana.apiKey)).status, 404, 'destroyed');
  assert.equal((await call('POST', '/keys', ana.apiKey, { keyId: 'k-bind', keyStore: 'shop' })).status, 200);
  const rk = await call<Body>('POST', `/approvals/${String(oldKey.body.pendingApproval.id)}/approve`, ben.apiKey);
  assert.equal(rk.body.status, 'failed', rk.text);
  assert.equal((rk.body.error as Body).error, 'Conflict');
  assert.equal((await call<Body>('GET', '/keys/k-bind', ana.apiKey)).body.state, 'Enabled', 'the new key keeps serving');
  await clear('key.disable');
});

test('with a 2-approval tls.change rule, installing or removing the XKS certificate waits for two votes; the waiting request keeps the key sealed', async () => {
  const pair = await issueCertificate({ commonName: 'xks.example.com', dnsNames: ['xks.example.com'], kind: 'server' });
  await rule('tls.change', { required: 2 });
  const r = await call<{ pendingApproval: Body }>('PUT', '/tls', h.admin.token, { certificatePem: pair.certPem, privateKeyPem: pair.keyPem });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.body.pendingApproval.rule, 'tls.change');
  assert.equal(r.body.pendingApproval.action, 'tls.install');
  const id = String(r.body.pendingApproval.id);
  const listed = await call<Body>('GET', `/approvals/${id}`, ana.apiKey);
  assert.doesNotMatch(listed.text, /PRIVATE KEY/, 'the request shows no private key');
  assert.ok(!listed.text.includes(pair.keyPem.split('\n')[1]!), 'nor its base64');
  assert.deepEqual((await call<Body>('GET', '/tls', ana.apiKey)).body, { installed: null }, 'nothing is installed while the request waits');
  // A pair that could never install is refused at once, not filed.
  const other = await issueCertificate({ commonName: 'other', kind: 'server' });
  assert.equal((await call('PUT', '/tls', h.admin.token, { certificatePem: pair.certPem, privateKeyPem: other.keyPem })).status, 400);
  assert.equal((await call<Body>('POST', `/approvals/${id}/approve`, ana.apiKey)).body.status, 'pending', 'one vote of two');
  assert.deepEqual((await call<Body>('GET', '/tls', ana.apiKey)).body, { installed: null });
  const done = await call<Body>('POST', `/approvals/${id}/approve`, ben.apiKey);
  assert.equal(done.body.status, 'executed', done.text);
  const installed = await call<{ installed: { fingerprint256: string } | null }>('GET', '/tls', ana.apiKey);
  assert.equal(installed.body.installed?.fingerprint256, new X509Certificate(pair.certPem).fingerprint256);
  // Removing it (every node back to its files) falls under the same rule.
  const rm = await call<{ pendingApproval: Body }>('DELETE', '/tls', h.admin.token);
  assert.equal(rm.status, 202, rm.text);
  assert.equal(rm.body.pendingApproval.action, 'tls.remove');
  assert.equal((await call('POST', `/approvals/${String(rm.body.pendingApproval.id)}/cancel`, h.admin.token)).status, 200);
  assert.ok((await call<{ installed: unknown }>('GET', '/tls', ana.apiKey)).body.installed, 'still installed after the cancel');
  await clear('tls.change');
  assert.equal((await call('DELETE', '/tls', h.admin.token)).status, 200, 'without the rule it runs at once');
});

test('with an audit.archive rule, archiving the audit log waits for a custodian; nothing is archived until approved', async () => {
  h.clock.advance(1000);
  const before = new Date(h.clock.now()).toISOString();
  const segments = async () => (await call<Body[]>('GET', '/audit/segments', h.admin.token)).body;
  const live = async () => (await h.running.audit.service.verify()).count;
  assert.deepEqual(await segments(), []);
  await rule('audit.archive', { required: 1 });
  const count = await live();
  // A request that could never run is refused at once, not filed.
  assert.equal((await call('POST', '/audit/archive', h.admin.token, { before: new Date(h.clock.now() + DAY).toISOString() })).status, 400);
  const r = await call<{ pendingApproval: Body }>('POST', '/audit/archive', h.admin.token, { before });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.body.pendingApproval.rule, 'audit.archive');
  assert.equal(r.body.pendingApproval.action, 'audit.archive');
  assert.deepEqual(r.body.pendingApproval.params, { before });
  assert.deepEqual(await segments(), [], 'no segment while the request waits');
  assert.ok((await live()) >= count, 'no record left the log');
  const done = await call<Body>('POST', `/approvals/${String(r.body.pendingApproval.id)}/approve`, ana.apiKey);
  assert.equal(done.body.status, 'executed', done.text);
  const result = done.body.result as { file: string; removed: number; before: string };
  assert.equal(result.before, before);
  assert.ok(result.removed > 0);
  assert.deepEqual((await segments()).map((s) => s.name), [result.file]);
  assert.ok((await live()) < count, 'the approved archive removed the records');
  assert.equal((await h.running.audit.service.verify()).ok, true);
  await clear('audit.archive');
});
