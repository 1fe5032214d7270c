/**
 * Bounded pool of PKCS#11 sessions. Every HSM call goes through `withSession`, which
 *
 *  - leases one lane (a worker thread holding one logged-in session), waiting in line when
 *    all `maxSessions` are busy;
 *  - enforces one time budget (deadline) for the whole operation, lease included, and
 *    answers DependencyTimeout when it runs out, long before KMS gives up at 250 ms;
 *  - classifies failures (error-classifier.ts) and acts on them: keep the session after a
 *    data error, drop it after a session error, re-initialise the module after a device
 *    error, stop logging in after the PIN is refused.
 *
 * A call that overran its budget keeps running on its worker; the lane returns to the pool
 * only when the worker has answered, so a session is never used by two calls at once.
 */
import { KeyholdError, systemClock, type Clock, type ErrorCode } from '../base/index.js';
import type { CapabilityProfile } from './capability-profile.js';
import { CKR, ckrName } from './ckr.js';
import { classifyPkcs11Error, type FailureClass, type Pkcs11Call } from './error-classifier.js';
import { createLane, type Dispatch, type Lane, type LaneOutcome } from './pkcs11-lane.js';
import type { RequestOf, TokenInfo, WorkerFailure, WorkerOp, WorkerResults } from './pkcs11-protocol.js';
import { noHsmTelemetry, type HsmTelemetry } from '../domain/telemetry.js';

export interface SessionPoolOptions {
  modulePath: string;
  tokenLabel: string;
  /** The user PIN, or null for tokens that need no login. Never logged. */
  pin: string | null;
  maxSessions: number;
  /** Time budget of one backend operation (lease + every call it makes). */
  callTimeoutMs: number;
  profile: CapabilityProfile;
  clock?: Clock | undefined;
  /** How long a re-initialisation waits for calls in flight before abandoning their lanes. */
  drainMs?: number | undefined;
  /** Budget for opening a new session in the background (worker start, module load, login). */
  openTimeoutMs?: number | undefined;
  /** Minimum gap between two re-initialisations while a token stays absent. */
  reinitIntervalMs?: number | undefined;
  onEvent?: ((e: PoolEvent) => void) | undefined;
  /** Where PKCS#11 calls run: worker threads (default) or the calling thread (see pkcs11-lane.ts). */
  dispatch?: Dispatch | undefined;
}

export type PoolState = 'ready' | 'reinitialising' | 'login-refused' | 'closed';

export type PoolEvent =
  | { type: 'session-dropped'; lane: number; reason: string }
  | { type: 'reinitialise'; reason: string; generation: number }
  | { type: 'lane-abandoned'; lane: number }
  | { type: 'login-refused'; reason: string };

/** A PKCS#11 failure, already classified. Messages carry the CK_RV name, never data. */
export class Pkcs11Error extends KeyholdError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly failureClass: FailureClass | 'timeout',
    readonly call: Pkcs11Call,
    readonly ckr: number | undefined,
  ) {
    super(code, message);
  }
}

export interface Pkcs11Session {
  call<O extends WorkerOp>(req: RequestOf<O>): Promise<WorkerResults[O]>;
  /** Epoch ms after which the operation has failed. */
  readonly deadline: number;
  /** Module generation; object handles from an older generation are stale. */
  readonly generation: number;
}

export interface SessionPoolStats {
  state: PoolState;
  lanes: number;
  busy: number;
  waiting: number;
  generation: number;
  reinitialisations: number;
  token: TokenInfo | undefined;
  /** Set after a device-class failure (token removed, module broken) until a session opens again. */
  deviceTrouble: string | undefined;
}

export interface SessionPool {
  withSession<T>(fn: (s: Pkcs11Session) => Promise<T>, opts?: { deadline?: number | undefined }): Promise<T>;
  /**
   * Opens up to `sessions` sessions now (worker start, module load, login), so the first
   * requests do not pay for it inside KMS's 250 ms.
   */
  warmUp(sessions?: number, timeoutMs?: number): Promise<void>;
  /** Drops every session and re-initialises the module (C_Finalize + C_Initialize). */
  reinitialise(reason: string): Promise<void>;
  stats(): SessionPoolStats;
  /** Where each PKCS#11 call's time and outcome are reported (the metrics). */
  setTelemetry(t: HsmTelemetry): void;
  readonly profile: CapabilityProfile;
  readonly tokenLabel: string;
  readonly callTimeoutMs: number;
  close(): Promise<void>;
}

