/**
 * The console's AWS keys page in a real browser (Debian's chromium through playwright-core)
 * against a real Keyhold with an AWS connection to the KMS simulator: sync with its report,
 * the list with filters, a key's details with its link to a local key, the lifecycle
 * actions reaching the simulator, "needs approval" when a rule applies (and nothing changes
 * in AWS until approved), rotate to a local key, delete imported material and reimport it
 * (the destructive ones confirmed first), an auditor who sees no action, and axe-core.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CreateAliasCommand, CreateKeyCommand, DescribeKeyCommand, ListResourceTagsCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { axeViolations, browserMissing, collectProblems, consoleContext, launchChromium, signIn, startConsoleHarness, type ConsoleHarness, type ConsoleUser } from './support/console-harness.js';
import { ACCOUNT, ALICE, startSimulator, type TestSimulator } from './kms-sim-support.js';

const missing = browserMissing();
const opts = missing ? { skip: missing } : {};
type Body = Record<string, unknown>;

let h: ConsoleHarness;
let sim: TestSimulator;
let kms: KMSClient;
let browser: Browser;
let ana: ConsoleUser;
let ben: ConsoleUser;
let ivy: ConsoleUser;
let anaKey: string;
let benKey: string;
const contexts: BrowserContext[] = [];
const made: Record<string, string> = {};

before(async () => {
  if (missing) return;
  h = await startConsoleHarness({ demo: false });
  sim = await startSimulator();
  kms = sim.kms();
  browser = await launchChromium();
  ana = await h.user('custodian', 'ana');
  ben = await h.user('custodian', 'ben');
  ivy = await h.user('auditor', 'ivy');
  anaKey = await h.apiKeyOf(ana);
  benKey = await h.apiKeyOf(ben);
  // Accounts gain their vote at creation; requests are filed strictly later.
  h.clock.advance(1);
  for (const name of ['web', 'db']) {
    const md = (await kms.send(new CreateKeyCommand({ Description: `${name} data`, Tags: [{ TagKey: 'team', TagValue: name }] }))).KeyMetadata!;
    made[name] = md.KeyId!;
    await kms.send(new CreateAliasCommand({ AliasName: `alias/${name}`, TargetKeyId: md.KeyId! }));
  }
  const add = await api('POST', '/aws/connections', anaKey, { name: 'sim', region: 'eu-west-1', endpoint: sim.url, accountId: ACCOUNT, credentials: { source: 'static', accessKeyId: ALICE.accessKeyId, secretAccessKey: ALICE.secretAccessKey } });
  assert.equal(add.status, 200, add.text);
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await sim?.close();
  await h?.dispose();
});

const api = <T = Body>(method: string, path: string, token: string, body?: unknown) => h.api.call<T>(method, `/api/v1${path}`, { token, ...(body !== undefined ? { body } : {}) });
const stateInSim = async (keyId: string) => (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState;

async function newPage(): Promise<Page & { problems: string[] }> {
  const ctx = await consoleContext(browser, h);
  contexts.push(ctx);
  const page = (await ctx.newPage()) as Page & { problems: string[] };
  page.setDefaultTimeout(30_000);
  page.problems = collectProblems(page);
  return page;
}

/** What a page logged, less the browser's line for the sign-in probe's 401. */
const problems = (page: Page & { problems: string[] }) => page.problems.filter((p) => !/status of 401/.test(p));

async function assertAccessible(page: Page, what: string): Promise<void> {
  assert.deepEqual(await axeViolations(page), [], `${what}: axe-core found serious or critical violations`);
}

