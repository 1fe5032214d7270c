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
