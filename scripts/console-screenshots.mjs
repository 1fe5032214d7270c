#!/usr/bin/env node
// Regenerates the screenshots of the web console in docs/console/ (shown by docs/console.md):
// a real Keyhold on a scratch data directory, some key stores, keys, an approval request and
// XKS traffic, then Debian's chromium (through playwright-core) at 1280x800.
// Usage: npm run build && node scripts/console-screenshots.mjs [out-dir]
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const out = resolve(process.argv[2] ?? join(root, 'docs', 'console'));
const support = (name) => import(join(root, 'dist', 'test', 'support', name));
const { startConsoleHarness, launchChromium, consoleContext, signIn } = await support('console-harness.js');
const { xksClient } = await support('xks-client.js');
const { startMotoWith } = await support('aws-fixtures.js');

mkdirSync(out, { recursive: true });
const h = await startConsoleHarness({ demo: true });
const browser = await launchChromium();
const moto = await startMotoWith({ MOTO_ACCOUNT_ID: '123456789012' });
const call = async (method, path, token, body) => {
  const r = await h.api.call(method, `/api/v1${path}`, { token, ...(body !== undefined ? { body } : {}) });
  if (r.status >= 400) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.body;
};

try {
  const ana = await h.user('custodian', 'ana');
  const ben = await h.user('custodian', 'ben');
  const audrey = await h.user('auditor', 'audrey');
  const anaKey = await h.apiKeyOf(ana);
  await call('POST', '/keystores', anaKey, { name: 'payments', prefix: '/pay', regions: ['us-east-1'] });
  await call('PUT', '/keystores/payments/quota', anaKey, { rps: 200 });
  await call('PUT', '/keystores/payments/policy', anaKey, {
    policy: { default: 'deny', rules: [{ id: 'orders-app', effect: 'allow', principals: ['arn:aws:iam::111122223333:role/App'], operations: ['Encrypt', 'Decrypt'] }] },
  });
  await call('POST', '/keys', anaKey, { keyId: 'orders-key', keyStore: 'payments', rotationPeriodDays: 90, description: 'orders database', tags: { team: 'payments' } });
  await call('POST', '/keys', anaKey, { keyId: 'reports-key', keyStore: 'payments', protection: 'software' });
  await call('POST', '/keys/orders-key/rotate', anaKey);
  await call('PUT', '/settings/approval-rules/key.schedule-deletion', h.adminToken, { required: 1 });
  await call('PUT', '/settings/approval-rules/keystore.delete', h.adminToken, { required: 2 });
  await call('POST', '/aws/connections', anaKey, {
    name: 'prod-account',
    region: 'eu-west-1',
    regions: ['us-east-1'],
    endpoint: moto.url,
    stsEndpoint: moto.url,
    accountId: '123456789012',
    credentials: { source: 'static', accessKeyId: 'AKIAMOTOTEST00000001', secretAccessKey: 'motoSecretKey0123456789abcdefABCDEF/+xyz' },
  });
  const pending = await call('POST', '/keys/reports-key/schedule-deletion', anaKey, { pendingWindowInDays: 7 });

  const demo = h.init.demo;
  const xks = xksClient({ url: h.xksUrl, caPem: h.caPem, uriPath: demo.uriPath, credential: demo.credential });
  let traffic = true;
  const load = (async () => {
    for (let i = 0; traffic; i++) {
      await xks.encrypt(demo.keyId, { plaintext: Buffer.from('screenshot') });
      if (i % 7 === 0) await xks.encrypt('no-such-key', { plaintext: Buffer.from('x') });
      await new Promise((r) => setTimeout(r, 40 + 60 * Math.abs(Math.sin(i / 15))));
    }
  })();

  const shoot = async (page, name) => {
    await page.waitForLoadState('networkidle').catch(() => undefined);
    await page.locator('.loading').first().waitFor({ state: 'detached' }).catch(() => undefined);
    await page.screenshot({ path: join(out, `${name}.png`) });
    console.log(`wrote ${join(out, name)}.png`);
  };
  const page = async (user, viewport) => {
    const ctx = await consoleContext(browser, h, viewport);
    const p = await ctx.newPage();
    if (user) await signIn(p, h, user);
    return p;
  };

  const anon = await page(undefined);
  await anon.goto(h.url + '/');
  await anon.getByLabel('Username').waitFor();
  await shoot(anon, 'sign-in');

  const auditor = await page(audrey);
  await auditor.getByRole('heading', { name: 'Traffic from KMS' }).waitFor();
  await auditor.waitForTimeout(21_000); // a few metric readings for the chart
  await shoot(auditor, 'overview');

  const custodian = await page(ana);
  await custodian.goto(h.url + '/keystores');
  await shoot(custodian, 'key-stores');
  await custodian.goto(h.url + '/keystores/payments');
  await custodian.getByRole('heading', { name: 'Secondary authorization policy' }).waitFor();
  await shoot(custodian, 'key-store');
  await custodian.goto(h.url + '/keys');
  await shoot(custodian, 'keys');
  await custodian.goto(h.url + '/keys/demo-key');
  await custodian.getByRole('heading', { name: 'Usage' }).waitFor();
  await shoot(custodian, 'key');

  await custodian.goto(h.url + '/aws');
  await custodian.getByRole('button', { name: 'Test prod-account' }).click();
  await custodian.getByText('Connected in eu-west-1').waitFor({ timeout: 60_000 });
  await shoot(custodian, 'aws');

  const approver = await page(ben);
  await approver.goto(h.url + `/approvals/${pending.pendingApproval.id}`);
  await approver.getByRole('heading', { name: 'Your decision' }).waitFor();
  await approver.getByLabel('Reason (recorded in the audit log)').fill('reports moved to the new key');
  await shoot(approver, 'approval');

  await auditor.goto(h.url + '/audit');
  await auditor.getByLabel('Key store').fill('payments');
  await auditor.getByRole('button', { name: 'Search', exact: true }).click();
  await auditor.getByRole('row').nth(3).waitFor();
  await auditor.getByRole('button', { name: 'Verify the whole chain' }).click();
  await auditor.getByText(/The chain is intact/).waitFor();
  await shoot(auditor, 'audit-log');

  const admin = await page(await h.user('administrator', h.init.admin.username));
  await admin.goto(h.url + '/admin/users');
  await shoot(admin, 'administration');

  const narrow = await page(ana, { width: 420, height: 800 });
  await narrow.goto(h.url + '/keys');
  await shoot(narrow, 'keys-narrow');

  traffic = false;
  await load;
  xks.close();
} finally {
  await browser.close();
  await moto.close();
  await h.dispose();
}
