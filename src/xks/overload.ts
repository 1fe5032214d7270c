/**
 * The overload guard: decides, when a request arrives and before its body is read, whether
 * the server can still answer it inside KMS's 250 ms deadline (xks-spec §10). When it
 * cannot, the request is refused at once (429 or 503, both retryable for KMS), which costs
 * microseconds, instead of being served late, which costs full price and still times out.
 *
 * Three signals, each with its own limit:
 * - in flight: requests admitted and not yet answered. They pile up when a dependency (HSM,
 *   storage, the audit sink) slows down → 503 DependencyTimeoutException.
 * - event-loop delay, sustained: how late a 50 ms timer fires, the smallest of its last
 *   four readings. A loop that stays late means requests queue behind each other → 429
 *   ThrottlingException. One late reading (a GC pause, one big body, the host taking the
 *   CPU away for a moment) is over by the time the next request arrives, so it sheds
 *   nothing.
 * - queueing time: in flight ÷ recent completion rate (Little's law), the wait a new
 *   request can expect behind the ones already admitted; or, with no completion for longer
 *   than the limit while busy, a stalled pipeline → 429 ThrottlingException. The rate is
 *   completions per millisecond of busy time (some call in flight), not per wall-clock
 *   millisecond: a burst after an idle spell would otherwise look like a server that
 *   completes a handful of calls per second, and be refused.
 */
export type ShedReason = 'in_flight' | 'event_loop_delay' | 'queue_time';

export interface OverloadLimits {
  /** Most requests admitted and unanswered at once. */
  maxInFlight: number;
  /** Refuse while the event loop runs this many ms late. */
  maxEventLoopDelayMs: number;
  /** Refuse when the expected wait behind admitted requests exceeds this many ms. */
  maxQueueMs: number;
}

export const DEFAULT_OVERLOAD_LIMITS: OverloadLimits = { maxInFlight: 1000, maxEventLoopDelayMs: 100, maxQueueMs: 150 };

export interface OverloadStats {
  inFlight: number;
  eventLoopDelayMs: number;
  completionsPerSecond: number;
  shed: Record<ShedReason, number>;
}

export interface OverloadGuard {
  /** A request arrived: undefined admits it (and counts it in flight), otherwise why not. */
  arrive(): ShedReason | undefined;
  /** An admitted request was answered. */
  done(): void;
  stats(): OverloadStats;
  close(): void;
}

/** The estimate is only trusted with this many requests in flight; below, a burst is no backlog. */
const MIN_BACKLOG_FOR_ESTIMATE = 16;
/** ...and with this many completions in the last second to measure the rate on. */
const MIN_COMPLETIONS_FOR_RATE = 16;
const BUCKET_MS = 100;
const BUCKETS = 10;

export interface OverloadDeps {
  /** Milliseconds, monotonic. */
  now?: () => number;
  /** Sustained event-loop delay in ms; default: a DelaySampler on a 50 ms timer. */
  eventLoopDelayMs?: () => number;
}

/** The event loop's sustained lateness: the smallest of the last `window` readings. */
export interface DelaySampler {
  /** Records one reading (ms late); the timer does this every interval. */
  add(ms: number): void;
  value(): number;
  close(): void;
}

export function createDelaySampler(opts: { now?: () => number; intervalMs?: number; window?: number; timer?: boolean } = {}): DelaySampler {
  const now = opts.now ?? (() => performance.now());
  const every = opts.intervalMs ?? 50;
  const readings = new Array<number>(opts.window ?? 4).fill(0);
  let next = 0;
  let timer: NodeJS.Timeout | undefined;
  const add = (ms: number) => {
    readings[next] = ms;
    next = (next + 1) % readings.length;
  };
  if (opts.timer !== false) {
    let expected = now() + every;
    timer = setInterval(() => {
      const t = now();
      add(Math.max(0, t - expected));
      expected = t + every;
    }, every);
    timer.unref();
  }
  return {
    add,
    value: () => Math.min(...readings),
    close: () => {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

export function createOverloadGuard(limits: OverloadLimits, deps: OverloadDeps = {}): OverloadGuard {
  const now = deps.now ?? (() => performance.now());
  const sampler = deps.eventLoopDelayMs ? undefined : createDelaySampler({ now });
  const delay = deps.eventLoopDelayMs ?? (() => sampler!.value());

  let inFlight = 0;
  /** When the pipeline last moved: the last completion, or when it became busy. */
  let progressAt = now();
  const shed: Record<ShedReason, number> = { in_flight: 0, event_loop_delay: 0, queue_time: 0 };
  // Completions, and busy time (ms with a call in flight), in a ring of 100 ms buckets
  // covering the last second.
  const counts = new Array<number>(BUCKETS).fill(0);
  const busy = new Array<number>(BUCKETS).fill(0);
  let bucketStart = now();
  let bucket = 0;
  /** Busy time is accounted up to here. */
  let accountedAt = bucketStart;

  function roll(t: number): void {
    const steps = Math.floor((t - bucketStart) / BUCKET_MS);
    if (steps <= 0) return;
    for (let i = 0; i < Math.min(steps, BUCKETS); i++) {
      bucket = (bucket + 1) % BUCKETS;
      counts[bucket] = 0;
      busy[bucket] = 0;
    }
    bucketStart += steps * BUCKET_MS;
  }

  /** Adds the time since the last event to the busy time, when a call was in flight. */
  function account(t: number): void {
    roll(t);
    // A busy spell longer than the window counts as the whole window, in the current bucket.
    if (inFlight > 0) busy[bucket]! += Math.min(t - accountedAt, BUCKETS * BUCKET_MS);
    accountedAt = t;
  }

  /** Completions over the last second (the current, partial bucket included), and per busy ms. */
  function rate(t: number): { n: number; perMs: number } {
    account(t);
    let n = 0;
    let busyMs = 0;
    for (let i = 0; i < BUCKETS; i++) {
      n += counts[i]!;
      busyMs += busy[i]!;
    }
    return { n, perMs: n / Math.max(1, busyMs) };
  }

  function refuse(reason: ShedReason): ShedReason {
    shed[reason]++;
    return reason;
  }

  return {
    arrive() {
      if (inFlight >= limits.maxInFlight) return refuse('in_flight');
      if (delay() >= limits.maxEventLoopDelayMs) return refuse('event_loop_delay');
      const t = now();
      if (inFlight >= MIN_BACKLOG_FOR_ESTIMATE) {
        // Nothing finished for longer than the limit while busy: the oldest call waits at least that long.
        if (t - progressAt > limits.maxQueueMs) return refuse('queue_time');
        const r = rate(t);
        if (r.n >= MIN_COMPLETIONS_FOR_RATE && inFlight / r.perMs > limits.maxQueueMs) return refuse('queue_time');
      }
      account(t);
      if (inFlight === 0) progressAt = t;
      inFlight++;
      return undefined;
    },
    done() {
      const t = now();
      account(t);
      inFlight = Math.max(0, inFlight - 1);
      progressAt = t;
      counts[bucket]!++;
    },
    stats() {
      return { inFlight, eventLoopDelayMs: delay(), completionsPerSecond: rate(now()).perMs * 1000, shed: { ...shed } };
    },
    close() {
      sampler?.close();
    },
  };
}
