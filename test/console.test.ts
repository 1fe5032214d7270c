import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  axeViolations,
  browserMissing,
  collectProblems,
  consoleContext,
  launchChromium,
  signIn,
  startConsoleHarness,
  type ConsoleHarness,
  type ConsoleUser,
} from './support/console-harness.js';
import { xksClient } from './support/xks-client.js';
import { startMotoWith } from './support/aws-fixtures.js';
import { ACCOUNT, ALICE, startSimulator } from './kms-sim-support.js';

/**
 * The web console in a real browser (Debian's chromium through playwright-core) against a
 * real Keyhold: sign-in, key stores, keys, approvals, the audit log, roles, CSRF, CSP and
 * accessibility (axe-core). Every state change is checked through the admin API as well.
 */
const missing = browserMissing();
const opts = missing ? { skip: missing } : {};

let h: ConsoleHarness;
let browser: Browser;
let custodian: ConsoleUser;
let custodian2: ConsoleUser;
let auditor: ConsoleUser;
let custodianKey: string;
const pages: Page[] = [];
const contexts: BrowserContext[] = [];
type Body = Record<string, unknown>;

before(async () => {
  if (missing) return;
  h = await startConsoleHarness({ demo: true });
  browser = await launchChromium();
  custodian = await h.user('custodian', 'ana');
  custodian2 = await h.user('custodian', 'ben');
  auditor = await h.user('auditor', 'audrey');
  custodianKey = await h.apiKeyOf(custodian);
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await h?.dispose();
});

const api = <T = Body>(method: string, path: string, token: string, body?: unknown) => h.api.call<T>(method, `/api/v1${path}`, { token, ...(body !== undefined ? { body } : {}) });

async function newPage(viewport?: { width: number; height: number }): Promise<Page> {
  const ctx = await consoleContext(browser, h, viewport);
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.setDefaultTimeout(30_000);
  (page as unknown as { problems: string[] }).problems = collectProblems(page);
  pages.push(page);
  return page;
}

/** What a page logged, less the browser's own line for the sign-in probe's 401 (GET /auth/whoami before signing in). */
function pageProblems(page: Page): string[] {
  return (page as unknown as { problems: string[] }).problems.filter((p) => !/Failed to load resource: the server responded with a status of 401/.test(p));
}

/** Removes the browser's line for an answer the test caused on purpose (a refused call), after checking it is there. */
function expectLogged(page: Page, status: number): void {
  const logged = (page as unknown as { problems: string[] }).problems;
  const line = `Failed to load resource: the server responded with a status of ${status}`;
  assert.ok(logged.some((p) => p.includes(line)), `the page logged the refused call (${status})`);
  logged.splice(0, logged.length, ...logged.filter((p) => !p.includes(line)));
}

async function assertAccessible(page: Page, what: string): Promise<void> {
  const v = await axeViolations(page);
  assert.deepEqual(v, [], `${what}: axe-core found serious or critical violations`);
}

test('the listener serves the console with a strict CSP, SPA fallback, and never shadows /api/v1 or /metrics', opts, async () => {
  const root = await h.api.call('GET', '/');
  assert.equal(root.status, 200);
  assert.match(String(root.headers['content-type']), /^text\/html/);
  const csp = String(root.headers['content-security-policy']);
  for (const d of ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"]) assert.ok(csp.includes(d), `CSP has ${d}: ${csp}`);
  assert.ok(!csp.includes('unsafe-inline') && !csp.includes('unsafe-eval'), csp);
  assert.equal(root.headers['x-frame-options'], 'DENY');
  assert.equal(root.headers['x-content-type-options'], 'nosniff');
  assert.equal(root.headers['cache-control'], 'no-store');
  assert.equal(root.headers['referrer-policy'], 'no-referrer');
  assert.ok(!/<script(?![^>]*\bsrc=)[^>]*>/i.test(root.text), 'no inline script in index.html');

  const script = /src="(\/assets\/[^"]+\.js)"/.exec(root.text)?.[1];
  const style = /href="(\/assets\/[^"]+\.css)"/.exec(root.text)?.[1];
  assert.ok(script && style, root.text);
  const js = await h.api.call('GET', script);
  assert.equal(js.status, 200);
  assert.match(String(js.headers['content-type']), /^text\/javascript/);
  assert.match(String((await h.api.call('GET', style)).headers['content-type']), /^text\/css/);

  const deep = await h.api.call('GET', '/keys/some-key?x=1');
  assert.equal(deep.status, 200, 'a client route gets the page');
  assert.equal(deep.text, root.text);
  assert.equal((await h.api.call('GET', '/assets/missing.js')).status, 404, 'a missing file is not the page');

  const unknownApi = await h.api.call('GET', '/api/v1/nothing-here');
  assert.equal(unknownApi.status, 404);
  assert.equal(unknownApi.body.error, 'NotFound', 'the API keeps its JSON 404');
  assert.equal((await h.api.call('GET', '/api/v1/keys')).status, 401, 'the API still wants a session');
  const metrics = await h.api.call('GET', '/metrics');
  assert.equal(metrics.status, 401, 'the console never answers /metrics');
  assert.equal(metrics.body.error, 'AuthenticationFailed');
  assert.equal((await h.api.call('POST', '/')).body.error, 'NotFound', 'only GET reaches the console');
});