test('AWS keys: sync with its report, filters, details with the link to a local key, lifecycle actions in the simulator, and "needs approval"', opts, async () => {
  const page = await newPage();
  await signIn(page, h, ana);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /^AWS keys/ }).click();
  await page.getByRole('heading', { name: 'AWS keys', level: 1 }).waitFor();
  await page.getByText('No AWS key known yet. Sync a connection below.').waitFor();
  await assertAccessible(page, 'AWS keys, empty');

  await page.getByLabel('AWS connection').selectOption('sim');
  await page.getByRole('button', { name: 'Sync now' }).click();
  await page.getByText(/Synced 2 keys of sim in eu-west-1: 2 added/).waitFor();
  await page.getByRole('link', { name: 'alias/web' }).waitFor();
  await page.getByRole('link', { name: 'alias/db' }).waitFor();
  await assertAccessible(page, 'AWS keys, synced');

  await page.getByLabel('State', { exact: true }).selectOption('Disabled');
  await page.getByText('No AWS key matches these filters.').waitFor();
  await page.getByLabel('State', { exact: true }).selectOption('');
  await page.getByLabel('Connection', { exact: true }).selectOption('sim');
  await page.getByRole('link', { name: 'alias/web' }).click();
  await page.getByRole('heading', { name: 'Details' }).waitFor();
  await page.getByText(`arn:aws:kms:eu-west-1:${ACCOUNT}:key/${made.web}`, { exact: true }).waitFor();
  await page.getByText('No local key material was copied into this key').waitFor();
  await assertAccessible(page, 'AWS key details');

  await page.getByRole('button', { name: 'Disable', exact: true }).click();
  await page.getByText(/^Disabled: .* is Disabled\.$/).waitFor();
  assert.equal(await stateInSim(made.web!), 'Disabled');
  await page.getByRole('button', { name: 'Enable', exact: true }).click();
  await page.getByText(/^Enabled: .* is Enabled\.$/).waitFor();
  assert.equal(await stateInSim(made.web!), 'Enabled');

  await page.getByLabel('Set tags (key=value, comma separated)').fill('env=prod');
  await page.getByRole('button', { name: 'Change tags' }).click();
  await page.getByText('Tags: env=prod, team=web.').waitFor();
  const tags = (await kms.send(new ListResourceTagsCommand({ KeyId: made.web! }))).Tags!.map((t) => `${t.TagKey}=${t.TagValue}`).sort();
  assert.deepEqual(tags, ['env=prod', 'team=web']);

  await page.getByLabel('Add an alias (an alias of another key moves here)').fill('alias/web-2');
  await page.getByRole('button', { name: 'Add alias' }).click();
  await page.getByText('Aliases: alias/web, alias/web-2.').waitFor();
  await page.getByRole('button', { name: 'Remove alias/web-2' }).click();
  await page.getByText('Aliases: alias/web.').waitFor();

  await page.getByRole('button', { name: 'Turn automatic rotation on' }).click();
  await page.getByText('Automatic rotation every 365 days.').waitFor();
  await page.getByRole('button', { name: 'Turn automatic rotation off' }).click();
  await page.getByText('Automatic rotation off.').waitFor();

  // A 1-of-N rule on aws.key.disable: the console says the change waits, AWS is untouched until approved.
  assert.equal((await api('PUT', '/settings/approval-rules/aws.key.disable', h.adminToken, { required: 1 })).status, 200);
  await page.getByRole('button', { name: 'Disable', exact: true }).click();
  await page.getByText('Needs approval.').waitFor();
  const link = page.getByRole('status').filter({ hasText: 'Needs approval.' }).getByRole('link');
  const requestId = (await link.textContent())!.trim();
  assert.equal(await stateInSim(made.web!), 'Enabled', 'nothing changes in AWS while the request waits');
  const approved = await api<Body>('POST', `/approvals/${requestId}/approve`, benKey, {});
  assert.equal(approved.status, 200, approved.text);
  assert.equal(await stateInSim(made.web!), 'Disabled', 'approved: disabled in AWS');
  assert.equal((await api('DELETE', '/settings/approval-rules/aws.key.disable', h.adminToken)).status, 200);
  await page.reload();
  await page.getByRole('button', { name: 'Enable', exact: true }).click();
  await page.getByText(/^Enabled: .* is Enabled\.$/).waitFor();

  await page.getByLabel('Waiting period (7–30 days)').fill('7');
  await page.getByRole('button', { name: 'Schedule deletion' }).click();
  await page.getByText(/will be deleted by AWS on/).waitFor();
  assert.equal(await stateInSim(made.web!), 'PendingDeletion');
  await page.getByRole('button', { name: 'Cancel deletion' }).click();
  await page.getByText(/^Deletion cancelled: .* is Disabled\.$/).waitFor();
  assert.equal(await stateInSim(made.web!), 'Disabled');

  assert.equal((await api('PUT', '/settings/approval-rules/aws.key.delete', h.adminToken, { required: 1 })).status, 200);
  await page.getByRole('button', { name: 'Schedule deletion' }).click();
  await page.getByText('Needs approval.').waitFor();
  assert.equal(await stateInSim(made.web!), 'Disabled', 'a deletion waiting for approval changes nothing in AWS');
  assert.equal((await api('DELETE', '/settings/approval-rules/aws.key.delete', h.adminToken)).status, 200);
  await assertAccessible(page, 'AWS key with a pending request');
  assert.deepEqual(problems(page), []);
});

