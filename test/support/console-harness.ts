import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Browser, BrowserContext, ConsoleMessage, Page } from 'playwright-core';
import type { Role } from '../../src/domain/index.js';
import { loadConfig } from '../../src/app/config.js';
import { initDataDir, type InitSummary } from '../../src/app/init.js';
import { createLogger } from '../../src/app/logging.js';
import { startKeyhold, type RunningKeyhold } from '../../src/app/start.js';
import { adminClient, manualClock, type AdminClient, type ManualClock } from './admin-harness.js';
import { ROOT } from './keyhold-harness.js';

export const CHROMIUM = process.env.KEYHOLD_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or undefined. Under CI a missing browser is a failure, not a skip. */
export function browserMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  if (process.env.CI) throw new Error(`${CHROMIUM} is missing and CI is set: install Debian's chromium (scripts/install-system-deps.sh)`);
  return `${CHROMIUM} is not installed (apt-get install chromium)`;
}

/** Debian's chromium, headless, through playwright-core (no browser download). Playwright gives it a fresh temporary --user-data-dir. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

export interface ConsoleUser {
  username: string;
  password: string;
  role: Role;
}

export interface ConsoleHarness {
  url: string;
  xksUrl: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  dataDir: string;
  running: RunningKeyhold;
  init: InitSummary;
  clock: ManualClock;
  api: AdminClient;
  /** An administrator API key (no idle timeout). */
  adminToken: string;
  logs(): string;
  /** A user with this role and a chosen password (the one-time password already replaced). */
  user(role: Role, username?: string): Promise<ConsoleUser>;
  /** A user with this role who still has its one-time password. */
  newUser(role: Role, username: string): Promise<{ username: string; oneTimePassword: string }>;
  /** An API key of the user (for arranging state through the API). */
  apiKeyOf(u: ConsoleUser): Promise<string>;
  dispose(): Promise<void>;
}

let counter = 0;

/**
 * A real Keyhold in this process, with the real audit log (admin actions recorded in the
 * hash chain, as `keyhold start` does), for the browser tests of the web console.
 */
export async function startConsoleHarness(opts: { demo?: boolean } = {}): Promise<ConsoleHarness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyhold-console-'));
  writeFileSync(join(dataDir, 'keyhold.toml'), `[admin]\npassword_hash_cost = 14\nscheduler_interval_seconds = 3600\n`);
  const config = loadConfig({ dataDir, env: {}, overrides: { 'xks.listen': '127.0.0.1:0', 'admin.listen': '127.0.0.1:0' } });
  const init = await initDataDir(config, { demo: opts.demo ?? true });
  const clock = manualClock();
  let out = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  const log = createLogger({ log: { level: 'info' } }, sink);
  const running = await startKeyhold(config, log, { clock });
  const url = `https://localhost:${running.adminAddress!.port}`;
  const caPem = readFileSync(join(dataDir, 'tls', 'server.crt'), 'utf8');
  const keyPem = readFileSync(join(dataDir, 'tls', 'server.key'), 'utf8');
  const api = adminClient(url, caPem);

  const login = async (username: string, password: string): Promise<string> => {
    const r = await api.call('POST', '/api/v1/auth/login', { body: { username, password } });
    if (r.status !== 200) throw new Error(`login of ${username} failed: ${r.text}`);
    return String(r.body.token);
  };
  const changePassword = async (username: string, oneTime: string): Promise<string> => {
    const token = await login(username, oneTime);
    const password = `Console-Test-${++counter}-${Math.random().toString(36).slice(2)}-Pass`;
    const r = await api.call('POST', '/api/v1/auth/password', { token, body: { currentPassword: oneTime, newPassword: password } });
    if (r.status !== 200) throw new Error(`password change of ${username} failed: ${r.text}`);
    return password;
  };

  const adminPassword = await changePassword(init.admin.username, init.admin.oneTimePassword);
  const adminSession = await login(init.admin.username, adminPassword);
  const key = await api.call('POST', '/api/v1/auth/api-keys', { token: adminSession, body: { name: 'console-test' } });
  if (key.status !== 200) throw new Error(`admin API key: ${key.text}`);
  const adminToken = String(key.body.apiKey);

  async function newUser(role: Role, username: string) {
    const r = await api.call('POST', '/api/v1/users', { token: adminToken, body: { username, role } });
    if (r.status !== 200) throw new Error(`creating ${username} failed: ${r.text}`);
    return { username, oneTimePassword: String(r.body.oneTimePassword) };
  }

  return {
    url,
    xksUrl: `https://localhost:${running.xksAddress.port}`,
    caPem,
    certPem: caPem,
    keyPem,
    dataDir,
    running,
    init,
    clock,
    api,
    adminToken,
    logs: () => out,
    newUser,
    async user(role, username = `${role}${++counter}`) {
      if (role === 'administrator' && username === init.admin.username) return { username, password: adminPassword, role };
      const u = await newUser(role, username);
      return { username, password: await changePassword(username, u.oneTimePassword), role };
    },
    async apiKeyOf(u) {
      const token = await login(u.username, u.password);
      const r = await api.call('POST', '/api/v1/auth/api-keys', { token, body: { name: `test-${++counter}` } });
      if (r.status !== 200) throw new Error(`API key for ${u.username}: ${r.text}`);
      return String(r.body.apiKey);
    },
    async dispose() {
      api.close();
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Every console message and page error of a page, to assert that there were none. */
export function collectProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e: Error) => problems.push(`pageerror: ${e.message}`));
  return problems;
}

/** A browser context for the console: trusts the self-signed certificate, may use the clipboard. */
export async function consoleContext(browser: Browser, h: { url: string }, viewport = { width: 1280, height: 800 }): Promise<BrowserContext> {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport, acceptDownloads: true, baseURL: h.url });
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: h.url });
  return ctx;
}

/** Signs in through the console's form; resolves when the shell shows the user. */
export async function signIn(page: Page, h: { url: string }, u: { username: string; password: string }): Promise<void> {
  await page.goto(h.url + '/');
  await page.getByLabel('Username').fill(u.username);
  await page.getByLabel('Password', { exact: true }).fill(u.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('whoami').filter({ hasText: u.username }).waitFor();
}

/** axe-core, injected into the page: serious and critical violations, described. */
export async function axeViolations(page: Page): Promise<string[]> {
  const source = readFileSync(join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  // Evaluated through the DevTools protocol: the console's CSP (rightly) refuses inline scripts.
  await page.evaluate(source);
  const result = await page.evaluate<{ violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[] }>("axe.run(document, { resultTypes: ['violations'] })");
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`);
}
