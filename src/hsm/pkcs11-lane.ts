/**
 * Main-thread handle on one PKCS#11 worker thread ("lane"), which holds one session.
 * A lane runs one call at a time; the pool never sends a second request before the first
 * settles, even when the caller stopped waiting for it (time budget exceeded).
 */
import { Worker } from 'node:worker_threads';
import type { RequestOf, WorkerFailure, WorkerMessage, WorkerOp, WorkerReply, WorkerResults } from './pkcs11-protocol.js';

export type LaneOutcome<O extends WorkerOp> = { ok: true; result: WorkerResults[O] } | { ok: false; failure: WorkerFailure };

const WORKER_URL = new URL('./pkcs11-worker.js', import.meta.url);

export class Pkcs11Lane {
  private readonly worker: Worker;
  private seq = 0;
  private readonly pending = new Map<number, (reply: WorkerReply) => void>();
  private current: Promise<unknown> = Promise.resolve();
  private dead: string | undefined;
  /** Pool generation in which this lane's session was opened; -1 when it has none. */
  sessionGeneration = -1;
  /** Generation in which the worker last opened a session (kept when the pool drops it). */
  openedGeneration = -1;
  busy = false;

  constructor(readonly index: number) {
    this.worker = new Worker(WORKER_URL);
    // A pool that is not closed must not keep the process alive on its own; requests in
    // flight are kept alive by their time-budget timers.
    this.worker.unref();
    this.worker.on('message', (reply: WorkerReply) => {
      const done = this.pending.get(reply.id);
      if (done) {
        this.pending.delete(reply.id);
        done(reply);
      }
    });
    const fail = (why: string) => {
      this.dead = why;
      for (const [id, done] of this.pending) done({ id, ok: false, failure: { call: 'initialize', message: why, keyhold: 'internal' } });
      this.pending.clear();
    };
    this.worker.on('error', (e) => fail(`PKCS#11 worker failed: ${e.message}`));
    this.worker.on('exit', (code) => fail(`PKCS#11 worker exited (${code})`));
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.pending.size;
  }

  get alive(): boolean {
    return this.dead === undefined;
  }

  /** Sends one request; the promise settles when the worker answers (never rejects). */
  send<O extends WorkerOp>(req: RequestOf<O>): Promise<LaneOutcome<O>> {
    if (this.dead) return Promise.resolve({ ok: false, failure: { call: 'initialize', message: this.dead, keyhold: 'internal' } });
    const id = ++this.seq;
    const p = new Promise<LaneOutcome<O>>((resolve) => {
      this.pending.set(id, (reply) => resolve(reply.ok ? { ok: true, result: reply.result as WorkerResults[O] } : { ok: false, failure: reply.failure }));
    });
    const msg: WorkerMessage = { id, ...req };
    this.worker.postMessage(msg);
    this.current = p;
    return p;
  }

  /** Resolves when the request most recently sent has been answered. */
  idle(): Promise<void> {
    return this.current.then(
      () => undefined,
      () => undefined,
    );
  }

  async terminate(): Promise<void> {
    this.dead ??= 'lane closed';
    await this.worker.terminate();
  }
}
