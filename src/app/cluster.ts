import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../base/index.js';
import { createMetricsListener, serveClusterMetrics, type MetricsListener } from '../metrics/index.js';
import type { Config } from './config.js';
import { openStorage } from './context.js';
import { listenAs } from './listen.js';

/**
 * `keyhold start --workers N`: a primary process that forks N workers with node:cluster.
 * Every worker runs the whole XKS plane and listens on the one XKS address (the primary
 * hands out connections round-robin); worker 0 also runs the admin listener and the
 * lifecycle scheduler. Caches stay coherent because each worker watches storage for
 * changes (SQLite data_version, PostgreSQL notifications), exactly as separate nodes do.
 *
 * The primary migrates the database before forking (workers would race each other), prints
 * the banner once every worker listens, serves the [metrics] listener with every worker's
 * metrics, replaces a worker that dies, and stops them all on SIGTERM/SIGINT.
 */
export const WORKER_INDEX_ENV = 'KEYHOLD_WORKER_INDEX';
export const WORKER_COUNT_ENV = 'KEYHOLD_WORKER_COUNT';

/** What a worker tells the primary once it serves. */
export interface WorkerReady {
  type: 'keyhold:ready';
  index: number;
  xks: AddressInfo;
  admin: AddressInfo | undefined;
  demoPresent: boolean;
}

const isReady = (m: unknown): m is WorkerReady => typeof m === 'object' && m !== null && (m as WorkerReady).type === 'keyhold:ready';

/**
 * What a worker that could not start tells the primary instead of printing it: every worker
 * fails alike (a busy port, say), and the operator should read the reason once.
 */
interface WorkerFailed {
  type: 'keyhold:start-failed';
  index: number;
  text: string;
}
const isFailed = (m: unknown): m is WorkerFailed => typeof m === 'object' && m !== null && (m as WorkerFailed).type === 'keyhold:start-failed' && typeof (m as WorkerFailed).text === 'string';

/** In a worker that failed before it was ready: hands the primary the lines to print. */
export async function reportStartFailure(index: number, text: string): Promise<void> {
  await new Promise<void>((resolve) => {
    if (!process.send?.({ type: 'keyhold:start-failed', index, text } satisfies WorkerFailed, undefined, {}, () => resolve())) resolve();
  });
}

/** In a worker: its index and the worker count, from the environment the primary set. */
export function workerRole(): { index: number; count: number } | undefined {
  if (!cluster.isWorker) return undefined;
  const index = Number(process.env[WORKER_INDEX_ENV]);
  const count = Number(process.env[WORKER_COUNT_ENV]);
  return Number.isInteger(index) && Number.isInteger(count) && count > 0 ? { index, count } : undefined;
}

export function reportReady(r: Omit<WorkerReady, 'type'>): void {
  process.send?.({ type: 'keyhold:ready', ...r } satisfies WorkerReady);
}

export interface ClusterStarted {
  workers: WorkerReady[];
  metricsAddress: AddressInfo | undefined;
  /** Resolves when every worker has stopped after stop(), or after a fatal restart loop. */
  stopped: Promise<number>;
  stop(signal: string): void;
}

/** Restarts allowed in RESTART_WINDOW_MS before the primary gives up. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

/**
 * Forks the workers and resolves once all of them serve. A worker that fails before it is
 * ready fails the start: the rejection carries its exit code and the lines it would have
 * printed (`text`; see reportStartFailure), for the caller to print once.
 */