test('first sign-in with a one-time password forces a new password; wrong passwords and lockout are explained', opts, async () => {
  const u = await h.newUser('custodian', 'carol');
  const page = await newPage();
  await page.goto(h.url + '/');
  await assertAccessible(page, 'sign-in page');

  await page.getByLabel('Username').fill('carol');
  await page.getByLabel('Password', { exact: true }).fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Wrong username or password' }).waitFor();

  await page.getByLabel('Password', { exact: true }).fill(u.oneTimePassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
  await assertAccessible(page, 'forced password change');
  assert.equal(await page.getByRole('navigation', { name: 'Main' }).count(), 0, 'nothing else is reachable before the password is replaced');

  const chosen = 'A-much-better-passphrase-42';
  await page.getByLabel('One-time password').fill(u.oneTimePassword);
  await page.getByLabel('New password', { exact: true }).fill('short');
  await page.getByLabel('New password again').fill('short');
  await page.getByRole('button', { name: 'Set new password' }).click();
  await page.getByRole('alert').filter({ hasText: 'at least 12 characters' }).waitFor();
  await page.getByLabel('New password', { exact: true }).fill(chosen);
  await page.getByLabel('New password again').fill(chosen);
  await page.getByRole('button', { name: 'Set new password' }).click();
  await page.getByTestId('whoami').filter({ hasText: 'carol' }).waitFor();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();

  const login = await h.api.call('POST', '/api/v1/auth/login', { body: { username: 'carol', password: chosen } });
  assert.equal(login.status, 200, 'the new password works');
  assert.equal((login.body.user as Body).mustChangePassword, false);

  // Lockout: five failures, then even the right password is refused with a lockout message.
  const locked = await h.user('auditor', 'lou');
  const p2 = await newPage();
  await p2.goto(h.url + '/');
  await p2.getByLabel('Username').fill('lou');
  for (let i = 0; i < 5; i++) {
    await p2.getByLabel('Password', { exact: true }).fill(`wrong-${i}`);
    await p2.getByRole('button', { name: 'Sign in' }).click();
    await p2.getByRole('button', { name: 'Sign in' }).waitFor({ state: 'visible' });
    await p2.getByRole('alert').waitFor();
  }
  await p2.getByLabel('Password', { exact: true }).fill(locked.password);
  await p2.getByRole('button', { name: 'Sign in' }).click();
  await p2.getByRole('alert').filter({ hasText: 'locked' }).waitFor();
  assert.equal(await p2.getByTestId('whoami').count(), 0);
  expectLogged(p2, 429);
  assert.deepEqual(pageProblems(p2), []);
  assert.deepEqual(pageProblems(page), []);
});

let storeName = '';
let storeUri = '';

test('a custodian creates a key store and sees its credential once; the proxy configuration file downloads as JSON that works', opts, async () => {
  const page = await newPage();
  await signIn(page, h, custodian);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /Key stores/ }).click();
  await page.getByRole('heading', { name: 'Key stores', level: 1 }).waitFor();
  await assertAccessible(page, 'key stores page');

  storeName = 'payments';
  await page.getByLabel('Name', { exact: true }).fill('bad name!');
  await page.getByText('A name has 1–64 characters').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Create key store' }).isDisabled(), true);
  await page.getByLabel('Name', { exact: true }).fill(storeName);
  await page.getByLabel('URI path prefix (optional)').fill('/pay');
  await page.getByRole('button', { name: 'Create key store' }).click();
  await page.getByRole('heading', { name: 'Key store created' }).waitFor();
  const secret = (await page.locator('[data-secret="true"]').textContent())!.trim();
  assert.ok(secret.length >= 20, 'the secret is on screen');
  await assertAccessible(page, 'key store created (secret shown once)');

  // The copy button puts the secret on the clipboard.
  await page.getByRole('button', { name: 'Copy' }).click();
  await page.getByText('Copied to the clipboard').waitFor();
  assert.equal(await page.evaluate<string>('navigator.clipboard.readText()'), secret);

  const created = (await api<Body>('GET', `/keystores/${storeName}`, custodianKey)).body;
  storeUri = String(created.uriPath);
  const creds = (await api<Body[]>('GET', `/keystores/${storeName}/credentials`, custodianKey)).body;
  assert.equal(creds.length, 1);
  const xks = xksClient({ url: h.xksUrl, caPem: h.caPem, uriPath: storeUri, credential: { accessKeyId: String(creds[0]!.accessKeyId), secretAccessKey: secret } });
  assert.equal((await xks.health()).status, 200, 'the shown secret signs XKS calls');
  xks.close();

  // Once: dismissed, it is gone, and no page or storage holds it.
  await page.getByRole('button', { name: 'I have saved it' }).click();
  assert.equal(await page.locator('[data-secret="true"]').count(), 0);
  await page.goto(h.url + `/keystores/${storeName}`);
  await page.getByRole('heading', { name: `Key store ${storeName}` }).waitFor();
  await page.getByRole('heading', { name: 'Credentials' }).waitFor();
  await page.getByText(String(creds[0]!.accessKeyId)).first().waitFor();
  assert.ok(!(await page.content()).includes(secret), 'the secret is not shown again');
  const stored = await page.evaluate<string>('JSON.stringify({ l: { ...localStorage }, s: { ...sessionStorage }, c: document.cookie })');
  assert.ok(!stored.includes(secret), 'no secret in web storage');
  assert.equal(stored, '{"l":{},"s":{},"c":""}', 'nothing in web storage, and the session cookie is HttpOnly');
  await assertAccessible(page, 'key store page');

  // The proxy configuration file holds a live secret: the key store page says an
  // administrator exports it, and an administrator does.
  await page.getByText('an administrator exports it').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Download proxy configuration file' }).count(), 0);
  const adminPage = await newPage();
  await signIn(adminPage, h, await h.user('administrator', h.init.admin.username));
  await adminPage.goto(h.url + '/admin/proxy-config');
  await adminPage.getByLabel('Key store name').fill(storeName);
  const [download] = await Promise.all([adminPage.waitForEvent('download'), adminPage.getByRole('button', { name: 'Download proxy configuration file' }).click()]);
  assert.equal(download.suggestedFilename(), `${storeName}-proxy-configuration.json`);
  const file = JSON.parse(readFileSync((await download.path())!, 'utf8')) as { XksProxyUriPath: string; XksProxyAuthenticationCredential: { AccessKeyId: string; RawSecretAccessKey: string } };
  assert.equal(file.XksProxyUriPath, storeUri);
  assert.equal(file.XksProxyAuthenticationCredential.AccessKeyId, creds[0]!.accessKeyId);
  const fromFile = xksClient({ url: h.xksUrl, caPem: h.caPem, uriPath: file.XksProxyUriPath, credential: { accessKeyId: file.XksProxyAuthenticationCredential.AccessKeyId, secretAccessKey: file.XksProxyAuthenticationCredential.RawSecretAccessKey } });
  assert.equal((await fromFile.health()).status, 200, 'the file lets KMS connect');
  fromFile.close();
  await assertAccessible(adminPage, 'proxy configuration file (administrator)');
  await adminPage.close();

  // Policy editor: validation before sending, then saved.
  const policy = page.getByLabel('Policy (JSON)');
  await policy.fill('{"default": "maybe", "rules": []}');
  await page.getByText('"default" must be "allow" or "deny".').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Save policy' }).isDisabled(), true);
  await policy.fill('{"default": "allow", "rules": [{"effect": "deny", "principals": ["arn:aws:iam::111122223333:role/Intruder"]}]}');
  await page.getByText('The policy is well formed.').waitFor();
  await page.getByRole('button', { name: 'Save policy' }).click();
  await page.getByText('Policy saved.').waitFor();
  const withPolicy = (await api<Body>('GET', `/keystores/${storeName}`, custodianKey)).body;
  assert.deepEqual((withPolicy.policy as Body).default, 'allow');

  // Quota.
  await page.getByLabel('Requests per second').fill('50');
  await page.getByRole('button', { name: 'Save quota' }).click();
  await page.getByText('Quota saved.').waitFor();
  assert.equal(((await api<Body>('GET', `/keystores/${storeName}`, custodianKey)).body.quota as Body).rps, 50);

  // A second credential, shown once, then revoked.
  await page.getByRole('button', { name: 'Add credential' }).click();
  await page.locator('[data-secret="true"]').waitFor();
  const live = (await api<Body[]>('GET', `/keystores/${storeName}/credentials`, custodianKey)).body.filter((c) => c.live);
  assert.equal(live.length, 2);
  await page.getByRole('button', { name: `Revoke ${String(live[0]!.accessKeyId)}` }).click();
  await page.getByText(`Revoked ${String(live[0]!.accessKeyId)}.`).waitFor();
  assert.equal((await api<Body[]>('GET', `/keystores/${storeName}/credentials`, custodianKey)).body.filter((c) => c.live).length, 1);
  assert.deepEqual(pageProblems(page), []);
});

