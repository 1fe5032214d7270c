import { reap } from './reaper.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createNetServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT, runCli, setConfigValues, type CliResult, type DemoInfo } from './keyhold-harness.js';

/** One `keyhold start` process of a cluster, on its own copy of the data directory. */
export interface ClusterNode {
  id: string;
  dataDir: string;
  port: number;
  adminPort: number;
  url: string;
  output(): string;
  running(): boolean;
  /** The process id while it runs. */
  pid(): number | undefined;
  /** Starts the node (again), on the same ports as before once it has had them. */
  start(): Promise<void>;
  stop(): Promise<void>;
  kill(): Promise<void>;
  cli(args: string[]): Promise<CliResult>;
  json<T = unknown>(args: string[]): Promise<T>;
}

export interface TestCluster {
  nodes: ClusterNode[];
  demo: DemoInfo;
  caPem: string;
  /** Adds a node that reaches PostgreSQL at `url` (e.g. through a TcpProxy). */
  addNode(id: string, url?: string): Promise<ClusterNode>;
  dispose(): Promise<void>;
}

/** [cluster] settings for tests: short enough to watch a takeover, long enough for a loaded machine. */
export const TEST_CLUSTER_TIMING = { heartbeat_ms: 250, lease_ms: 2000, node_timeout_ms: 1500, audit_deadline_ms: 1000 };

/**
 * Several real Keyhold nodes on one PostgreSQL database: `keyhold init` once, then every
 * node gets a copy of that data directory (the same seal key, TLS files and keyhold.toml)
 * and its own node id, as docs/deployment.md tells operators to do.
 */
export async function startCluster(opts: { url: string; ids: string[]; cluster?: Record<string, number>; env?: Record<string, string> }): Promise<TestCluster> {
  const seedDir = mkdtempSync(join(tmpdir(), 'keyhold-cluster-'));
  const env = { KEYHOLD_LOG_LEVEL: 'info', KEYHOLD_WORKERS: '1', KEYHOLD_STORAGE_TYPE: 'postgres', KEYHOLD_STORAGE_URL: opts.url, ...opts.env };
  const init = await runCli(['--data-dir', seedDir, '--json', 'init'], { env });
  if (init.code !== 0) throw new Error(`keyhold init failed: ${init.stderr}`);
  const demo = (JSON.parse(init.stdout) as { demo: DemoInfo }).demo;
  setConfigValues(seedDir, 'cluster', { ...TEST_CLUSTER_TIMING, ...opts.cluster });
  // The scheduler runs every second so a takeover shows in a test.
  setConfigValues(seedDir, 'admin', { scheduler_interval_seconds: 1 });
  const nodes: ClusterNode[] = [];

  function makeNode(id: string, url: string): ClusterNode {
    const dataDir = mkdtempSync(join(tmpdir(), `keyhold-${id}-`));
    cpSync(seedDir, dataDir, { recursive: true });
    const nodeEnv = { ...env, KEYHOLD_STORAGE_URL: url, KEYHOLD_NODE_ID: id };
    let child: ChildProcess | undefined;
    let out = '';
    let port = 0;
    let adminPort = 0;
    const node: ClusterNode = {
      id,
      dataDir,
      get port() {
        return port;
      },
      get adminPort() {
        return adminPort;
      },
      get url() {
        return `https://localhost:${port}`;
      },
      output: () => out,
      running: () => child !== undefined,
      pid: () => child?.pid,
      async start() {
        if (child) throw new Error(`${id} already runs`);
        const c = reap(spawn(process.execPath, [BIN, '--data-dir', dataDir, 'start', '--xks-listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${adminPort}`], { env: { ...process.env, ...nodeEnv }, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
        child = c;
        await new Promise<void>((ready, fail) => {
          let buf = '';
          c.stdout!.on('data', (d: Buffer) => {
            out += d.toString();
            buf += d.toString();
            const m = /"event":"started","xks":"[^"]*:(\d+)","admin":(?:"[^"]*:(\d+)"|null)/.exec(buf);
            if (m) {
              port = Number(m[1]);
              adminPort = Number(m[2] ?? 0);
              ready();
            }
          });
          c.stderr!.on('data', (d: Buffer) => (out += d.toString()));
          c.once('exit', (code, signal) => {
            if (child === c) child = undefined;
            fail(new Error(`${id} exited (${code ?? signal}) before it was ready:\n${out}`));
          });
        });
      },
      stop: () => stopWith('SIGTERM'),
      kill: () => stopWith('SIGKILL'),
      cli: (args) => runCli(['--data-dir', dataDir, ...args], { env: nodeEnv }),
      async json<T>(args: string[]) {
        const r = await runCli(['--data-dir', dataDir, '--json', ...args], { env: nodeEnv });
        if (r.code !== 0) throw new Error(`keyhold ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
        return JSON.parse(r.stdout) as T;
      },
    };
    function stopWith(signal: NodeJS.Signals): Promise<void> {
      const c = child;
      if (!c) return Promise.resolve();
      return new Promise((done) => {
        c.once('exit', () => {
          if (child === c) child = undefined;
          done();
        });
        c.kill(signal);
      });
    }
    return node;
  }

  const cluster: TestCluster = {
    nodes,
    demo,
    caPem: readFileSync(join(seedDir, 'tls', 'server.crt'), 'utf8'),
    async addNode(id, url = opts.url) {
      const n = makeNode(id, url);
      nodes.push(n);
      await n.start();
      return n;
    },
    async dispose() {
      for (const n of nodes) {
        await n.stop();
        rmSync(n.dataDir, { recursive: true, force: true });
      }
      rmSync(seedDir, { recursive: true, force: true });
    },
  };
  try {
    for (const id of opts.ids) await cluster.addNode(id);
  } catch (e) {
    await cluster.dispose();
    throw e;
  }
  return cluster;
}

/**
 * A TCP relay between a node and PostgreSQL that can be cut like a network partition:
 * partition() stops forwarding in both directions (bytes are dropped, nothing is closed, new
 * connections are accepted and left hanging), heal() resets every held connection (as a
 * peer's keepalive eventually would) and forwards new ones again.
 */
export interface TcpProxy {
  port: number;
  partition(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let cut = false;
  const pairs = new Set<{ a: Socket; b: Socket | undefined }>();
  const server: Server = createNetServer((a) => {
    const pair: { a: Socket; b: Socket | undefined } = { a, b: undefined };
    pairs.add(pair);
    a.on('error', () => undefined);
    a.on('close', () => {
      pairs.delete(pair);
      pair.b?.destroy();
    });
    if (cut) {
      a.pause();
      return;
    }
    const b = connect(target.port, target.host);
    pair.b = b;
    b.on('error', () => a.destroy());
    b.on('close', () => a.destroy());
    a.on('data', (d) => {
      if (!cut) b.write(d);
    });
    b.on('data', (d) => {
      if (!cut) a.write(d);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    partition() {
      cut = true;
    },
    heal() {
      for (const p of [...pairs]) {
        p.a.resetAndDestroy();
        p.b?.destroy();
      }
      pairs.clear();
      cut = false;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const p of pairs) {
          p.a.destroy();
          p.b?.destroy();
        }
        server.close(() => r());
      }),
  };
}