test('a copy of a local key shows its link on the AWS key; an auditor sees keys and links but no action', opts, async () => {
  assert.equal((await api('POST', '/keystores', anaKey, { name: 'byok', prefix: '/byok', regions: ['eu-west-1'] })).status, 200);
  assert.equal((await api('POST', '/keys', anaKey, { keyId: 'payroll', keyStore: 'byok', exportable: true })).status, 200);
  const copy = await api<{ copies: { awsKeyArn: string }[] }>('POST', '/aws/keys/import', anaKey, { localKey: 'payroll', connection: 'sim', alias: 'alias/payroll' });
  assert.equal(copy.status, 200, copy.text);
  const arn = copy.body.copies[0]!.awsKeyArn;

  const page = await newPage();
  await signIn(page, h, ivy);
  await page.goto(`${h.url}/aws/keys`);
  await page.getByRole('link', { name: 'alias/payroll' }).click();
  await page.getByRole('heading', { name: 'Links to local keys' }).waitFor();
  await page.getByText(arn, { exact: true }).waitFor();
  await page.getByRole('link', { name: 'payroll', exact: true }).waitFor();
  assert.equal(await page.getByRole('heading', { name: 'Actions' }).count(), 0, 'an auditor sees no action');
  await assertAccessible(page, 'AWS key with a local link, as an auditor');
  await page.goto(`${h.url}/aws/keys`);
  await page.getByRole('link', { name: 'alias/payroll' }).waitFor();
  assert.equal(await page.getByRole('heading', { name: 'Sync from AWS' }).count(), 0, 'an auditor does not sync');
  assert.deepEqual(problems(page), []);
});