test('a custodian creates, rotates and disables a key', opts, async () => {
  const page = await newPage();
  await signIn(page, h, custodian);
  await page.goto(h.url + '/keys');
  await page.getByRole('heading', { name: 'Keys', level: 1 }).waitFor();
  await page.getByLabel('Key id (the external key id in KMS)').fill('orders-key');
  await page.getByLabel('In key store').selectOption(storeName);
  await page.getByLabel('Rotate every N days (optional)').fill('90');
  await page.getByRole('button', { name: 'Create key' }).click();
  await page.getByText('Created key orders-key in payments.').waitFor();
  await page.getByRole('link', { name: 'orders-key' }).waitFor();
  await assertAccessible(page, 'keys page');

  // Filters.
  await page.getByLabel('State').selectOption('PendingDeletion');
  await page.getByText('No key matches these filters').waitFor();
  await page.getByLabel('State').selectOption('');
  await page.getByLabel('Key id, description or tag contains').fill('orders');
  await page.getByRole('link', { name: 'orders-key' }).click();
  await page.getByRole('heading', { name: 'Key orders-key' }).waitFor();
  await assertAccessible(page, 'key page');
  assert.equal((await page.getByTestId('current-version').textContent())?.trim(), '1');

  await page.getByRole('button', { name: 'Rotate now' }).click();
  await page.getByText('Rotated: version 2 now encrypts').waitFor();
  await page.getByTestId('current-version').filter({ hasText: '2' }).waitFor();

  // Tags and description.
  await page.getByLabel('Description', { exact: true }).fill('orders database');
  await page.getByLabel('Tags (one key=value a line)').fill('team=payments\nenv=prod');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await page.getByText('Saved.').waitFor();

  await page.getByRole('button', { name: 'Disable key' }).click();
  await page.getByText('Disabled: KMS gets InvalidStateException').waitFor();
  await page.getByRole('button', { name: 'Enable key' }).waitFor();

  const k = (await api<Body>('GET', '/keys/orders-key', custodianKey)).body;
  assert.equal(k.state, 'Disabled');
  assert.equal(k.currentVersion, 2);
  assert.equal(k.rotationPeriodDays, 90);
  assert.deepEqual(k.tags, { team: 'payments', env: 'prod' });
  assert.equal(k.description, 'orders database');
  assert.equal((k.versions as unknown[]).length, 2);
  await page.getByRole('button', { name: 'Enable key' }).click();
  await page.getByText('Enabled.').waitFor();
  assert.equal((await api<Body>('GET', '/keys/orders-key', custodianKey)).body.state, 'Enabled');
  assert.deepEqual(pageProblems(page), []);
});