export async function startCluster(config: Readonly<Config>, log: Logger, count: number): Promise<ClusterStarted> {
  // Migrations run once, here, before any worker opens the database.
  await (await openStorage(config)).close();

  const metrics = serveClusterMetrics();
  let metricsListener: MetricsListener | undefined;
  let metricsAddress: AddressInfo | undefined;
  if (config.metrics.listen) {
    metricsListener = createMetricsListener({ render: () => metrics.render(), contentType: metrics.contentType, log });
    metricsAddress = await listenAs('metrics', 'metrics.listen', config.metrics.listen.host, config.metrics.listen.port, () => metricsListener!.listen(config.metrics.listen!.host, config.metrics.listen!.port));
  }

  const byIndex = new Map<number, Worker>();
  let stopping = false;
  const restarts: number[] = [];
  let resolveStopped: (code: number) => void = () => undefined;
  const stopped = new Promise<number>((r) => (resolveStopped = r));

  // The young generation's default (2 x 16 MiB semi-spaces) made the RSS of a worker under
  // load swing from 145 to 190 MiB; at 8 MiB it stays near 130 MiB with the same CPU per
  // request (docs/performance.md). An operator's own setting wins.
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (!flags.some((f) => f.startsWith('--max-semi-space-size'))) cluster.setupPrimary({ execArgv: [...process.execArgv, '--max-semi-space-size=8'] });

  const fork = (index: number): Worker => {
    const w = cluster.fork({ [WORKER_INDEX_ENV]: String(index), [WORKER_COUNT_ENV]: String(count) });
    byIndex.set(index, w);
    return w;
  };

  const ready = await new Promise<WorkerReady[]>((resolve, reject) => {
    const seen = new Map<number, WorkerReady>();
    let failure: string | undefined;
    for (let i = 0; i < count; i++) {
      const w = fork(i);
      w.on('message', (m: unknown) => {
        if (isFailed(m)) failure ??= m.text;
        if (!isReady(m) || seen.has(m.index)) return;
        seen.set(m.index, m);
        if (seen.size === count) resolve([...seen.values()].sort((a, b) => a.index - b.index));
      });
      w.once('exit', (code, signal) => {
        if (seen.has(i)) return;
        for (const other of byIndex.values()) if (other !== w && !other.isDead()) other.process.kill('SIGTERM');
        // The first worker's reason is printed once, by the primary (startCluster's caller).
        reject(Object.assign(new Error(`worker ${i} exited before it was ready (${signal ?? `exit code ${code}`})`), { exitCode: code || 1, text: failure }));
      });
    }
  }).catch(async (e: unknown) => {
    metrics.close();
    await metricsListener?.close();
    throw e;
  });

  // From here on a dead worker is replaced, unless it keeps dying.
  const supervise = (index: number, w: Worker) => {
    w.once('exit', (code, signal) => {
      byIndex.delete(index);
      if (stopping) {
        if (byIndex.size === 0) finish(0);
        return;
      }
      const now = Date.now();
      restarts.push(now);
      while (restarts.length && restarts[0]! < now - RESTART_WINDOW_MS) restarts.shift();
      if (restarts.length > MAX_RESTARTS) {
        log.error({ event: 'worker_restart_loop', index, restarts: restarts.length }, 'workers keep dying; stopping keyhold');
        stop('restart-loop', 1);
        return;
      }
      log.error({ event: 'worker_exited', index, code, signal }, 'worker exited; starting a new one');
      const next = fork(index);
      supervise(index, next);
    });
  };
  for (const [i, w] of byIndex) supervise(i, w);

  let exitCode = 0;
  let killTimer: NodeJS.Timeout | undefined;
  const finish = (code: number) => {
    if (killTimer) clearTimeout(killTimer);
    metrics.close();
    void (metricsListener?.close() ?? Promise.resolve()).then(() => resolveStopped(exitCode || code));
  };
  const stop = (signal: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    log.info({ event: 'stopping', signal, workers: byIndex.size }, 'shutting down');
    if (byIndex.size === 0) return finish(code);
    for (const w of byIndex.values()) if (!w.isDead()) w.process.kill('SIGTERM');
    killTimer = setTimeout(() => {
      for (const w of byIndex.values()) if (!w.isDead()) w.process.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    killTimer.unref();
  };

  return { workers: ready, metricsAddress, stopped, stop };
}
