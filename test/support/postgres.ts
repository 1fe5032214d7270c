import { reap } from './reaper.js';
import { spawnSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, chmodSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';

export interface ThrowawayPostgres {
  url: string;
  /** Creates another empty database on the same cluster and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** `pg_ctl stop -m immediate`: every connection dies at once, as in a crash or failover. */
  crash(): Promise<void>;
  /** Starts the server again on the same port and data directory (after crash()). */
  restart(): Promise<void>;
  port: number;
  stop(): Promise<void>;
}

function pgBin(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).sort() : [];
  const bin = versions.length ? join(base, versions[versions.length - 1]!, 'bin') : '';
  if (!bin || !existsSync(join(bin, 'initdb'))) {
    throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql (Debian package "postgresql"); run scripts/install-system-deps.sh');
  }
  return bin;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** PostgreSQL refuses to run as root: run its tools as the "postgres" user when we are root. */
function asPgUser(cmd: string, args: string[]): [string, string[]] {
  // setpriv execs the command (runuser would stay as its parent), so killing the child kills PostgreSQL.
  return process.getuid?.() === 0 ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', cmd, ...args]] : [cmd, args];
}

/**
 * A real PostgreSQL server for one test run: a fresh cluster in a temp directory, on a free
 * loopback port, trust authentication for the local user; removed by stop().
 */
export async function startPostgres(): Promise<ThrowawayPostgres> {
  const bin = pgBin();
  const dir = mkdtempSync(join(tmpdir(), 'keyhold-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const user = process.getuid?.() === 0 ? 'postgres' : (process.env.USER ?? 'postgres');
  const run = (cmd: string, args: string[]) => {
    const [c, a] = asPgUser(join(bin, cmd), args);
    const r = spawnSync(c, a, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
  };
  run('initdb', ['-D', data, '-A', 'trust', '-U', user, '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  let log = '';
  let server!: ReturnType<typeof spawn>;
  const launch = async () => {
    const [c, a] = asPgUser(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=on']);
    server = reap(spawn(c, a, { stdio: ['ignore', 'ignore', 'pipe'] }));
    const s = server;
    s.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 20_000;
      const tick = () => {
        const r = spawnSync(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)], { encoding: 'utf8' });
        if (r.status === 0) return resolve();
        if (Date.now() > deadline || s.exitCode !== null) return reject(new Error(`postgres did not start:\n${log}`));
        setTimeout(tick, 100);
      };
      tick();
    });
  };
  const halt = () =>
    new Promise<void>((resolve) => {
      if (server.exitCode !== null) return resolve();
      server.once('exit', () => resolve());
      // runuser does not forward signals: ask pg_ctl to stop the postmaster directly.
      run('pg_ctl', ['-D', data, 'stop', '-m', 'immediate', '-w']);
    });
  await launch();
  const urlFor = (db: string) => `postgres://${user}@127.0.0.1:${port}/${db}`;
  const psql = (sql: string) => {
    const r = spawnSync(join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', user, '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  };
  psql('CREATE DATABASE keyhold');
  return {
    url: urlFor('keyhold'),
    async createDatabase(name) {
      psql(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
      return urlFor(name);
    },
    port,
    crash: halt,
    restart: launch,
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