test('a change under an approval rule says so and links to the request; a second custodian approves it with a reason', opts, async () => {
  const rule = await api('PUT', '/settings/approval-rules/key.schedule-deletion', h.adminToken, { required: 1 });
  assert.equal(rule.status, 200, rule.text);
  const page = await newPage();
  await signIn(page, h, custodian);
  await page.goto(h.url + '/keys/orders-key');
  await page.getByLabel('Waiting period before destruction (7–30 days)').fill('7');
  await page.getByRole('button', { name: 'Schedule deletion' }).click();
  const notice = page.getByRole('status').filter({ hasText: 'Needs approval.' });
  await notice.waitFor();
  const link = notice.getByRole('link');
  const id = (await link.textContent())!.trim();
  assert.equal((await api<Body>('GET', '/keys/orders-key', custodianKey)).body.state, 'Enabled', 'nothing happened yet');

  await link.click();
  await page.getByRole('heading', { name: 'Approval request', level: 1 }).waitFor();
  await page.getByText('You cannot approve your own request.').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Approve' }).count(), 0, 'the requester has no approve button');
  await assertAccessible(page, 'approval request (requester)');

  const other = await newPage();
  await signIn(other, h, custodian2);
  await other.getByRole('heading', { name: 'Waiting for my approval' }).waitFor();
  await other.getByRole('link', { name: /orders-key/ }).first().click();
  await other.getByRole('heading', { name: 'Your decision' }).waitFor();
  await assertAccessible(other, 'approval request (approver)');
  await other.getByLabel('Reason (recorded in the audit log)').fill('retired with the old orders system');
  await other.getByRole('button', { name: 'Approve' }).click();
  await other.getByText('Approved: the quorum is complete and the action ran.').waitFor();

  const req = (await api<Body>('GET', `/approvals/${id}`, custodianKey)).body;
  assert.equal(req.status, 'executed');
  assert.deepEqual(
    (req.votes as Body[]).map((v) => [v.username, v.decision, v.comment]),
    [['ben', 'approve', 'retired with the old orders system']],
  );
  assert.equal((await api<Body>('GET', '/keys/orders-key', custodianKey)).body.state, 'PendingDeletion');

  await other.goto(h.url + '/approvals');
  await other.getByRole('heading', { name: 'History' }).waitFor();
  await assertAccessible(other, 'approvals page');
  // Cancel the deletion from the console: the key comes back Disabled.
  await page.goto(h.url + '/keys/orders-key');
  await page.getByRole('button', { name: 'Cancel deletion' }).click();
  await page.getByText('Deletion cancelled').waitFor();
  assert.equal((await api<Body>('GET', '/keys/orders-key', custodianKey)).body.state, 'Disabled');
  assert.deepEqual(pageProblems(page), []);
  assert.deepEqual(pageProblems(other), []);
});

test('a new credential under an approval rule: approved by another custodian, collected once by the requester, and it works', opts, async () => {
  assert.equal((await api('PUT', '/settings/approval-rules/credential.add', h.adminToken, { required: 1 })).status, 200);
  try {
    const page = await newPage();
    await signIn(page, h, custodian);
    await page.goto(h.url + '/keystores/demo');
    await page.getByRole('button', { name: 'Add credential' }).click();
    const notice = page.getByRole('status').filter({ hasText: 'Needs approval.' });
    await notice.waitFor();
    const id = (await notice.getByRole('link').textContent())!.trim();
    assert.equal(await page.locator('[data-secret="true"]').count(), 0, 'no secret before approval');

    const other = await newPage();
    await signIn(other, h, custodian2);
    await other.goto(h.url + `/approvals/${id}`);
    await other.getByRole('button', { name: 'Approve' }).click();
    await other.getByText('Approved: the quorum is complete and the action ran.').waitFor();
    assert.equal(await other.getByRole('button', { name: 'Collect once' }).count(), 0, 'only the requester collects');

    await notice.getByRole('link').click();
    await page.getByRole('heading', { name: 'Collect the result' }).waitFor();
    await assertAccessible(page, 'collect a secret result');
    await page.getByRole('button', { name: 'Collect once' }).click();
    const secret = (await page.locator('[data-secret="true"]').textContent())!.trim();
    const accessKeyId = (await page.locator('.card code').filter({ hasText: /^[A-Z0-9]{16,}$/ }).last().textContent())!.trim();
    const xks = xksClient({ url: h.xksUrl, caPem: h.caPem, uriPath: h.init.demo!.uriPath, credential: { accessKeyId, secretAccessKey: secret } });
    assert.equal((await xks.health()).status, 200, 'the collected secret signs XKS calls');
    xks.close();

    await page.reload();
    await page.getByRole('heading', { name: 'Approval request', level: 1 }).waitFor();
    await page.getByText('executed').first().waitFor();
    assert.equal(await page.getByRole('button', { name: 'Collect once' }).count(), 0, 'collected once: not offered again');
    assert.ok(!(await page.content()).includes(secret));
    const again = await api('POST', `/approvals/${id}/collect`, custodianKey);
    assert.notEqual(again.status, 200, 'the API refuses a second collection');
    assert.deepEqual(pageProblems(page), []);
    assert.deepEqual(pageProblems(other), []);
  } finally {
    await api('DELETE', '/settings/approval-rules/credential.add', h.adminToken);
  }
});

