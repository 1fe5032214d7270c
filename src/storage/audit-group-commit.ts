import type { AuditTelemetry } from '../domain/telemetry.js';

/**
 * Group commit: the records of concurrent callers are written in one transaction, and each
 * caller's promise settles only after that transaction committed (or failed).
 *
 * One commit is in flight at a time. While it runs, new records queue; when it ends, the
 * queue is committed at once, so batches grow with the load and a slow fsync is paid once
 * per batch rather than once per record. An idle writer waits `delayMs` (0: until the
 * current event-loop turn ends) before committing, and commits at once when `maxBatch`
 * records are waiting.
 */
export interface GroupCommitOptions<R, E> {
  commit(batch: R[]): Promise<E[]>;
  maxBatch: number;
  delayMs: number;
  /** Told once per batch: queue depth and commit time (the metrics). */
  telemetry?: AuditTelemetry | undefined;
}

export interface GroupCommitter<R, E> {
  append(items: readonly R[]): Promise<E[]>;
  /** Commits what is queued, then refuses new work. */
  close(): Promise<void>;
  stats(): { batches: number; items: number; largestBatch: number };
  /** Items waiting for a transaction (not counting the one being committed). */
  backlog(): number;
}

interface Waiter<R, E> {
  items: readonly R[];
  resolve(entries: E[]): void;
  reject(e: unknown): void;
}

export function createGroupCommitter<R, E>(opts: GroupCommitOptions<R, E>): GroupCommitter<R, E> {
  let queue: Waiter<R, E>[] = [];
  let queued = 0;
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  let closed = false;
  const stats = { batches: 0, items: 0, largestBatch: 0 };

  function cancelTimer(): void {
    if (timer === undefined) return;
    if (opts.delayMs > 0) clearTimeout(timer as NodeJS.Timeout);
    else clearImmediate(timer as NodeJS.Immediate);
    timer = undefined;
  }

  function schedule(): void {
    if (inFlight || timer !== undefined || queue.length === 0) return;
    if (queued >= opts.maxBatch) return flush();
    const fire = () => {
      timer = undefined;
      flush();
    };
    timer = opts.delayMs > 0 ? setTimeout(fire, opts.delayMs) : setImmediate(fire);
  }

  function take(): Waiter<R, E>[] {
    if (queued <= opts.maxBatch) {
      const all = queue;
      queue = [];
      queued = 0;
      return all;
    }
    // Never split one caller's records across transactions.
    let n = 0;
    let i = 0;
    while (i < queue.length && (i === 0 || n + queue[i]!.items.length <= opts.maxBatch)) n += queue[i++]!.items.length;
    const taken = queue.slice(0, i);
    queue = queue.slice(i);
    queued -= n;
    return taken;
  }

  function flush(): void {
    if (inFlight || queue.length === 0) return;
    cancelTimer();
    const taken = take();
    const batch = taken.length === 1 ? [...taken[0]!.items] : taken.flatMap((w) => w.items);
    stats.batches++;
    stats.items += batch.length;
    if (batch.length > stats.largestBatch) stats.largestBatch = batch.length;
    const telemetry = opts.telemetry;
    const started = telemetry ? performance.now() : 0;
    telemetry?.auditQueueDepth(queued + batch.length);
    let committing: Promise<E[]>;
    try {
      committing = opts.commit(batch);
    } catch (e) {
      committing = Promise.reject(e);
    }
    inFlight = committing
      .then(
        (entries) => {
          if (telemetry) {
            telemetry.auditCommit(batch.length, (performance.now() - started) / 1000);
            telemetry.auditQueueDepth(queued);
          }
          let i = 0;
          for (const w of taken) {
            w.resolve(entries.slice(i, i + w.items.length));
            i += w.items.length;
          }
        },
        (e: unknown) => {
          for (const w of taken) w.reject(e);
        },
      )
      .finally(() => {
        inFlight = undefined;
        // What queued during this commit has waited long enough: commit it now.
        flush();
      });
  }

  return {
    append(items) {
      if (closed) return Promise.reject(new Error('the audit writer is closed'));
      if (items.length === 0) return Promise.resolve([]);
      return new Promise<E[]>((resolve, reject) => {
        queue.push({ items, resolve, reject });
        queued += items.length;
        if (queued >= opts.maxBatch) flush();
        else schedule();
      });
    },
    async close() {
      closed = true;
      while (inFlight || queue.length) {
        flush();
        await inFlight;
      }
    },
    stats: () => ({ ...stats }),
    backlog: () => queued,
  };
}
