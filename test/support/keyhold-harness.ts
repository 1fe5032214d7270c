import { reap } from './reaper.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (tests run from dist/test/support). */
export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const BIN = join(ROOT, 'bin', 'keyhold.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface DemoInfo {
  keyStore: string;
  uriPath: string;
  keyId: string;
  region: string;
  credential: { accessKeyId: string; secretAccessKey: string };
}

export interface KeyholdHarness {
  /** https://localhost:PORT (XKS listener). */
  url: string;
  port: number;
  /** https://localhost:PORT (admin API listener). */
  adminUrl: string;
  /** The first administrator and its one-time password, from `keyhold init`. */
  admin: { username: string; oneTimePassword: string };
  /** PEM that trusts the server's self-signed certificate. */
  caPem: string;
  dataDir: string;
  demo: DemoInfo | undefined;
  /** Everything the server printed on stdout and stderr so far (for secret-leak checks). */
  output(): string;
  /** Runs `keyhold --data-dir <dataDir> ...args`. */
  cli(args: string[], opts?: { env?: Record<string, string>; input?: string }): Promise<CliResult>;
  /** Runs a CLI command with --json and parses its stdout; throws with stderr when it fails. */
  json<T = unknown>(args: string[]): Promise<T>;
  start(): Promise<void>;
  stop(): Promise<void>;
  kill(): Promise<void>;
  /** Stops the server and removes the data directory. */
  dispose(): Promise<void>;
}

export function runCli(args: string[], opts: { env?: Record<string, string>; input?: string; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...opts.env }, cwd: opts.cwd ?? ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/**
 * A real Keyhold server in a child process on a fresh data directory and an ephemeral
 * port, driven through its real CLI.
 */
export interface StartOptions {
  demo?: boolean;
  env?: Record<string, string>;
  initArgs?: string[];
  startArgs?: string[];
  /** keyhold.toml written to the data directory before `keyhold init` (e.g. an HSM seal). */
  config?: string;
  /** Runs after `keyhold init` and before the first start (e.g. to edit keyhold.toml). */
  beforeStart?: (dataDir: string) => void | Promise<void>;
}

export async function startKeyhold(opts: StartOptions = {}): Promise<KeyholdHarness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyhold-test-'));
  if (opts.config !== undefined) writeFileSync(join(dataDir, 'keyhold.toml'), opts.config, { mode: 0o600 });
  // One XKS process unless a test asks for more (--workers N): tests reason about one process's caches.
  const env = { KEYHOLD_LOG_LEVEL: 'info', KEYHOLD_WORKERS: '1', ...opts.env };
  const init = await runCli(['--data-dir', dataDir, '--json', 'init', ...(opts.demo === false ? ['--no-demo'] : []), ...(opts.initArgs ?? [])], { env });
  if (init.code !== 0) throw new Error(`keyhold init failed (${init.code}): ${init.stderr}`);
  const initSummary = JSON.parse(init.stdout) as { demo?: DemoInfo; admin: { username: string; oneTimePassword: string } };
  const demo = initSummary.demo;
  let child: ChildProcess | undefined;
  let out = '';
  let port = 0;
  let adminPort = 0;

  async function start(): Promise<void> {
    if (child) throw new Error('already running');
    const c = reap(spawn(process.execPath, [BIN, '--data-dir', dataDir, 'start', '--xks-listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${adminPort}`, ...(opts.startArgs ?? [])], {
      env: { ...process.env, ...env },
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    }));
    child = c;
    await new Promise<void>((ready, fail) => {
      let buf = '';
      const onData = (d: Buffer) => {
        out += d.toString();
        buf += d.toString();
        const m = /"event":"started","xks":"[^"]*:(\d+)","admin":(?:"[^"]*:(\d+)"|null)/.exec(buf);
        if (m) {
          port = Number(m[1]);
          adminPort = Number(m[2] ?? 0);
          ready();
        }
      };
      c.stdout!.on('data', onData);
      c.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      c.once('exit', (code) => {
        child = undefined;
        fail(new Error(`keyhold exited with ${code} before it was ready:\n${out}`));
      });
    });
  }

  function stopWith(signal: NodeJS.Signals): Promise<void> {
    const c = child;
    if (!c) return Promise.resolve();
    return new Promise((done) => {
      c.once('exit', () => {
        child = undefined;
        done();
      });
      c.kill(signal);
    });
  }

  try {
    await opts.beforeStart?.(dataDir);
    await start();
  } catch (e) {
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const h: KeyholdHarness = {
    get url() {
      return `https://localhost:${port}`;
    },
    get port() {
      return port;
    },
    get adminUrl() {
      return `https://localhost:${adminPort}`;
    },
    admin: initSummary.admin,
    caPem: readFileSync(join(dataDir, 'tls', 'server.crt'), 'utf8'),
    dataDir,
    demo,
    output: () => out,
    cli: (args, o) => runCli(['--data-dir', dataDir, ...args], { env: { ...env, ...o?.env }, ...(o?.input !== undefined ? { input: o.input } : {}) }),
    async json<T>(args: string[]) {
      const r = await runCli(['--data-dir', dataDir, '--json', ...args], { env });
      if (r.code !== 0) throw new Error(`keyhold ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
      return JSON.parse(r.stdout) as T;
    },
    start,
    stop: () => stopWith('SIGTERM'),
    kill: () => stopWith('SIGKILL'),
    async dispose() {
      await stopWith('SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return h;
}

/**
 * Sets keys of one [section] in <dataDir>/keyhold.toml (the file `init` writes), replacing
 * an existing assignment of the same key. Values are written as TOML (JSON syntax for
 * strings, numbers and arrays of strings is valid TOML).
 */
export function setConfigValues(dataDir: string, section: string, values: Record<string, string | number | boolean | string[]>): void {
  const file = join(dataDir, 'keyhold.toml');
  const lines = readFileSync(file, 'utf8').split('\n');
  const header = lines.indexOf(`[${section}]`);
  if (header < 0) throw new Error(`keyhold.toml has no [${section}] section`);
  for (const [key, value] of Object.entries(values)) {
    const line = `${key} = ${JSON.stringify(value)}`;
    let end = lines.findIndex((l, i) => i > header && l.startsWith('['));
    if (end < 0) end = lines.length;
    const existing = lines.findIndex((l, i) => i > header && i < end && new RegExp(`^${key}\\s*=`).test(l));
    if (existing >= 0) lines[existing] = line;
    else lines.splice(header + 1, 0, line);
  }
  writeFileSync(file, lines.join('\n'));
}

/** Polls until fn stops throwing (changes reach a running server within a second). */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs = 3000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, stepMs));
    }
  }
}