test('AWS: a custodian adds a connection, tests it against moto and sees its status; the IAM policy is shown', opts, async () => {
  const moto = await startMotoWith({ MOTO_ACCOUNT_ID: '123456789012' });
  try {
    const page = await newPage();
    await signIn(page, h, custodian);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /^AWS connections/ }).click();
    await page.getByRole('heading', { name: 'AWS', level: 1 }).waitFor();
    await page.getByText('No AWS connection yet.').waitFor();
    await page.getByRole('heading', { name: 'IAM policy for a connection' }).waitFor();
    await page.getByText('"Statement"').waitFor();
    await assertAccessible(page, 'AWS page');

    const secret = 'motoSecretKey0123456789abcdefABCDEF/+xyz';
    await page.getByLabel('Name', { exact: true }).fill('moto');
    await page.getByLabel('Home Region').fill('eu-west-1');
    await page.getByLabel('Expected account id (optional)').fill('123456789012');
    await page.getByLabel('Access key id').fill('AKIAMOTOTEST00000001');
    await page.getByLabel('Secret access key').fill(secret);
    await page.getByText('Endpoints and CA bundle').click();
    await page.getByLabel('KMS endpoint URL (optional)').fill(moto.url);
    await page.getByLabel('STS endpoint URL (optional)').fill(moto.url);
    await page.getByRole('button', { name: 'Add connection' }).click();
    await page.getByText('Added moto.').waitFor();
    assert.equal(await page.getByLabel('Secret access key').inputValue(), '', 'the secret leaves the form');
    await page.getByRole('cell', { name: 'not tested yet' }).waitFor();

    await page.getByRole('button', { name: 'Test moto' }).click();
    await page.getByText('Connected in eu-west-1').waitFor({ timeout: 60_000 });
    await page.getByText('account 123456789012').waitFor();
    await assertAccessible(page, 'AWS page with a test result');
    assert.ok(!(await page.content()).includes(secret), 'the secret is never shown');

    const conns = (await api<Body[]>('GET', '/aws/connections', custodianKey)).body;
    assert.deepEqual(conns.map((c) => [c.name, c.region, c.accountId]), [['moto', 'eu-west-1', '123456789012']]);
    assert.ok(!JSON.stringify(conns).includes(secret));
    assert.deepEqual(pageProblems(page), []);
  } finally {
    await moto.close();
  }
});

