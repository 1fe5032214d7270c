import type { Backends } from './key-service.js';
import type { KeyBackend } from './ports.js';
import type { KeyVersion } from './model.js';

/**
 * What the HSM backend and the audit sink report for monitoring. src/metrics implements
 * these as Prometheus metrics; app/ hands the implementation to the adapters, which never
 * import src/metrics themselves. The no-op versions are the default.
 */
export interface HsmTelemetry {
  /** One operation on the token: from asking the pool for a session to the token's answer. */
  hsmCall(operation: string, seconds: number, outcome: 'ok' | 'error' | 'timeout'): void;
  /** The session pool after a change: sessions open, sessions in use, callers waiting for one. */
  hsmPool(state: { sessions: number; inUse: number; waiting: number }): void;
}

export interface AuditTelemetry {
  /** Records accepted and not yet durable. */
  auditQueueDepth(records: number): void;
  /** One durable commit (fsync or transaction) of `records` records that took `seconds`. */
  auditCommit(records: number, seconds: number): void;
}

export const noHsmTelemetry: HsmTelemetry = { hsmCall() {}, hsmPool() {} };
export const noAuditTelemetry: AuditTelemetry = { auditQueueDepth() {}, auditCommit() {} };

/** Key backend operations as the XKS service calls them (src/metrics: keyhold_backend_operation_duration_seconds). */
export interface BackendTelemetry {
  /** One encrypt or decrypt, including any wait for an HSM session; ok = false when it threw. */
  backendCall(backend: string, operation: 'encrypt' | 'decrypt', seconds: number, ok: boolean): void;
}

/**
 * The same backends, each encrypt and decrypt timed into `telemetry` (software and HSM
 * keys alike). The rest of each backend is untouched: the wrapper inherits from it.
 */
export function timedBackends(backends: Backends, telemetry: BackendTelemetry): Backends {
  const out: Backends = {};
  for (const [protection, b] of Object.entries(backends) as [keyof Backends, KeyBackend | undefined][]) {
    if (b) out[protection] = timedBackend(b, telemetry);
  }
  return out;
}

function timedBackend(b: KeyBackend, telemetry: BackendTelemetry): KeyBackend {
  const name = b.protection;
  async function time<T>(operation: 'encrypt' | 'decrypt', run: Promise<T>, t0: number): Promise<T> {
    let ok = false;
    try {
      const r = await run;
      ok = true;
      return r;
    } finally {
      telemetry.backendCall(name, operation, (performance.now() - t0) / 1000, ok);
    }
  }
  return Object.assign(Object.create(b) as KeyBackend, {
    encrypt(v: KeyVersion, p: Uint8Array, aad: Uint8Array) {
      const t0 = performance.now();
      return time('encrypt', callAsync(() => b.encrypt(v, p, aad)), t0);
    },
    decrypt(v: KeyVersion, iv: Uint8Array, c: Uint8Array, t: Uint8Array, aad: Uint8Array) {
      const t0 = performance.now();
      return time('decrypt', callAsync(() => b.decrypt(v, iv, c, t, aad)), t0);
    },
  } satisfies Pick<KeyBackend, 'encrypt' | 'decrypt'>);
}

/** A synchronous throw becomes a rejection, so it is timed and counted like one. */
function callAsync<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (e) {
    return Promise.reject(e);
  }
}
