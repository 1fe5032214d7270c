import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';

/**
 * Child processes pinned to one core with taskset: the server under test on one core, the
 * load generator on the other, so neither steals the other's CPU.
 */
export interface Pinned {
  child: ChildProcess;
  pid: number;
  /** Milliseconds from spawn to the readiness line. */
  readyMs: number;
  /** Whatever matched the readiness pattern. */
  match: RegExpExecArray;
  /** Bytes the process wrote to stdout/stderr (drained and discarded, as a log shipper would). */
  outputBytes(): number;
  /** The last lines of output, for error messages. */
  tail(): string;
  stop(): Promise<void>;
}

export function haveTaskset(): boolean {
  return spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;
}

/** Pins this process (all its threads) to a core. */
export function pinSelf(core: number): void {
  spawnSync('taskset', ['-a', '-cp', String(core), String(process.pid)], { stdio: 'ignore' });
}

export function spawnPinned(core: number, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; ready: RegExp; timeoutMs?: number }): Promise<Pinned> {
  const started = performance.now();
  const child = spawn('taskset', ['-c', String(core), cmd, ...args], { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let bytes = 0;
  let tail = '';
  let scan = '';
  let ready: ((p: Pinned) => void) | undefined;
  // KEYHOLD_BENCH_SERVER_LOG=FILE keeps a copy of every server's output (to see what failed).
  const copyTo = process.env.KEYHOLD_BENCH_SERVER_LOG;
  const keep = (d: Buffer) => {
    bytes += d.length;
    if (copyTo) appendFileSync(copyTo, d);
    tail = (tail + d.toString()).slice(-4000);
  };
  return new Promise<Pinned>((resolve, reject) => {
    ready = resolve;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} was not ready after ${opts.timeoutMs ?? 30_000} ms:\n${tail}`));
    }, opts.timeoutMs ?? 30_000);
    const onData = (d: Buffer) => {
      keep(d);
      if (!ready) return;
      scan = (scan + d.toString()).slice(-8000);
      const m = opts.ready.exec(scan);
      if (m) {
        clearTimeout(timer);
        const readyMs = performance.now() - started;
        const r = ready;
        ready = undefined;
        r({
          child,
          pid: child.pid!,
          readyMs,
          match: m,
          outputBytes: () => bytes,
          tail: () => tail,
          stop: () => stop(child),
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      if (ready) {
        clearTimeout(timer);
        reject(new Error(`${cmd} exited (${code ?? signal}) before it was ready:\n${tail}`));
      }
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Resident set size of a process in MiB (VmRSS), or undefined when it is gone. */
export function rssMiB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Samples RSS every intervalMs until stopped; returns the largest value seen. */
export function sampleRss(pids: readonly number[], intervalMs = 250): () => number {
  let max = 0;
  const take = () => {
    let total = 0;
    for (const p of pids) total += rssMiB(p) ?? 0;
    if (total > max) max = total;
  };
  take();
  const t = setInterval(take, intervalMs);
  return () => {
    clearInterval(t);
    take();
    return max;
  };
}

/** CPU time (user+system, seconds) a process has used so far, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** Busy and total jiffies (1/100 s) of the whole machine or of one core, from /proc/stat. */
export function machineJiffies(core?: number): { busy: number; total: number } {
  const name = core === undefined ? 'cpu' : `cpu${core}`;
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(name + ' ')) ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * Waits until the machine has been nearly idle for a second (other work on a shared machine
 * distorts every figure), at most maxWaitMs. Returns the busy share seen last (0..1).
 */
export async function waitForQuiet(maxWaitMs: number, threshold = 0.1): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const a = machineJiffies();
    await new Promise((r) => setTimeout(r, 1000));
    const b = machineJiffies();
    const busy = (b.busy - a.busy) / Math.max(1, b.total - a.total);
    if (busy < threshold || Date.now() >= deadline) return busy;
  }
}

const STALL_PROBE = `const end=Date.now()+2000;let last=process.hrtime.bigint(),stalled=0n;
while(Date.now()<end){const t=process.hrtime.bigint();if(t-last>1000000n)stalled+=t-last;last=t}
process.stdout.write(String(Number(stalled)/2e9))`;

/**
 * Spins on a core for 2 s and returns the share of that time the process did not run
 * (gaps over 1 ms): other processes, or a host that takes the virtual CPU away.
 */
export function stalledShare(core: number): number {
  const r = spawnSync('taskset', ['-c', String(core), process.execPath, '-e', STALL_PROBE], { encoding: 'utf8' });
  return Number(r.stdout);
}