test('AWS KMS from the console: a key store created and connected in KMS (the simulator), then a KMS key for a key', opts, async () => {
  const sim = await startSimulator({ proxyCa: h.caPem, proxyTimeoutMs: 10_000 });
  try {
    const add = await api('POST', '/aws/connections', custodianKey, {
      name: 'sim',
      region: 'eu-west-1',
      endpoint: sim.url,
      accountId: ACCOUNT,
      credentials: { source: 'static', accessKeyId: ALICE.accessKeyId, secretAccessKey: ALICE.secretAccessKey },
    });
    assert.equal(add.status, 200, add.text);
    assert.equal((await api('POST', '/keystores', custodianKey, { name: 'cloud', prefix: '/cloud', regions: ['eu-west-1'] })).status, 200);
    assert.equal((await api('POST', '/keys', custodianKey, { keyId: 'cloud-key', keyStore: 'cloud' })).status, 200);

    const page = await newPage();
    await signIn(page, h, custodian);
    await page.goto(h.url + '/keystores/cloud');
    await page.getByRole('heading', { name: 'In AWS KMS' }).waitFor();
    await page.getByText('Not in AWS KMS yet.').waitFor();
    await assertAccessible(page, 'key store not yet in AWS KMS');
    await page.getByLabel('AWS connection').selectOption('sim');
    await page.getByLabel('Proxy endpoint KMS connects to').fill(h.xksUrl);
    await page.getByRole('button', { name: 'Create in AWS KMS' }).click();
    await page.getByText(/Connected in AWS KMS \(cks-[0-9a-f]+\)\./).waitFor({ timeout: 150_000 });
    await page.getByText('Connection state').waitFor();
    const st = (await api<Body>('GET', '/aws/keystores/cloud', custodianKey)).body;
    assert.deepEqual([st.linked, st.connectionState, st.connection], [true, 'CONNECTED', 'sim']);

    await page.goto(h.url + '/keys/cloud-key');
    await page.getByRole('heading', { name: 'KMS key in AWS' }).waitFor();
    await page.getByLabel('Alias (optional)').fill('alias/cloud');
    await page.getByRole('button', { name: 'Create KMS key' }).click();
    await page.getByText(/Created arn:aws:kms:eu-west-1:111122223333:key\//).waitFor({ timeout: 60_000 });
    const link = (await api<Body>('GET', '/keys/cloud-key/aws', custodianKey)).body;
    assert.equal(link.alias, 'alias/cloud');
    await page.getByText(String(link.kmsKeyArn), { exact: true }).waitFor();
    await assertAccessible(page, 'key with its KMS key');
    assert.deepEqual(pageProblems(page), []);
  } finally {
    await sim.close();
  }
});

test('an auditor finds a record in the audit log, opens it, verifies the chain and exports; no mutating action is shown', opts, async () => {
  // Some XKS traffic for the usage view, the metrics and the log.
  const demo = h.init.demo!;
  const xks = xksClient({ url: h.xksUrl, caPem: h.caPem, uriPath: demo.uriPath, credential: demo.credential });
  for (let i = 0; i < 3; i++) assert.equal((await xks.encrypt(demo.keyId, { plaintext: Buffer.from('hello') })).status, 200);
  xks.close();

  const page = await newPage();
  await signIn(page, h, auditor);
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: /Audit log/ }).click();
  await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
  await assertAccessible(page, 'audit log page');
  await page.getByLabel('Key id').fill('orders-key');
  await page.getByLabel('Kind').selectOption('admin');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  const row = page.getByRole('row').filter({ hasText: 'keys.rotate' });
  await row.waitFor();
  await row.getByRole('button').click();
  const detail = page.getByRole('region', { name: /^Record \d+$/ });
  await detail.waitFor();
  await detail.getByText('ana', { exact: true }).waitFor();
  await assertAccessible(page, 'audit record detail');

  await page.getByLabel('Key id').fill('');
  await page.getByLabel('Kind').selectOption('xks');
  await page.getByLabel('Principal (admin user or AWS principal ARN contains)').fill('role/App');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByRole('row').filter({ hasText: 'Encrypt' }).first().waitFor();
  assert.equal(await page.getByRole('row').filter({ hasText: 'Encrypt' }).count(), 3);

  await page.getByRole('button', { name: 'Verify the whole chain' }).click();
  await page.getByText(/The chain is intact: \d+ records verified\./).waitFor();

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export matching records' }).click()]);
  const lines = readFileSync((await download.path())!, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Body);
  assert.equal(lines.length, 3);
  for (const l of lines) assert.ok(typeof l.mac === 'string' && typeof l.prev === 'string' && l.kind === 'xks');

  // Read-only everywhere: the pages show data and no control that changes it.
  const mutating = /^(Create|Add|Rotate|Disable|Enable|Delete|Revoke|Schedule|Cancel|Save|Remove|Download|Store|Approve|Deny|Reset|Insert|Test|Collect|Connect)/;
  for (const path of ['/', '/keystores', `/keystores/${storeName}`, '/keys', '/keys/orders-key', '/aws', '/approvals', '/admin/users', '/admin/hsm', '/admin/settings']) {
    await page.goto(h.url + path);
    await page.getByRole('heading', { level: 1 }).waitFor();
    await page.waitForLoadState('networkidle');
    await page.locator('.loading').first().waitFor({ state: 'detached' });
    const names = await page.getByRole('button').allTextContents();
    const shown = names.map((n) => n.trim()).filter((n) => mutating.test(n) && !/^Create API key$|^Revoke API key|^Set new password$|^Download policy$/.test(n));
    assert.deepEqual(shown, [], `${path} shows no mutating action to an auditor`);
    await assertAccessible(page, `${path} as auditor`);
  }
  await page.goto(h.url + '/keys/demo-key');
  await page.getByRole('heading', { name: 'Usage' }).waitFor();
  await page.getByText('arn:aws:iam::111122223333:role/App').first().waitFor();
  await page.goto(h.url + '/');
  await page.getByText(/Intact: \d+ records verified/).waitFor();
  await page.getByRole('heading', { name: 'Traffic from KMS' }).waitFor();
  await page.getByRole('img', { name: /requests per second/ }).waitFor({ timeout: 60_000 });
  // The API stays the authority: a hand-made call is refused too.
  const forged = await page.evaluate(async () => (await fetch('/api/v1/keys/orders-key/rotate', { method: 'POST', headers: { 'X-Keyhold-Request': '1' } })).status);
  assert.equal(forged, 403);
  expectLogged(page, 403);
  assert.deepEqual(pageProblems(page), []);
});

