import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setConfigValues, startKeyhold, type CliResult, type KeyholdHarness } from './support/keyhold-harness.js';

/**
 * The CLI against a running server (`keyhold start` in a child process) through the admin
 * API: --server, tokens from --token-file or KEYHOLD_TOKEN, the same commands as on the
 * local database, approvals (exit code 4), and the local break-glass password reset.
 */
let h: KeyholdHarness;
let dir: string;
const passwords = new Map<string, string>();
type Body = Record<string, unknown>;

before(async () => {
  // The lowest scrypt cost keeps the many CLI logins fast; the default is tested elsewhere.
  h = await startKeyhold({ beforeStart: (d) => setConfigValues(d, 'admin', { password_hash_cost: 14 }) });
  dir = mkdtempSync(join(tmpdir(), 'keyhold-cli-'));
});

after(async () => {
  await h?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const tokenFile = (who: string) => join(dir, `${who}.token`);

/** keyhold --server URL --token-file <who> ... */
function as(who: string, args: string[], input?: string, env?: Record<string, string>): Promise<CliResult> {
  return h.cli(['--server', h.adminUrl, '--token-file', tokenFile(who), ...args], { ...(input !== undefined ? { input } : {}), ...(env ? { env } : {}) });
}

async function json<T = Body>(who: string, args: string[]): Promise<T> {
  const r = await as(who, ['--json', ...args]);
  assert.equal(r.code, 0, `keyhold ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** login with a one-time password, then replace it: the way every new admin starts. */
async function onboard(who: string, oneTimePassword: string): Promise<string> {
  const login = await as(who, ['login', '--username', who], oneTimePassword + '\n');
  assert.equal(login.code, 0, login.stderr);
  assert.match(login.stdout, /Replace your one-time password/);
  assert.equal(statSync(tokenFile(who)).mode & 0o777, 0o600, 'the token file is private');
  const password = `a-long-passphrase-${Math.random().toString(36).slice(2)}`;
  passwords.set(who, password);
  const pw = await as(who, ['password'], `${oneTimePassword}\n${password}\n`);
  assert.equal(pw.code, 0, pw.stderr);
  return password;
}

test('the bootstrap administrator logs in, replaces the one-time password and adds users', async () => {
  await onboard('admin', h.admin.oneTimePassword);
  const me = await json<{ user: Body; via: string }>('admin', ['whoami']);
  assert.equal(me.user.role, 'administrator');
  const added: [string, string][] = [];
  for (const [name, role] of [['alice', 'custodian'], ['bob', 'custodian'], ['ivy', 'auditor']] as const) {
    const r = await json<{ user: Body; oneTimePassword: string }>('admin', ['admin', 'user', 'add', name, '--role', role]);
    assert.equal(r.user.role, role);
    added.push([name, r.oneTimePassword]);
  }
  await Promise.all(added.map(([name, otp]) => onboard(name, otp)));
  const list = await json<Body[]>('admin', ['admin', 'user', 'list']);
  assert.deepEqual(list.map((u) => u.username), ['admin', 'alice', 'bob', 'ivy']);
  assert.ok(list.every((u) => u.mustChangePassword === false));
});

test('key management commands work through the API with the caller’s role', async () => {
  const created = await json('alice', ['key', 'create', 'cli-key', '--keystore', 'demo', '--description', 'from the CLI', '--tag', 'team=core', '--rotation-days', '90']);
  assert.equal(created.keyId, 'cli-key');
  assert.equal(created.description, 'from the CLI');
  assert.deepEqual(created.tags, { team: 'core' });
  assert.equal(created.rotationPeriodDays, 90);
  const list = await json<Body[]>('ivy', ['key', 'list', '--keystore', 'demo']);
  assert.deepEqual(list.map((k) => k.keyId).sort(), ['cli-key', 'demo-key']);
  const show = await json<{ versions: Body[] }>('ivy', ['key', 'show', 'cli-key']);
  assert.equal(show.versions.length, 1);
  assert.equal((await json('alice', ['key', 'update', 'cli-key', '--no-rotation'])).rotationPeriodDays, null);
  assert.equal((await json('alice', ['key', 'rotate', 'cli-key'])).currentVersion, 2);
  assert.equal((await json('alice', ['key', 'delete-version', 'cli-key', '1'])).currentVersion, 2);
  assert.equal((await json('alice', ['key', 'disable', 'cli-key'])).enabled, false);
  const stores = await json<Body[]>('ivy', ['keystore', 'list']);
  assert.deepEqual(stores.map((s) => s.name), ['demo']);
  const shown = await json<{ credentials: Body[]; keys: Body[] }>('ivy', ['keystore', 'show', 'demo']);
  assert.equal(shown.credentials.length, 1);

  const denied = await as('ivy', ['key', 'rotate', 'cli-key']);
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /the auditor role may not call POST \/api\/v1\/keys\/\{keyId\}\/rotate|the auditor role may not call POST/);
  const admin = await as('admin', ['key', 'list']);
  assert.equal(admin.code, 1);
  assert.match(admin.stderr, /administrator role may not call/);
  const missing = await as('alice', ['key', 'show', 'no-such-key']);
  assert.equal(missing.code, 3);
});

test('a guarded action waits for approval (exit code 4) and runs when another custodian approves', async () => {
  const rule = await json('admin', ['approval', 'rule', 'set', 'key.schedule-deletion', '--required', '1']);
  assert.equal(rule.required, 1);
  const r = await as('alice', ['--json', 'key', 'schedule-deletion', 'cli-key', '--days', '7']);
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /waiting for approval/);
  const id = String((JSON.parse(r.stdout) as { pendingApproval: Body }).pendingApproval.id);
  const pending = await json<Body[]>('bob', ['approval', 'list', '--status', 'pending']);
  assert.ok(pending.some((p) => p.id === id));
  const self = await as('alice', ['approval', 'approve', id]);
  assert.equal(self.code, 1);
  assert.match(self.stderr, /another custodian must decide it/);
  const done = await json('bob', ['approval', 'approve', id, '--comment', 'decommissioned']);
  assert.equal(done.status, 'executed');
  assert.equal((await json('ivy', ['key', 'show', 'cli-key'])).state, 'PendingDeletion');
  assert.equal((await json('alice', ['key', 'cancel-deletion', 'cli-key'])).state, 'Disabled');
  const rules = await json<Body[]>('ivy', ['approval', 'rule', 'list']);
  assert.deepEqual(rules.map((x) => x.action), ['key.schedule-deletion']);
  await json('admin', ['approval', 'rule', 'clear', 'key.schedule-deletion']);
});

test('keystore aws-config through the server: administrators only, and behind approval when a rule says so', async () => {
  const custodian = await as('alice', ['keystore', 'aws-config', 'demo']);
  assert.equal(custodian.code, 1);
  assert.match(custodian.stderr, /the custodian role may not call POST/);
  const direct = await json<{ XksProxyUriPath: string }>('admin', ['keystore', 'aws-config', 'demo']);
  assert.equal(direct.XksProxyUriPath, '/demo/kms/xks/v1');

  await json('admin', ['approval', 'rule', 'set', 'keystore.aws-config', '--required', '1']);
  const waiting = await as('admin', ['--json', 'keystore', 'aws-config', 'demo']);
  assert.equal(waiting.code, 4, waiting.stderr);
  const id = String((JSON.parse(waiting.stdout) as { pendingApproval: Body }).pendingApproval.id);
  assert.equal((await json('bob', ['approval', 'approve', id])).status, 'executed');
  const file = await json<{ XksProxyUriPath: string; XksProxyAuthenticationCredential: Body }>('admin', ['approval', 'collect', id]);
  assert.equal(file.XksProxyUriPath, '/demo/kms/xks/v1');
  assert.ok(file.XksProxyAuthenticationCredential.RawSecretAccessKey);
  await json('admin', ['approval', 'rule', 'clear', 'keystore.aws-config']);
});

test('admin user add behind a user.create rule: custodians approve, the administrator collects the password', async () => {
  await json('admin', ['approval', 'rule', 'set', 'user.create', '--required', '1']);
  const waiting = await as('admin', ['--json', 'admin', 'user', 'add', 'zoe', '--role', 'auditor']);
  assert.equal(waiting.code, 4, waiting.stderr);
  const id = String((JSON.parse(waiting.stdout) as { pendingApproval: Body }).pendingApproval.id);
  assert.equal((await json('alice', ['approval', 'approve', id])).status, 'executed');
  const issued = await json<{ user: Body; oneTimePassword: string }>('admin', ['approval', 'collect', id]);
  assert.equal(issued.user.username, 'zoe');
  assert.ok(issued.oneTimePassword.length >= 12);
  await json('admin', ['approval', 'rule', 'clear', 'user.create']);
});

test('tokens come from KEYHOLD_TOKEN too, API keys work for automation, and logout ends a session', async () => {
  const created = await json<{ apiKey: string }>('alice', ['admin', 'api-key', 'create', 'pipeline']);
  const viaEnv = await h.cli(['--server', h.adminUrl, '--json', 'whoami'], { env: { KEYHOLD_TOKEN: created.apiKey } });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  assert.equal((JSON.parse(viaEnv.stdout) as { via: string }).via, 'api-key');
  const keys = await json<Body[]>('alice', ['admin', 'api-key', 'list']);
  assert.equal(keys.length, 1);
  const none = await h.cli(['--server', h.adminUrl, 'whoami'], { env: { KEYHOLD_TOKEN: '' } });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no token/);
  assert.equal((await as('ivy', ['logout'])).code, 0);
  const after = await as('ivy', ['whoami']);
  assert.equal(after.code, 1);
  assert.match(after.stderr, /HTTP 401/);
  assert.ok(!readFileSync(tokenFile('alice'), 'utf8').includes(created.apiKey));
});

test('break-glass: admin reset-password works on the local database while the server runs', async () => {
  await json('admin', ['admin', 'user', 'disable', 'bob']);
  // Without --server: the operator with the data directory and seal resets the password.
  const r = await h.cli(['--json', 'admin', 'reset-password', 'bob', '--enable']);
  assert.equal(r.code, 0, r.stderr);
  const otp = String((JSON.parse(r.stdout) as { oneTimePassword: string }).oneTimePassword);
  await onboard('bob', otp);
  assert.equal((await json<{ user: Body }>('bob', ['whoami'])).user.username, 'bob');
  // Local mode cannot decide approvals: there is nobody signed in.
  const local = await h.cli(['approval', 'approve', 'whatever']);
  assert.equal(local.code, 1);
  assert.match(local.stderr, /needs a signed-in admin/);
});

test('the server printed no password, token or secret', () => {
  const out = h.output();
  assert.ok(!out.includes(h.admin.oneTimePassword));
  for (const who of ['admin', 'alice', 'bob']) {
    const token = readFileSync(tokenFile(who), 'utf8').trim();
    assert.ok(!out.includes(token), `${who}'s token`);
    assert.ok(!out.includes(passwords.get(who)!), `${who}'s password`);
  }
  assert.ok(!out.includes(h.demo!.credential.secretAccessKey));
});
