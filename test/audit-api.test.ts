import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminClient } from './support/admin-harness.js';
import { runCli, startKeyhold, type KeyholdHarness } from './support/keyhold-harness.js';
import { demoXksClient } from './support/xks-client.js';

/**
 * The audit log behind a real `keyhold start`: admin API actions land in the hash chain
 * (the server's default wiring), auditors verify and page through it, custodians and
 * auditors see key usage, and the CLI does all of it through --server.
 */
let h: KeyholdHarness;
let api: ReturnType<typeof adminClient>;
const users: Record<'admin' | 'custodian' | 'auditor', { username: string; password: string; token: string }> = {} as never;
type Body = Record<string, unknown>;

const call = <T = Body>(method: string, path: string, token: string | undefined, body?: unknown) => api.call<T>(method, `/api/v1${path}`, { token, ...(body !== undefined ? { body } : {}) });

async function signIn(username: string, oneTimePassword: string): Promise<{ username: string; password: string; token: string }> {
  const first = await call('POST', '/auth/login', undefined, { username, password: oneTimePassword });
  assert.equal(first.status, 200, first.text);
  const password = `Audit-Trail-${Math.random().toString(36).slice(2)}-Horse`;
  const changed = await call('POST', '/auth/password', String(first.body.token), { currentPassword: oneTimePassword, newPassword: password });
  assert.equal(changed.status, 200, changed.text);
  return { username, password, token: String(first.body.token) };
}

before(async () => {
  h = await startKeyhold();
  api = adminClient(h.adminUrl, h.caPem);
  users.admin = await signIn(h.admin.username, h.admin.oneTimePassword);
  for (const role of ['custodian', 'auditor'] as const) {
    const r = await call('POST', '/users', users.admin.token, { username: `${role}-1`, role });
    assert.equal(r.status, 200, r.text);
    users[role] = await signIn(`${role}-1`, String(r.body.oneTimePassword));
  }
});

after(async () => {
  api?.close();
  await h?.dispose();
});

interface Page {
  records: Body[];
  next: number | null;
  nextChain: string | null;
}

async function allRecords(token: string, query = ''): Promise<Body[]> {
  const out: Body[] = [];
  let after = 0;
  let chain = 'main';
  for (;;) {
    const p = await call<Page>('GET', `/audit/records?limit=7&chain=${chain}&after=${after}${query}`, token);
    assert.equal(p.status, 200, p.text);
    out.push(...p.body.records);
    if (p.body.next === null) return out;
    after = p.body.next;
    chain = p.body.nextChain ?? chain;
  }
}

test('admin API actions are in the audit log, with who, from where and the outcome, never a password', async () => {
  const created = await call('POST', '/keys', users.custodian.token, { keyId: 'api-key-1', keyStore: 'demo', description: 'made over the API' });
  assert.equal(created.status, 200, created.text);
  const refused = await call('POST', '/keys', users.auditor.token, { keyId: 'api-key-2', keyStore: 'demo' });
  assert.equal(refused.status, 403);
  const badLogin = await call('POST', '/auth/login', undefined, { username: users.custodian.username, password: 'wrong-password-for-the-record' });
  assert.equal(badLogin.status, 401);

  const records = await allRecords(users.auditor.token);
  const create = records.find((r) => r.action === 'keys.create' && r.target === 'api-key-1' && r.source === 'api')!;
  assert.ok(create, 'the custodian’s key creation is recorded');
  assert.equal(create.actor, users.custodian.username);
  assert.equal(create.outcome, 'ok');
  assert.equal(create.keyId, 'api-key-1');
  assert.match(String(create.address), /127\.0\.0\.1/);
  assert.equal((create.change as Body).description, 'made over the API');
  const denied = records.find((r) => r.action === 'keys.create' && r.actor === users.auditor.username)!;
  assert.equal(denied.outcome, 'error');
  assert.equal(denied.errorName, 'AccessDenied');
  const login = records.find((r) => r.action === 'auth.login' && r.outcome === 'error')!;
  assert.ok(login, 'a failed login is recorded');
  const text = JSON.stringify(records);
  for (const secret of [users.admin.password, users.custodian.password, users.auditor.password, h.admin.oneTimePassword, 'wrong-password-for-the-record', users.custodian.token]) {
    assert.ok(!text.includes(secret), 'no password or token in the audit log');
  }
});