test('an administrator manages users and rules, sees no key pages; every page passes axe', opts, async () => {
  const admin = await h.user('administrator', h.init.admin.username);
  const page = await newPage();
  await signIn(page, h, admin);
  const nav = page.getByRole('navigation', { name: 'Main' });
  assert.equal(await nav.getByRole('link', { name: /Key stores/ }).count(), 0);
  assert.equal(await nav.getByRole('link', { name: /^Keys/ }).count(), 0);
  await page.getByRole('heading', { name: 'Health as KMS sees it' }).waitFor();
  await page.getByText(/KMS gets ACTIVE from GetHealthStatus|Some backends are not healthy|No backend answers/).waitFor();
  await assertAccessible(page, 'overview as administrator');

  await nav.getByRole('link', { name: /Administration/ }).click();
  await page.getByLabel('Username').fill('newbie');
  await page.getByLabel('Role', { exact: true }).selectOption('auditor');
  await page.getByRole('button', { name: 'Add user' }).click();
  await page.getByText('One-time password for newbie').waitFor();
  const otp = (await page.locator('[data-secret="true"]').textContent())!.trim();
  const first = await h.api.call('POST', '/api/v1/auth/login', { body: { username: 'newbie', password: otp } });
  assert.equal(first.status, 200, 'the one-time password shown works');
  await assertAccessible(page, 'users');

  await page.getByRole('link', { name: 'Settings', exact: true }).click();
  await page.getByLabel('Rule', { exact: true }).selectOption('keystore.delete');
  await page.getByLabel('Approvals needed (1–10)').fill('2');
  await page.getByRole('button', { name: 'Save rule' }).click();
  await page.getByText('Rule saved.').waitFor();
  const rules = (await api<Body[]>('GET', '/settings/approval-rules', h.adminToken)).body;
  assert.equal(rules.find((r) => r.action === 'keystore.delete')?.required, 2);
  await assertAccessible(page, 'settings');

  await page.getByRole('link', { name: 'HSM', exact: true }).click();
  await page.getByText('This server has no [hsm] section').waitFor();
  await page.getByRole('link', { name: 'API keys', exact: true }).click();
  await page.getByLabel('Name', { exact: true }).fill('prometheus');
  await page.getByRole('button', { name: 'Create API key' }).click();
  const apiKey = (await page.locator('[data-secret="true"]').textContent())!.trim();
  assert.match(apiKey, /^kha_/);
  assert.equal((await h.api.call('GET', '/metrics', { token: apiKey })).status, 200, 'the API key works');
  await assertAccessible(page, 'API keys');
  await page.goto(h.url + '/approvals');
  await page.getByRole('heading', { name: 'Approval rules' }).waitFor();
  await assertAccessible(page, 'approvals as administrator');
  assert.deepEqual(pageProblems(page), []);
});

test("the approval rules come from the server's catalogue: tls.change and the user rules are listed, and a rule is created with one", opts, async () => {
  const admin = await h.user('administrator', h.init.admin.username);
  const catalog = await api<{ name: string; description: string }[]>('GET', '/approval-rules/catalog', h.adminToken);
  assert.equal(catalog.status, 200, catalog.text);
  const text = (name: string) => catalog.body.find((i) => i.name === name)!.description;
  const page = await newPage();
  await signIn(page, h, admin);
  await page.goto(h.url + '/approvals');
  await page.getByRole('heading', { name: 'Approval rules' }).waitFor();
  const select = page.getByLabel('Rule', { exact: true });
  await select.locator('option', { hasText: 'tls.change' }).waitFor({ state: 'attached' });
  const options = (await select.locator('option').allTextContents()).map((o) => o.trim());
  assert.deepEqual(options, catalog.body.map((i) => i.name), "the form offers exactly the server's rules");
  for (const name of ['tls.change', 'user.create', 'user.set-role']) assert.ok(options.includes(name), name);

  await page.getByText('What each rule guards').click();
  const guards = page.getByRole('table', { name: 'The approval rules this server knows' });
  await guards.getByRole('row', { name: /tls\.change/ }).getByText(text('tls.change')).waitFor();
  await guards.getByRole('row', { name: /tls\.change/ }).getByText(/PUT \/api\/v1\/tls/).waitFor();
  await guards.getByRole('row', { name: /user\.set-role/ }).getByText(text('user.set-role')).waitFor();

  await select.selectOption('user.set-role');
  await page.getByText(text('user.set-role'), { exact: true }).first().waitFor();
  await page.getByLabel('Approvals needed (1–10)').fill('1');
  await page.getByRole('button', { name: 'Save rule' }).click();
  await page.getByText('Rule saved.').waitFor();
  await page.getByRole('button', { name: 'Remove the rule for user.set-role' }).waitFor();
  const rules = (await api<Body[]>('GET', '/settings/approval-rules', h.adminToken)).body;
  assert.equal(rules.find((r) => r.action === 'user.set-role')?.required, 1, 'the rule is set on the server');
  await assertAccessible(page, 'approval rules with the catalogue');

  await page.getByRole('button', { name: 'Remove the rule for user.set-role' }).click();
  await page.getByText('Rule removed.').waitFor();
  const after = (await api<Body[]>('GET', '/settings/approval-rules', h.adminToken)).body;
  assert.equal(after.find((r) => r.action === 'user.set-role'), undefined);
  assert.deepEqual(pageProblems(page), []);
});

test('a page on another origin cannot make changes with the signed-in session (CSRF)', opts, async () => {
  // The attacker's page: same site (localhost), another origin (another port).
  const target = h.url;
  const html = `<!doctype html><html><body>
<form id="f" method="POST" action="${target}/api/v1/keystores" enctype="text/plain"><input name='{"name":"evil","prefix":"","x":"' value='"}'></form>
<script>
window.fetchResult = fetch(${JSON.stringify(target)} + '/api/v1/keystores', { method: 'POST', credentials: 'include', headers: { 'X-Keyhold-Request': '1', 'content-type': 'application/json' }, body: '{"name":"evil2","prefix":""}' })
  .then((r) => 'answered ' + r.status, (e) => 'blocked: ' + e.message);
</script></body></html>`;
  const evil: Server = createServer({ cert: h.certPem, key: h.keyPem }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(html);
  });
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
  try {
    const page = await newPage();
    await signIn(page, h, custodian);
    const port = (evil.address() as AddressInfo).port;
    await page.goto(`https://localhost:${port}/`);
    const fetched = await page.evaluate<string>('window.fetchResult');
    assert.match(fetched, /^blocked/, 'the preflight fails: no CORS for other origins');
    await Promise.all([page.waitForURL(`${target}/api/v1/keystores`), page.evaluate("document.getElementById('f').submit()")]);
    const answer = (await page.textContent('body')) ?? '';
    assert.match(answer, /"error":"AccessDenied"/, answer);
    const names = (await api<Body[]>('GET', '/keystores', custodianKey)).body.map((k) => k.name);
    assert.ok(!names.includes('evil') && !names.includes('evil2'), `no key store made by the other origin: ${names.join(', ')}`);
    // The attacker's page logs its own blocked fetch; that is not the console's.
    (page as unknown as { problems: string[] }).problems.length = 0;
  } finally {
    await new Promise((r) => evil.close(r));
  }
});