test('rotate to a local key, delete the imported material and reimport it, from the AWS key page (confirmed first; "needs approval" under aws.key.disable)', opts, async () => {
  assert.equal((await api('POST', '/keystores', anaKey, { name: 'own', prefix: '/own', regions: ['eu-west-1'] })).status, 200);
  assert.equal((await api('POST', '/keys', anaKey, { keyId: 'orders-own', keyStore: 'own', exportable: true })).status, 200);
  const native = (await kms.send(new CreateKeyCommand({ Description: 'orders data' }))).KeyMetadata!;
  await kms.send(new CreateAliasCommand({ AliasName: 'alias/orders', TargetKeyId: native.KeyId! }));
  assert.equal((await api('POST', '/aws/connections/sim/sync', anaKey, {})).status, 200);
  const record = async (ref: string) => {
    const r = await api<{ key: { arn: string; keyId: string; state: string; origin: string; aliases: string[] }; copies: { localKey: string; localVersion: number }[] }>('GET', `/aws/keys/${encodeURIComponent(ref)}`, anaKey);
    assert.equal(r.status, 200, r.text);
    return r.body;
  };
  const badge = (page: Page) => page.locator('dl.kv .badge').first();

  const page = await newPage();
  await signIn(page, h, ana);
  await page.goto(`${h.url}/aws/keys`);
  await page.getByRole('link', { name: 'alias/orders' }).click();
  await page.getByRole('heading', { name: 'Actions' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Delete imported material' }).count(), 0, 'a native key has no imported material');

  // Rotate to the local key: asked first; Cancel changes nothing.
  await page.getByLabel('Rotate to local key (exportable)').selectOption('orders-own');
  await page.getByRole('button', { name: 'Rotate to local key' }).click();
  const ask = page.getByRole('group', { name: 'Confirm: Rotate to local key' });
  await ask.getByText(/takes over alias\/orders/).waitFor();
  await ask.getByRole('button', { name: 'Cancel' }).click();
  assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: 'alias/orders' }))).KeyMetadata!.KeyId, native.KeyId, 'cancelled: the alias stays');

  // With the old key disabled too, the rotation falls under aws.key.disable: it waits, nothing moves.
  assert.equal((await api('PUT', '/settings/approval-rules/aws.key.disable', h.adminToken, { required: 1 })).status, 200);
  try {
    await page.getByLabel('Disable the old key').check();
    await page.getByRole('button', { name: 'Rotate to local key' }).click();
    await ask.getByText(/this key is disabled/).waitFor();
    await ask.getByRole('button', { name: 'Yes, rotate' }).click();
    await page.getByText('Needs approval.').waitFor();
    const waiting = (await page.getByRole('status').filter({ hasText: 'Needs approval.' }).getByRole('link').textContent())!.trim();
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: 'alias/orders' }))).KeyMetadata!.KeyId, native.KeyId, 'waiting: the alias stays');
    assert.equal((await record('alias/orders')).key.keyId, native.KeyId);
    assert.equal((await api('POST', `/approvals/${waiting}/cancel`, anaKey, {})).status, 200);
  } finally {
    assert.equal((await api('DELETE', '/settings/approval-rules/aws.key.disable', h.adminToken)).status, 200);
  }
  await page.getByLabel('Disable the old key').uncheck();
  await page.getByRole('button', { name: 'Rotate to local key' }).click();
  await ask.getByRole('button', { name: 'Yes, rotate' }).click();
  await page.getByText(/^Rotated to local key orders-own \(version 1\): .* now holds alias\/orders; the old key is Enabled\.$/).waitFor();
  const moved = await record('alias/orders');
  assert.notEqual(moved.key.keyId, native.KeyId, 'the alias names the new key');
  assert.equal(moved.key.origin, 'EXTERNAL');
  assert.deepEqual(moved.copies.map((c) => [c.localKey, c.localVersion]), [['orders-own', 1]], 'recorded as a link');
  assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: 'alias/orders' }))).KeyMetadata!.KeyId, moved.key.keyId);
  assert.equal(await stateInSim(native.KeyId!), 'Enabled', 'the old key keeps decrypting');
  assert.equal((await record(native.KeyId!)).key.aliases.length, 0);

  // The new key: delete its material (confirmed), then reimport from the link.
  await page.goto(`${h.url}/aws/keys/${encodeURIComponent(moved.key.arn)}`);
  await page.getByRole('link', { name: 'orders-own', exact: true }).waitFor();
  await page.getByRole('button', { name: 'Delete imported material' }).click();
  await page.getByRole('group', { name: 'Confirm: Delete imported material' }).getByRole('button', { name: 'Yes, delete the material' }).click();
  await page.getByText(/^Material deleted: .* is PendingImport\.$/).waitFor();
  await badge(page).filter({ hasText: 'PendingImport' }).waitFor();
  assert.equal((await record(moved.key.arn)).key.state, 'PendingImport');
  assert.equal(await stateInSim(moved.key.keyId), 'PendingImport');
  await assertAccessible(page, 'AWS key without its material');

  await page.getByRole('button', { name: 'Reimport from orders-own (version 1)' }).click();
  await page.getByText(/^Reimported version 1 of orders-own: .* is Enabled\.$/).waitFor();
  await badge(page).filter({ hasText: 'Enabled' }).waitFor();
  assert.equal((await record(moved.key.arn)).key.state, 'Enabled');
  assert.equal(await stateInSim(moved.key.keyId), 'Enabled', 'the same material back in');

  // Under aws.key.disable the deletion waits: nothing changes in AWS until approved.
  assert.equal((await api('PUT', '/settings/approval-rules/aws.key.disable', h.adminToken, { required: 1 })).status, 200);
  try {
    await page.getByRole('button', { name: 'Delete imported material' }).click();
    await page.getByRole('group', { name: 'Confirm: Delete imported material' }).getByRole('button', { name: 'Yes, delete the material' }).click();
    await page.getByText('Needs approval.').waitFor();
    const requestId = (await page.getByRole('status').filter({ hasText: 'Needs approval.' }).getByRole('link').textContent())!.trim();
    assert.equal(await stateInSim(moved.key.keyId), 'Enabled', 'nothing changes in AWS while the request waits');
    assert.equal((await record(moved.key.arn)).key.state, 'Enabled');
    const approved = await api('POST', `/approvals/${requestId}/approve`, benKey, {});
    assert.equal(approved.status, 200, approved.text);
    assert.equal(await stateInSim(moved.key.keyId), 'PendingImport', 'approved: the material is gone');
    assert.equal((await record(moved.key.arn)).key.state, 'PendingImport');
  } finally {
    assert.equal((await api('DELETE', '/settings/approval-rules/aws.key.disable', h.adminToken)).status, 200);
  }
  await page.reload();
  await badge(page).filter({ hasText: 'PendingImport' }).waitFor();
  await page.getByRole('button', { name: 'Reimport from orders-own (version 1)' }).click();
  await page.getByText(/^Reimported version 1 of orders-own: .* is Enabled\.$/).waitFor();
  assert.equal(await stateInSim(moved.key.keyId), 'Enabled');
  assert.deepEqual(problems(page), []);
});
