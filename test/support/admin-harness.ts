import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Clock } from '../../src/base/index.js';
import type { AdminActionRecord, AdminAuditSink, Role } from '../../src/domain/index.js';
import type { MetricsSource } from '../../src/admin/index.js';
import { loadConfig } from '../../src/app/config.js';
import { initDataDir, type InitSummary } from '../../src/app/init.js';
import { createLogger } from '../../src/app/logging.js';
import { startKeyhold, type RunningKeyhold } from '../../src/app/start.js';

/** A clock tests move by hand. */
export interface ManualClock extends Clock {
  advance(ms: number): void;
  set(ms: number): void;
}

export function manualClock(start = Date.now()): ManualClock {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => void (t += ms),
    set: (ms) => void (t = ms),
  };
}

export const DAY = 86_400_000;

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: T;
}

export interface CallOptions {
  token?: string | undefined;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ApiCall {
  method: string;
  path: string;
  status: number;
}

/** An HTTPS client for the admin API that remembers every call (for route coverage). */
export function adminClient(baseUrl: string, caPem: string) {
  const agent = new Agent({ ca: caPem, keepAlive: true });
  const calls: ApiCall[] = [];
  const u = new URL(baseUrl);

  function call<T = Record<string, unknown>>(method: string, path: string, o: CallOptions = {}): Promise<ApiResponse<T>> {
    const payload = o.body === undefined ? undefined : Buffer.from(typeof o.body === 'string' ? o.body : JSON.stringify(o.body));
    return new Promise((resolve, reject) => {
      const r = request(
        {
          host: u.hostname,
          port: u.port,
          method,
          path,
          agent,
          headers: {
            ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
            ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
            ...o.headers,
          },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => {
            let body: unknown = {};
            try {
              body = JSON.parse(text);
            } catch {
              body = {};
            }
            calls.push({ method, path: path.split('?')[0]!, status: res.statusCode ?? 0 });
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: body as T });
          });
        },
      );
      r.on('error', reject);
      r.end(payload);
    });
  }

  return { call, calls, close: () => agent.destroy() };
}

export type AdminClient = ReturnType<typeof adminClient>;

export interface SignedInUser {
  username: string;
  password: string;
  /** A session token (ends after 30 idle minutes of the test clock). */
  token: string;
  /** An API key of the same user (for tests that move the clock by hours). */
  apiKey: string;
  role: Role;
}

export interface AdminHarness {
  url: string;
  caPem: string;
  dataDir: string;
  dbPath: string;
  running: RunningKeyhold;
  init: InitSummary;
  clock: ManualClock;
  api: AdminClient;
  /** Every admin action recorded, in order. */
  records: AdminActionRecord[];
  /** Everything the server logged. */
  logs(): string;
  /** The bootstrap administrator with a chosen password; `token` is an API key (no idle timeout). */
  admin: SignedInUser;
  /** Creates a user with this role (as the administrator), signs in, replaces the one-time password. */
  provision(role: Role, username?: string): Promise<SignedInUser>;
  login(username: string, password: string): Promise<ApiResponse>;
  dispose(): Promise<void>;
}

let counter = 0;

/**
 * A real Keyhold server started in this process on a fresh data directory: XKS and admin
 * listeners on ephemeral ports, a hand-moved clock, and the admin actions captured from
 * the audit sink. Password hashing runs at the configurable minimum cost to keep the suite
 * fast (the default cost is checked in its own test).
 */
export async function startAdminHarness(
  opts: { demo?: boolean; metrics?: MetricsSource; audit?: AdminAuditSink; toml?: string; env?: Record<string, string> } = {},
): Promise<AdminHarness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyhold-admin-'));
  writeFileSync(join(dataDir, 'keyhold.toml'), `[admin]\npassword_hash_cost = 14\nscheduler_interval_seconds = 3600\n${opts.toml ?? ''}`);
  const config = loadConfig({ dataDir, env: opts.env ?? {}, overrides: { 'xks.listen': '127.0.0.1:0', 'admin.listen': '127.0.0.1:0' } });
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
  const records: AdminActionRecord[] = [];
  const audit: AdminAuditSink = {
    async recordAdminAction(r) {
      records.push(r);
      log.info({ event: 'admin_action', ...r }, 'admin action');
      await opts.audit?.recordAdminAction(r);
    },
  };
  const running = await startKeyhold(config, log, { clock, adminAudit: audit, ...(opts.metrics ? { metrics: opts.metrics } : {}) });
  const url = `https://localhost:${running.adminAddress!.port}`;
  const caPem = readFileSync(join(dataDir, 'tls', 'server.crt'), 'utf8');
  const api = adminClient(url, caPem);

  const login = (username: string, password: string) => api.call('POST', '/api/v1/auth/login', { body: { username, password } });

  async function signIn(username: string, oneTimePassword: string, role: Role): Promise<SignedInUser> {
    const first = await login(username, oneTimePassword);
    if (first.status !== 200) throw new Error(`login of ${username} failed: ${first.text}`);
    const password = `Correct-Horse-${++counter}-${Math.random().toString(36).slice(2)}-Battery`;
    const changed = await api.call('POST', '/api/v1/auth/password', { token: String(first.body.token), body: { currentPassword: oneTimePassword, newPassword: password } });
    if (changed.status !== 200) throw new Error(`password change of ${username} failed: ${changed.text}`);
    const key = await api.call('POST', '/api/v1/auth/api-keys', { token: String(first.body.token), body: { name: 'harness' } });
    if (key.status !== 200) throw new Error(`API key for ${username} failed: ${key.text}`);
    return { username, password, token: String(first.body.token), apiKey: String(key.body.apiKey), role };
  }

  let admin: SignedInUser;
  try {
    admin = await signIn(init.admin.username, init.admin.oneTimePassword, 'administrator');
    // An API key has no idle timeout, so tests can move the clock by days.
    admin = { ...admin, token: admin.apiKey };
  } catch (e) {
    api.close();
    await running.close();
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }

  return {
    url,
    caPem,
    dataDir,
    dbPath: config.storage.type === 'sqlite' ? config.storage.path : '',
    running,
    init,
    clock,
    api,
    records,
    logs: () => out,
    admin,
    login,
    async provision(role, username = `${role}-${++counter}`) {
      const r = await api.call('POST', '/api/v1/users', { token: admin.token, body: { username, role } });
      if (r.status !== 200) throw new Error(`creating ${username} failed: ${r.text}`);
      return signIn(username, String(r.body.oneTimePassword), role);
    },
    async dispose() {
      api.close();
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Turns an OpenAPI path template into a matcher for concrete paths. */
export function pathMatcher(template: string): RegExp {
  const parts = template.split('/').map((seg) => (/^\{[^}]+\}$/.test(seg) ? '[^/]+' : seg.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&')));
  return new RegExp('^' + parts.join('/') + '$');
}

export interface OpenApiOperation {
  method: string;
  path: string;
  operationId: string;
  roles: string[];
  approval?: string;
  hasBody: boolean;
}

/** Every operation of the server's OpenAPI document. */
export function operationsOf(doc: { paths: Record<string, Record<string, Record<string, unknown>>> }): OpenApiOperation[] {
  const ops: OpenApiOperation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      ops.push({
        method: method.toUpperCase(),
        path,
        operationId: String(op.operationId),
        roles: (op['x-keyhold-roles'] as string[] | undefined) ?? [],
        ...(op['x-keyhold-approval'] ? { approval: String(op['x-keyhold-approval']) } : {}),
        hasBody: op.requestBody !== undefined,
      });
    }
  }
  return ops;
}