test('the console works in a narrow window with the keyboard', opts, async () => {
  const page = await newPage({ width: 420, height: 800 });
  await signIn(page, h, custodian);
  const nav = page.getByRole('navigation', { name: 'Main' });
  assert.equal(await nav.isVisible(), false, 'the menu is folded');
  const toggle = page.getByRole('button', { name: 'Menu' });
  await toggle.focus();
  await page.keyboard.press('Enter');
  await nav.waitFor({ state: 'visible' });
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  await nav.getByRole('link', { name: /^Keys/ }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Keys', level: 1 }).waitFor();
  assert.equal(await nav.isVisible(), false, 'the menu folds after navigating');
  await assertAccessible(page, 'keys page, narrow');
  const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
  assert.ok(overflow <= 1, `no horizontal scrolling of the page (${overflow}px)`);
  assert.deepEqual(pageProblems(page), []);
});

test('a tampered audit log: verifying in the console names the first bad record and shows it', opts, async () => {
  const db = new BetterSqlite3(join(h.dataDir, 'keyhold.db'));
  let seq: number;
  try {
    // What someone with write access to the database might do: drop the guards and edit a record.
    db.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
    seq = (db.prepare(`SELECT seq FROM audit_log WHERE seq > 5 AND body LIKE '%"outcome":"ok"%' ORDER BY seq LIMIT 1`).get() as { seq: number }).seq;
    db.prepare(`UPDATE audit_log SET body = replace(body, '"outcome":"ok"', '"outcome":"error"') WHERE seq = ?`).run(seq);
  } finally {
    db.close();
  }
  const page = await newPage();
  await signIn(page, h, auditor);
  await page.getByRole('heading', { name: 'Audit chain' }).waitFor();
  await page.getByText(`Broken at record ${seq}`).waitFor();
  await page.goto(h.url + '/audit');
  await page.getByRole('button', { name: 'Verify the whole chain' }).click();
  await page.getByRole('alert').filter({ hasText: `First bad record: ${seq}` }).waitFor();
  await assertAccessible(page, 'audit log with a broken chain');
  // Reads verify what they serve: the record list stops at the bad record with 409
  // (it is named, not shown), and the page says so instead of showing altered data.
  const logged = (page as unknown as { problems: string[] }).problems;
  const refused = 'Failed to load resource: the server responded with a status of 409';
  logged.splice(0, logged.length, ...logged.filter((p) => !p.includes(refused)));
  assert.deepEqual(pageProblems(page), []);
});

test('the console signs out by itself after 15 idle minutes', opts, async () => {
  const page = await newPage();
  await page.clock.install();
  await page.goto(h.url + '/');
  await page.getByLabel('Username').fill(custodian2.username);
  await page.getByLabel('Password', { exact: true }).fill(custodian2.password);
  // Paused: whatever the console does on its timers after the sign-in (Preact's effects wait
  // for the next frame: the idle timer's start, the overview's loads) waits for the first jump,
  // as it may on a busy machine. The idle time must still count from the sign-in.
  await page.clock.pauseAt(new Date(Date.now() + 60_000));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('whoami').filter({ hasText: custodian2.username }).waitFor();
  await page.clock.fastForward('14:00');
  assert.equal(await page.getByTestId('whoami').count(), 1, 'still signed in before the idle limit');
  await page.clock.fastForward('02:00');
  await page.getByText('Signed out after 15 idle minutes.').waitFor();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  assert.deepEqual(pageProblems(page), []);
});

test('sign-out ends the session; an expired session returns to sign-in with a message', opts, async () => {
  const page = await newPage();
  await signIn(page, h, custodian2);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  await page.getByText('You are signed out.').waitFor();
  const after = await page.evaluate(async () => (await fetch('/api/v1/auth/whoami')).status);
  assert.equal(after, 401, 'the server ended the session');

  await signIn(page, h, custodian2);
  h.clock.advance(31 * 60_000); // past the server's idle timeout
  // The next request finds the session gone: the click's, or the overview's own refresh of
  // its figures if that comes first (then the link is gone before it can be clicked).
  void page
    .getByRole('navigation', { name: 'Main' })
    .getByRole('link', { name: /Key stores/ })
    .click()
    .catch(() => undefined);
  await page.getByText('Your session ended').waitFor();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  assert.deepEqual(pageProblems(page), []);
});

test('no page logged a console error or a CSP violation', opts, async () => {
  assert.ok(pages.length >= 8);
  assert.deepEqual(pages.flatMap(pageProblems), []);
});
