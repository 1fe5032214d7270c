import { fail, type Clock } from '../base/index.js';
import type { KeyStore } from './model.js';

/**
 * Per key store rate quotas for XKS calls: a token bucket per key store, refilled at
 * quota.rps tokens per second up to quota.burst. A call takes one token or is refused with
 * Throttled (ThrottlingException, which KMS retries and reports as a very high request
 * rate). A changed quota takes effect on the next call (the directory hands in the current
 * key store), with a full bucket.
 *
 * With several worker processes each one enforces `share` of the quota (1/workers): the
 * listener spreads connections evenly, so together they admit about the configured rate.
 */
export interface QuotaGate {
  /** Takes a token from the key store's bucket, or throws Throttled. */
  admit(ks: KeyStore): void;
  /** Calls refused so far, by key store name. */
  throttled(): ReadonlyMap<string, number>;
}

interface Bucket {
  rps: number;
  burst: number;
  tokens: number;
  at: number;
}

export function createQuotaGate(deps: { clock: Clock; share?: number }): QuotaGate {
  const share = deps.share ?? 1;
  if (!(share > 0 && share <= 1)) throw new RangeError('quota share must be in (0, 1]');
  const buckets = new Map<string, Bucket>();
  const refused = new Map<string, number>();

  return {
    admit(ks) {
      const q = ks.quota;
      if (!q) return;
      const now = deps.clock.now();
      const rate = (q.rps * share) / 1000; // tokens per ms
      const capacity = Math.max(1, q.burst * share);
      let b = buckets.get(ks.id);
      if (!b || b.rps !== q.rps || b.burst !== q.burst) {
        b = { rps: q.rps, burst: q.burst, tokens: capacity, at: now };
        buckets.set(ks.id, b);
      } else if (now > b.at) {
        b.tokens = Math.min(capacity, b.tokens + (now - b.at) * rate);
        b.at = now;
      }
      if (b.tokens < 1) {
        refused.set(ks.name, (refused.get(ks.name) ?? 0) + 1);
        fail('Throttled', `key store '${ks.name}' is over its quota of ${q.rps} requests per second; retry`);
      }
      b.tokens -= 1;
    },
    throttled: () => refused,
  };
}
