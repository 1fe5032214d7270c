/**
 * One server per data directory: `keyhold start` creates <data-dir>/keyhold.pid exclusively
 * (O_EXCL) and removes it when it exits. A file whose process is gone (kill -9, a crash, a
 * reboot) is stale and taken over. After start the file also says where the server listens,
 * which is how `keyhold status` finds it.
 */
import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KeyholdError } from '../base/index.js';

export const RUN_FILE_NAME = 'keyhold.pid';

export interface RunInfo {
  pid: number;
  startedAt: string;
  /**
   * The data directory the server runs on (absolute). A copied data directory (a new
   * cluster node made from a copy) carries the file of the server it was copied from:
   * that file is not a lock on the copy.
   */
  dataDir?: string;
  /** host:port of each listener, once the server is ready. */
  xks?: string;
  admin?: string | null;
  metrics?: string | null;
  workers?: number;
}

export interface RunLock {
  /** Records the listeners once the server is ready. */
  ready(listeners: Pick<RunInfo, 'xks' | 'admin' | 'metrics' | 'workers'>): void;
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: it exists, under another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A pid reused by another program after a reboot is not our server.
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('keyhold');
  } catch {
    return true;
  }
}

function parse(text: string): RunInfo | undefined {
  try {
    const v = JSON.parse(text) as RunInfo;
    return Number.isInteger(v.pid) && v.pid > 0 ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The server running on this data directory, if one is. */
export function runningServer(dataDir: string): RunInfo | undefined {
  let text: string;
  try {
    text = readFileSync(join(dataDir, RUN_FILE_NAME), 'utf8');
  } catch {
    return undefined;
  }
  const info = parse(text);
  return info && ours(info, dataDir) && alive(info.pid) ? info : undefined;
}

function ours(info: RunInfo, dataDir: string): boolean {
  return info.dataDir === undefined || info.dataDir === resolve(dataDir);
}

function describe(dataDir: string, info: RunInfo): string {
  const where = info.xks ? `, XKS on ${info.xks}${info.admin ? `, admin API on ${info.admin}` : ''}` : '';
  return `keyhold is already running on ${dataDir} (pid ${info.pid}, since ${info.startedAt}${where}); stop it first, or give this one another --data-dir`;
}

export function acquireRunLock(dataDir: string): RunLock {
  const path = join(dataDir, RUN_FILE_NAME);
  const mine: RunInfo = { pid: process.pid, startedAt: new Date().toISOString(), dataDir: resolve(dataDir) };
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2) throw new KeyholdError('Conflict', `cannot create ${path}: ${(e as Error).message}`);
      let text = '';
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        continue; // removed meanwhile: try again
      }
      const other = parse(text);
      // A file being written this instant reads empty: only a parsed, live pid refuses.
      if (other && ours(other, dataDir) && alive(other.pid)) throw new KeyholdError('Conflict', describe(dataDir, other));
      if (!other && text === '' && attempt === 0) {
        // Give a starting server the moment it needs to write its pid.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
        continue;
      }
      try {
        unlinkSync(path); // stale
      } catch {
        /* another start took it over first; the next attempt sees its file */
      }
      continue;
    }
    writeSync(fd, JSON.stringify(mine));
    closeSync(fd);
    break;
  }
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    try {
      const now = parse(readFileSync(path, 'utf8'));
      if (now?.pid === process.pid) unlinkSync(path);
    } catch {
      /* already gone */
    }
  };
  process.once('exit', release);
  return {
    ready(listeners) {
      if (!held) return;
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ ...mine, ...listeners }), { mode: 0o600 });
      renameSync(tmp, path);
    },
    release,
  };
}
