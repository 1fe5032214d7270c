/**
 * A lane holds one PKCS#11 session and runs one call at a time; the pool never sends a
 * second request before the first settles, even when the caller stopped waiting for it
 * (time budget exceeded).
 *
 * Two kinds, chosen by [hsm] dispatch:
 * - threads (default): the session lives on its own worker thread. A slow or stalled token
 *   blocks that thread only; the event loop keeps serving, and the caller's deadline fires.
 *   Each call costs two messages between threads (tens of microseconds of CPU).
 * - inline: the session's calls run on the calling thread. No crossing, but a call blocks
 *   the event loop for as long as the token takes, and a stalled token stalls the proxy
 *   (deadlines cannot interrupt a call that is running). Only for tokens that answer in
 *   microseconds and cannot hang, such as a local software token.
 */
import { Worker } from 'node:worker_threads';
import type { RequestOf, WorkerFailure, WorkerMessage, WorkerOp, WorkerReply, WorkerResults } from './pkcs11-protocol.js';
import { createPkcs11SessionHandler, type Pkcs11SessionHandler } from './pkcs11-session.js';

export type LaneOutcome<O extends WorkerOp> = { ok: true; result: WorkerResults[O] } | { ok: false; failure: WorkerFailure };

export type Dispatch = 'threads' | 'inline';

export interface Lane {
  readonly index: number;
  /** Pool generation in which this lane's session was opened; -1 when it has none. */
  sessionGeneration: number;
  /** Generation in which the lane last opened a session (kept when the pool drops it). */
  openedGeneration: number;
  busy: boolean;
  /** Requests sent and not yet answered. */
  readonly inFlight: number;
  readonly alive: boolean;
  /** Sends one request; the promise settles when the session answers (never rejects). */
  send<O extends WorkerOp>(req: RequestOf<O>): Promise<LaneOutcome<O>>;
  /** Resolves when the request most recently sent has been answered. */
  idle(): Promise<void>;
  terminate(): Promise<void>;
}

export function createLane(index: number, dispatch: Dispatch): Lane {
  return dispatch === 'inline' ? new InlineLane(index) : new Pkcs11Lane(index);
}

const WORKER_URL = new URL('./pkcs11-worker.js', import.meta.url);

const outcomeOf = <O extends WorkerOp>(reply: WorkerReply): LaneOutcome<O> => (reply.ok ? { ok: true, result: reply.result as WorkerResults[O] } : { ok: false, failure: reply.failure });

/** A session on the calling thread: each call runs to completion inside send(). */
export class InlineLane implements Lane {
  private readonly handler: Pkcs11SessionHandler = createPkcs11SessionHandler();
  private seq = 0;
  private dead: string | undefined;
  sessionGeneration = -1;
  openedGeneration = -1;
  busy = false;
  readonly inFlight = 0;

  constructor(readonly index: number) {}

  get alive(): boolean {
    return this.dead === undefined;
  }

  send<O extends WorkerOp>(req: RequestOf<O>): Promise<LaneOutcome<O>> {
    if (this.dead) return Promise.resolve({ ok: false, failure: { call: 'initialize', message: this.dead, keyhold: 'internal' } });
    const msg: WorkerMessage = { id: ++this.seq, ...req };
    return Promise.resolve(outcomeOf<O>(this.handler.run(msg)));
  }

  idle(): Promise<void> {
    return Promise.resolve();
  }

  terminate(): Promise<void> {
    this.dead ??= 'lane closed';
    return Promise.resolve();
  }
}

/** Main-thread handle on one PKCS#11 worker thread. */
export class Pkcs11Lane implements Lane {
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
    // A lane allocates a few small buffers per call; V8's default young generation (up to
    // 48 MiB per isolate) would multiply resident memory by the number of sessions.
    this.worker = new Worker(WORKER_URL, { resourceLimits: { maxYoungGenerationSizeMb: 2 } });
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
      this.pending.set(id, (reply) => resolve(outcomeOf<O>(reply)));
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