test('auditors verify the chain and page through records with filters; reading is recorded', async () => {
  const v = await call<{ ok: boolean; count: number }>('GET', '/audit/verify', users.auditor.token);
  assert.equal(v.status, 200);
  assert.equal(v.body.ok, true);
  assert.ok(v.body.count > 5);
  const byKey = await allRecords(users.auditor.token, '&keyId=api-key-1');
  assert.ok(byKey.length >= 1 && byKey.every((r) => r.keyId === 'api-key-1'));
  const seqs = (await allRecords(users.auditor.token)).map((r) => Number(r.seq));
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'oldest first');
  assert.equal(new Set(seqs).size, seqs.length, 'pages do not overlap');
  const future = await call<Page>('GET', '/audit/records?since=2999-01-01T00:00:00Z', users.auditor.token);
  assert.deepEqual(future.body, { records: [], next: null, nextChain: null });
  const cp = Buffer.from(JSON.stringify((await call<object>('GET', '/audit/checkpoint', users.auditor.token)).body)).toString('base64url');
  const verified = await call<{ ok: boolean; checkpoint?: { time: string } }>('GET', `/audit/verify?checkpoint=${cp}`, users.auditor.token);
  assert.equal(verified.status, 200, 'an auditor verifies against a checkpoint over the API');
  assert.equal(verified.body.ok, true);
  assert.ok(verified.body.checkpoint?.time);
  assert.equal((await call('GET', `/audit/verify?checkpoint=${Buffer.from('{"type":"nope"}').toString('base64url')}`, users.auditor.token)).status, 400, 'not a checkpoint');
  const bad = await call('GET', '/audit/records?since=someday', users.auditor.token);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error, 'ValidationFailed');
  for (const role of ['admin', 'custodian'] as const) assert.equal((await call('GET', '/audit/verify', users[role].token)).status, 403, `${role} may not read the audit log`);
  const reads = (await allRecords(users.auditor.token)).filter((r) => r.action === 'audit.records');
  assert.ok(reads.length > 0 && reads.every((r) => r.actor === users.auditor.username));
});

test('key usage over the API shows who used a key; unknown keys are 404', async () => {
  const c = demoXksClient(h);
  for (let i = 0; i < 3; i++) assert.equal((await c.encrypt('api-key-1', { plaintext: Buffer.from(`usage ${i}`) })).status, 200);
  c.close();
  for (const role of ['custodian', 'auditor'] as const) {
    const u = await call<{ calls: number; principals: { principal: string; calls: number }[] }>('GET', '/keys/api-key-1/usage', users[role].token);
    assert.equal(u.status, 200, u.text);
    assert.equal(u.body.calls, 3);
    assert.deepEqual(u.body.principals.map((p) => [p.principal, p.calls]), [['arn:aws:iam::111122223333:role/App', 3]]);
  }
  assert.equal((await call('GET', '/keys/api-key-1/usage', users.admin.token)).status, 403, 'administrators have no key operations');
  assert.equal((await call('GET', '/keys/no-such-key/usage', users.auditor.token)).status, 404);
});

test('the CLI reads the audit log through --server as the signed-in auditor', async () => {
  const env = { KEYHOLD_TOKEN: users.auditor.token };
  const v = await h.cli(['--server', h.adminUrl, 'audit', 'verify'], { env });
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /^Audit log OK: \d+ record\(s\) verified\.$/m);
  const e = await h.cli(['--server', h.adminUrl, 'audit', 'export', '--key', 'api-key-1'], { env });
  assert.equal(e.code, 0, e.stderr);
  const lines = e.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Body);
  assert.ok(lines.some((l) => l.action === 'keys.create'));
  assert.ok(lines.some((l) => l.kind === 'xks' && l.operation === 'encrypt'));
  const u = await h.cli(['--server', h.adminUrl, '--json', 'key', 'usage', 'api-key-1'], { env });
  assert.equal(u.code, 0, u.stderr);
  assert.equal((JSON.parse(u.stdout) as { calls: number }).calls, 3);
  const cpFile = join(h.dataDir, 'remote-checkpoint.json');
  const cp = await h.cli(['--server', h.adminUrl, 'audit', 'checkpoint', '--output', cpFile], { env });
  assert.equal(cp.code, 0, cp.stderr);
  const vc = await h.cli(['--server', h.adminUrl, 'audit', 'verify', '--checkpoint', cpFile], { env });
  assert.equal(vc.code, 0, vc.stdout + vc.stderr);
  assert.match(vc.stdout, /Everything up to the checkpoint/);
  const custodian = await h.cli(['--server', h.adminUrl, 'audit', 'verify'], { env: { KEYHOLD_TOKEN: users.custodian.token } });
  assert.notEqual(custodian.code, 0);
  assert.match(custodian.stderr, /the custodian role may not call/);
});

