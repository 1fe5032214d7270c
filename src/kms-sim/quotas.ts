/**
 * Request quotas (kms-semantics §5.5): KMS throttles each operation per account and Region
 * at a rate in requests per second, and answers ThrottlingException beyond it. The simulator
 * applies a quota only where one is configured (`requestQuotas`), as a token bucket of one
 * second's worth of requests refilled on the simulator's clock, so a test that moves the
 * clock controls exactly when capacity comes back.
 */
import { kmsError } from './errors.js';

export interface RequestQuotas {
  /** Throws ThrottlingException when `operation` is over its quota in this account and Region. */
  take(accountId: string, region: string, operation: string, now: number): void;
}

export function createRequestQuotas(perSecond: Readonly<Record<string, number>>): RequestQuotas {
  for (const [op, rate] of Object.entries(perSecond)) {
    if (!Number.isFinite(rate) || rate <= 0) throw new Error(`request quota of ${op} must be a positive number of requests per second`);
  }
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(accountId, region, operation, now) {
      const rate = perSecond[operation];
      if (rate === undefined) return;
      const id = `${accountId}/${region}/${operation}`;
      const b = buckets.get(id) ?? { tokens: rate, at: now };
      b.tokens = Math.min(rate, b.tokens + (Math.max(0, now - b.at) / 1000) * rate);
      b.at = now;
      buckets.set(id, b);
      if (b.tokens < 1) throw kmsError('ThrottlingException', `Rate exceeded for ${operation}: the quota is ${rate} requests per second in this account and Region.`);
      b.tokens -= 1;
    },
  };
}