interface Waiter {
  resolve(lane: Lane): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export function createSessionPool(opts: SessionPoolOptions): SessionPool {
  if (!Number.isInteger(opts.maxSessions) || opts.maxSessions < 1) throw new RangeError('maxSessions must be a positive integer');
  if (!(opts.callTimeoutMs > 0)) throw new RangeError('callTimeoutMs must be positive');
  const clock = opts.clock ?? systemClock;
  const drainMs = opts.drainMs ?? 2000;
  const reinitIntervalMs = opts.reinitIntervalMs ?? 1000;
  const openTimeoutMs = opts.openTimeoutMs ?? 10_000;
  const emit = (e: PoolEvent) => opts.onEvent?.(e);
  const dispatch: Dispatch = opts.dispatch ?? 'threads';
  let telemetry: HsmTelemetry = noHsmTelemetry;

  let state: PoolState = 'ready';
  let generation = 0;
  let reinits = 0;
  let needsReinit = false;
  let lastReinitAt = -Infinity;
  let reinitRunning: Promise<void> | undefined;
  /** Closed while the module is being re-initialised: no PKCS#11 call may start then. */
  let gateClosed = false;
  /** Generation created by the last C_Finalize; sessions opened before it are void. */
  let finalizedGeneration = 0;
  let loginRefusal: string | undefined;
  /** The last device-class failure, until a session opens again. */
  let deviceTrouble: string | undefined;
  let token: TokenInfo | undefined;
  let laneSeq = 0;
  const lanes: Lane[] = [];
  const waiters: Waiter[] = [];

  const timeoutError = (call: Pkcs11Call, what: string) =>
    new Pkcs11Error('DependencyTimeout', `HSM ${what} did not finish within ${opts.callTimeoutMs} ms (token '${opts.tokenLabel}')`, 'timeout', call, undefined);

  /** Races a promise against the deadline; the loser is left to settle on its own. */
  function beforeDeadline<T>(p: Promise<T>, deadline: number, call: Pkcs11Call, what: string): Promise<T> {
    const left = deadline - clock.now();
    if (left <= 0) return Promise.reject(timeoutError(call, what));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(timeoutError(call, what)), left);
      p.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  function classify(f: WorkerFailure): FailureClass {
    if (f.tokenMissing) return 'device';
    if (f.keyhold === 'input') return 'data';
    if (f.keyhold === 'config') return 'config';
    if (f.keyhold === 'internal') return 'session';
    if (f.ckr === undefined) return 'session';
    const cls = classifyPkcs11Error(f.ckr, f.call, opts.profile.tagMismatchCodes);
    // An operation left active would make every later call on this session fail.
    if (f.operationMayBeActive && (cls === 'config' || cls === 'object')) return 'session';
    return cls;
  }

  function errorFor(f: WorkerFailure, cls: FailureClass): Pkcs11Error {
    const where = `token '${opts.tokenLabel}'`;
    if (cls === 'data') {
      let code: ErrorCode = 'Internal';
      if (f.ckr === CKR.KEY_FUNCTION_NOT_PERMITTED) code = 'InvalidKeyUsage';
      else if (f.ckr === CKR.DATA_LEN_RANGE) code = 'TooLarge';
      else if (f.keyhold === 'input') code = 'ValidationFailed';
      else if (f.call === 'decrypt') code = 'InvalidCiphertext';
      return new Pkcs11Error(code, `HSM ${f.message} (${where})`, cls, f.call, f.ckr);
    }
    if (cls === 'login') {
      return new Pkcs11Error(
        'BackendUnavailable',
        `HSM refused the user PIN for ${where} (${f.ckr === undefined ? 'login failed' : ckrName(f.ckr)}); not retrying, to avoid locking the token`,
        cls,
        f.call,
        f.ckr,
      );
    }
    return new Pkcs11Error('BackendUnavailable', `HSM ${f.message} (${where})`, cls, f.call, f.ckr);
  }

  /** Side effects of a failure on the pool, applied even when the caller already gave up. */
  function applyEffects(lane: Lane, f: WorkerFailure, cls: FailureClass): void {
    switch (cls) {
      case 'session':
        if (lane.sessionGeneration !== -1) emit({ type: 'session-dropped', lane: lane.index, reason: f.message });
        lane.sessionGeneration = -1;
        break;
      case 'device':
        lane.sessionGeneration = -1;
        needsReinit = true;
        deviceTrouble = f.message;
        break;
      case 'login':
        lane.sessionGeneration = -1;
        loginRefusal = f.message;
        if (state !== 'closed') state = 'login-refused';
        emit({ type: 'login-refused', reason: f.message });
        break;
      default:
        break;
    }
  }

  function send<O extends WorkerOp>(lane: Lane, req: RequestOf<O>, deadline: number, onOk?: (result: WorkerResults[O]) => void): Promise<WorkerResults[O]> {
    if (gateClosed) {
      // Calling into the module while another thread runs C_Finalize is undefined behaviour
      // (SoftHSM2 crashes). The caller's retry waits for the re-initialisation instead.
      lane.sessionGeneration = -1;
      return Promise.reject(new Pkcs11Error('BackendUnavailable', `HSM module is being re-initialised (token '${opts.tokenLabel}')`, 'session', req.op === 'finalize' ? 'initialize' : (req.op as Pkcs11Call), undefined));
    }
    const sent: Promise<LaneOutcome<O>> = lane.send(req);
    // Effects run whether or not the caller is still waiting.
    void sent.then((o) => {
      if (!o.ok) applyEffects(lane, o.failure, classify(o.failure));
      else onOk?.(o.result);
    });
    const call = (req.op === 'finalize' ? 'initialize' : req.op) as Pkcs11Call;
    const t0 = performance.now();
    const seconds = () => (performance.now() - t0) / 1000;
    return beforeDeadline(sent, deadline, call, req.op).then(
      (o) => {
        telemetry.hsmCall(req.op, seconds(), o.ok ? 'ok' : 'error');
        if (o.ok) return o.result;
        throw errorFor(o.failure, classify(o.failure));
      },
      (e: unknown) => {
        telemetry.hsmCall(req.op, seconds(), e instanceof Pkcs11Error && e.failureClass === 'timeout' ? 'timeout' : 'error');
        throw e;
      },
    );
  }

  function spawnLane(): Lane {
    const lane = createLane(++laneSeq, dispatch);
    lanes.push(lane);
    return lane;
  }

  function acquire(deadline: number): Promise<Lane> {
    for (let i = lanes.length - 1; i >= 0; i--) {
      const l = lanes[i]!;
      if (!l.alive && !l.busy) lanes.splice(i, 1);
    }
    const free = lanes.find((l) => !l.busy && l.alive);
    if (free) {
      free.busy = true;
      return Promise.resolve(free);
    }
    // A new lane starts a worker, loads the module and logs in: that happens in the
    // background, and the caller takes whichever session frees up first.
    if (lanes.length < opts.maxSessions) startLane();
    const left = deadline - clock.now();
    const busyError = () => timeoutError('open', `session lease (no session of ${opts.maxSessions} became free)`);
    if (left <= 0) return Promise.reject(busyError());
    return new Promise<Lane>((resolve, reject) => {
      const w: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) waiters.splice(i, 1);
          reject(busyError());
        }, left),
      };
      waiters.push(w);
    });
  }

  function startLane(): void {
    const lane = spawnLane();
    lane.busy = true;
    void ensureOpen(lane, clock.now() + openTimeoutMs).then(
      () => handOff(lane),
      () => handOff(lane),
    );
  }

  /** Gives a lane whose worker is idle to the first waiter, or marks it free. */
  function handOff(lane: Lane): void {
    if (state === 'closed') {
      lane.busy = false;
      return;
    }
    if (!lane.alive) {
      const i = lanes.indexOf(lane);
      if (i >= 0) lanes.splice(i, 1);
      lane.busy = false;
      if (waiters.length > 0 && lanes.length < opts.maxSessions) startLane();
      return;
    }
    const w = waiters.shift();
    if (w) {
      clearTimeout(w.timer);
      w.resolve(lane);
    } else {
      lane.busy = false;
    }
  }

  function release(lane: Lane): void {
    // Only hand the lane on once its worker has answered the last request (a call that
    // overran its budget may still be running on it).
    if (lane.inFlight === 0) handOff(lane);
    else void lane.idle().then(() => handOff(lane));
  }

  /**
   * Opens are serialised: opening runs C_Initialize, and a module may answer
   * CKR_CRYPTOKI_ALREADY_INITIALIZED to a second thread before the first one's
   * initialisation has finished (SoftHSM2 then refuses the login with
   * CKR_USER_PIN_NOT_INITIALIZED).
   */
  let openChain: Promise<unknown> = Promise.resolve();

  function ensureOpen(lane: Lane, deadline: number): Promise<void> {
    if (lane.sessionGeneration === generation) return Promise.resolve();
    const run = openChain.then(() => openLane(lane, deadline));
    openChain = run.catch(() => undefined);
    return run;
  }

  async function openLane(lane: Lane, deadline: number): Promise<void> {
    if (lane.sessionGeneration === generation) return;
    const gen = generation;
    const closePrevious = lane.openedGeneration >= finalizedGeneration;
    // A session that opens after the caller gave up is still kept for the next caller.
    await send(lane, { op: 'open', modulePath: opts.modulePath, tokenLabel: opts.tokenLabel, pin: opts.pin, closePrevious }, deadline, (opened) => {
      lane.openedGeneration = gen;
      if (gen !== generation) return;
      token = opened.token;
      lane.sessionGeneration = gen;
      deviceTrouble = undefined;
    });
  }

  function reinitialise(reason: string): Promise<void> {
    if (state === 'closed') return Promise.resolve();
    reinitRunning ??= (async () => {
      if (state === 'ready') state = 'reinitialising';
      gateClosed = true;
      generation++;
      reinits++;
      lastReinitAt = clock.now();
      needsReinit = false;
      emit({ type: 'reinitialise', reason, generation });
      // C_Finalize while another thread is inside the module is undefined behaviour, so let
      // calls in flight finish first; a lane still stuck after drainMs is abandoned.
      const settled = new Set<Lane>();
      await Promise.race([
        Promise.all(lanes.map((l) => l.idle().then(() => settled.add(l)))),
        new Promise((r) => setTimeout(r, drainMs)),
      ]);
      for (const l of [...lanes]) {
        l.sessionGeneration = -1;
        if (!settled.has(l)) {
          emit({ type: 'lane-abandoned', lane: l.index });
          lanes.splice(lanes.indexOf(l), 1);
          void l.terminate();
        }
      }
      // An idle lane (or a short-lived one) finalizes the module; lanes reopen on next use,
      // which runs C_Initialize again and finds the token by its label.
      const idle = lanes.find((l) => !l.busy && l.alive);
      if (idle) {
        idle.busy = true;
        try {
          await idle.send({ op: 'finalize', modulePath: opts.modulePath });
        } finally {
          idle.busy = false;
        }
      } else {
        const control = createLane(0, dispatch);
        try {
          await control.send({ op: 'finalize', modulePath: opts.modulePath });
        } finally {
          await control.terminate();
        }
      }
      finalizedGeneration = generation;
      if (state === 'reinitialising') state = 'ready';
    })().finally(() => {
      gateClosed = false;
      reinitRunning = undefined;
    });
    return reinitRunning;
  }

  /**
   * One transparent retry, within the same deadline, when the session or the module was lost
   * under a call: a fresh session (after re-initialisation for device errors) usually works,
   * for instance after an HSM cluster failover. Key generation is never repeated, since the
   * token may have created the key before the error.
   */
  function retriable(e: unknown): boolean {
    if (!(e instanceof Pkcs11Error) || e.call === 'generate') return false;
    if (e.failureClass === 'session') return true;
    return e.failureClass === 'device' && clock.now() - lastReinitAt >= reinitIntervalMs;
  }

  async function withSession<T>(fn: (s: Pkcs11Session) => Promise<T>, o?: { deadline?: number | undefined }): Promise<T> {
    const deadline = o?.deadline ?? clock.now() + opts.callTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      if (state === 'closed') throw new KeyholdError('BackendUnavailable', 'HSM session pool is closed');
      if (state === 'login-refused') {
        throw new Pkcs11Error('BackendUnavailable', `HSM login for token '${opts.tokenLabel}' was refused earlier (${loginRefusal ?? 'PIN refused'}); fix the PIN and restart`, 'login', 'login', undefined);
      }
      if (needsReinit && !reinitRunning && clock.now() - lastReinitAt >= reinitIntervalMs) void reinitialise('device error');
      if (reinitRunning) await beforeDeadline(reinitRunning, deadline, 'initialize', 're-initialisation');
      const lane = await acquire(deadline);
      try {
        await ensureOpen(lane, deadline);
        const session: Pkcs11Session = {
          deadline,
          generation,
          call: (req) => send(lane, req, deadline),
        };
        return await fn(session);
      } catch (e) {
        if (attempt === 0 && retriable(e) && clock.now() < deadline) continue;
        throw e;
      } finally {
        release(lane);
      }
    }
  }

  return {
    withSession,
    reinitialise,
    async warmUp(sessions = 1, timeoutMs = 10_000) {
      const deadline = clock.now() + timeoutMs;
      const n = Math.max(1, Math.min(sessions, opts.maxSessions));
      await Promise.all(Array.from({ length: n }, () => withSession(async () => undefined, { deadline })));
    },
    setTelemetry(t) {
      telemetry = t;
    },
    profile: opts.profile,
    tokenLabel: opts.tokenLabel,
    callTimeoutMs: opts.callTimeoutMs,
    stats: () => ({
      state,
      lanes: lanes.length,
      busy: lanes.filter((l) => l.busy).length,
      waiting: waiters.length,
      generation,
      reinitialisations: reinits,
      token,
      deviceTrouble,
    }),
    async close() {
      if (state === 'closed') return;
      state = 'closed';
      for (const w of waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new KeyholdError('BackendUnavailable', 'HSM session pool is closed'));
      }
      // Close sessions politely where the worker is responsive; do not finalize the module,
      // another pool in this process may share it.
      await Promise.all(
        lanes.map(async (l) => {
          await Promise.race([l.idle(), new Promise((r) => setTimeout(r, 200))]);
          await Promise.race([l.send({ op: 'close' }), new Promise((r) => setTimeout(r, 200))]);
          await l.terminate();
        }),
      );
      lanes.length = 0;
    },
  };
}