test('through --server an administrator archives into the server\'s archive_dir and downloads the segment; it verifies offline, so does the rest of the log; segments list; usage rebuilds; an audit.archive rule makes it wait', async () => {
  const admin = { env: { KEYHOLD_TOKEN: users.admin.token } };
  const auditor = { env: { KEYHOLD_TOKEN: users.auditor.token } };
  const server = ['--server', h.adminUrl];
  const elsewhere = mkdtempSync(join(tmpdir(), 'keyhold-segment-'));
  try {
    const file = join(elsewhere, 'archived.jsonl');
    const a = await h.cli([...server, '--json', 'audit', 'archive', '--before', new Date().toISOString(), '--to', file], admin);
    assert.equal(a.code, 0, a.stderr);
    const r = JSON.parse(a.stdout) as { file: string; removed: number; downloaded: { file: string; bytes: number } };
    assert.ok(r.removed > 0);
    assert.equal(r.downloaded.file, file);
    const onServer = join(h.dataDir, 'audit-archive', r.file);
    assert.ok(readFileSync(file).equals(readFileSync(onServer)), 'the download is the server\'s segment, byte for byte');

    // Offline: no data directory, no server.
    const offline = await runCli(['audit', 'verify', '--segment', file], { cwd: elsewhere });
    assert.equal(offline.code, 0, offline.stdout + offline.stderr);
    assert.match(offline.stdout, new RegExp(`^Audit segment OK: ${r.removed} record\\(s\\) verified`, 'm'));
    const rest = await h.cli([...server, 'audit', 'verify'], auditor);
    assert.equal(rest.code, 0, rest.stdout + rest.stderr);
    assert.match(rest.stdout, /^Audit log OK/m);

    const listed = await h.cli([...server, '--json', 'audit', 'segments'], auditor);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual((JSON.parse(listed.stdout) as { name: string; records: number }[]).map((x) => [x.name, x.records]), [[r.file, r.removed]]);
    const local = await h.cli(['audit', 'segments'], {});
    assert.equal(local.code, 0, local.stderr);
    assert.match(local.stdout, new RegExp(r.file.replace(/[.]/g, '\\.')), 'the data directory lists the same archive_dir');

    const copy = join(elsewhere, 'copy.jsonl');
    const dl = await h.cli([...server, 'audit', 'download-segment', r.file, '--to', copy], auditor);
    assert.equal(dl.code, 0, dl.stderr);
    assert.ok(readFileSync(copy).equals(readFileSync(onServer)));
    const sneaky = join(elsewhere, 'sneaky');
    const traversal = await h.cli([...server, 'audit', 'download-segment', '../keyhold.toml', '--to', sneaky], auditor);
    assert.notEqual(traversal.code, 0);
    assert.match(traversal.stderr, /segment file name|not a segment name/);
    assert.ok(!existsSync(sneaky), 'nothing written');
    const taken = await h.cli([...server, 'audit', 'archive', '--before', new Date().toISOString(), '--to', copy], admin);
    assert.notEqual(taken.code, 0);
    assert.match(taken.stderr, /already exists; nothing was archived/);

    const rebuilt = await h.cli([...server, 'audit', 'rebuild-usage'], admin);
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    assert.match(rebuilt.stdout, /^Rebuilt \d+ key usage row\(s\) in \d+ chain\(s\)/m);
    const denied = await h.cli([...server, 'audit', 'rebuild-usage'], auditor);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /the auditor role may not call/);

    // Every step is in the log, as its caller (before the next archive moves these records to a segment).
    const records = await allRecords(users.auditor.token);
    const archives = records.filter((x) => x.action === 'audit.archive' && x.outcome === 'ok');
    assert.ok(archives.some((x) => x.actor === users.admin.username && (x.change as Body).file === r.file), 'the archive is recorded with its segment');
    assert.ok(records.some((x) => x.action === 'audit.segment' && x.actor === users.auditor.username));
    assert.ok(records.some((x) => x.action === 'audit.rebuild-usage' && x.outcome === 'ok'));

    // Behind an audit.archive rule: exit code 4, nothing archived until a custodian approves.
    assert.equal((await call('PUT', '/settings/approval-rules/audit.archive', users.admin.token, { required: 1 })).status, 200);
    const waiting = await h.cli([...server, 'audit', 'archive', '--before', new Date().toISOString()], admin);
    assert.equal(waiting.code, 4, waiting.stdout + waiting.stderr);
    assert.match(waiting.stderr, /waiting for approval/);
    const id = /request ([0-9a-f-]{36})/.exec(waiting.stderr)![1]!;
    assert.equal((JSON.parse((await h.cli([...server, '--json', 'audit', 'segments'], auditor)).stdout) as unknown[]).length, 1, 'nothing archived yet');
    const approved = await h.cli([...server, 'approval', 'approve', id], { env: { KEYHOLD_TOKEN: users.custodian.token } });
    assert.equal(approved.code, 0, approved.stdout + approved.stderr);
    const after = JSON.parse((await h.cli([...server, '--json', 'audit', 'segments'], auditor)).stdout) as { name: string }[];
    assert.equal(after.length, 2, 'the approved archive wrote its segment');
    assert.equal((await h.cli([...server, 'audit', 'verify'], auditor)).code, 0);
    assert.equal((await call('DELETE', '/settings/approval-rules/audit.archive', users.admin.token)).status, 200);

  } finally {
    rmSync(elsewhere, { recursive: true, force: true });
  }
});
