/**
 * The overload guard: decides, when a request arrives and before its body is read, whether
 * the server can still answer it inside KMS's 250 ms deadline (xks-spec §10). When it
 * cannot, the request is refused at once (429 or 503, both retryable for KMS), which costs
 * microseconds, instead of being served late, which costs full price and still times out.
 *
 * Three signals, each with its own limit:
 * - in flight: requests admitted and not yet answered. They pile up when a dependency (HSM,
 *   storage, the audit sink) slows down → 503 DependencyTimeoutException.
 * - event-loop delay: how late a 50 ms timer fires. A late loop means every request that
 *   arrived meanwhile has already waited that long → 429 ThrottlingException.
 * - queueing time: in flight ÷ recent completion rate (Little's law), the wait a new
 *   request can expect behind the ones already admitted → 429 ThrottlingException.
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
const BUCKET_MS = 100;
const BUCKETS = 10;

export interface OverloadDeps {
  /** Milliseconds, monotonic. */
  now?: () => number;
  /** Current event-loop delay in ms; default: a 50 ms timer's lateness. */
  eventLoopDelayMs?: () => number;
}

export function createOverloadGuard(limits: OverloadLimits, deps: OverloadDeps = {}): OverloadGuard {
  const now = deps.now ?? (() => performance.now());
  let delayMs = 0;
  let timer: NodeJS.Timeout | undefined;
  const delay =
    deps.eventLoopDelayMs ??
    (() => {
      if (!timer) {
        const every = 50;
        let expected = now() + every;
        timer = setInterval(() => {
          const t = now();
          delayMs = Math.max(0, t - expected);
          expected = t + every;
        }, every);
        timer.unref();
      }
      return delayMs;
    });
  delay(); // start sampling now, not at the first request

  let inFlight = 0;
  const shed: Record<ShedReason, number> = { in_flight: 0, event_loop_delay: 0, queue_time: 0 };
  // Completions in a ring of 100 ms buckets covering the last second.
  const counts = new Array<number>(BUCKETS).fill(0);
  let bucketStart = now();
  let bucket = 0;

  function roll(t: number): void {
    const steps = Math.floor((t - bucketStart) / BUCKET_MS);
    if (steps <= 0) return;
    for (let i = 0; i < Math.min(steps, BUCKETS); i++) {
      bucket = (bucket + 1) % BUCKETS;
      counts[bucket] = 0;
    }
    bucketStart += steps * BUCKET_MS;
  }

  /** Completions per ms over the last second (the current, partial bucket included). */
  function rate(t: number): number {
    roll(t);
    let n = 0;
    for (const c of counts) n += c;
    const span = (BUCKETS - 1) * BUCKET_MS + Math.max(1, t - bucketStart);
    return n / span;
  }

  function refuse(reason: ShedReason): ShedReason {
    shed[reason]++;
    return reason;
  }

  return {
    arrive() {
      if (inFlight >= limits.maxInFlight) return refuse('in_flight');
      if (delay() >= limits.maxEventLoopDelayMs) return refuse('event_loop_delay');
      if (inFlight >= MIN_BACKLOG_FOR_ESTIMATE) {
        const r = rate(now());
        // No completion for a second with a backlog: the wait is at least that long.
        const waitMs = r > 0 ? inFlight / r : Infinity;
        if (waitMs > limits.maxQueueMs) return refuse('queue_time');
      }
      inFlight++;
      return undefined;
    },
    done() {
      inFlight = Math.max(0, inFlight - 1);
      roll(now());
      counts[bucket]!++;
    },
    stats() {
      return { inFlight, eventLoopDelayMs: delay(), completionsPerSecond: rate(now()) * 1000, shed: { ...shed } };
    },
    close() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
