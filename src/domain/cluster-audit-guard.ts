import type { ClusterMember } from './cluster.js';
import type { XksCallObserver } from './xks-call.js';

/** What the guard counts (the metrics adapter's cluster gauges). */
export interface AuditGuardGauges {
  recordFailed(reason: 'deadline' | 'error' | 'custody'): void;
}

/**
 * The audit wait of one XKS answer in a cluster: refused at once without custody (the
 * database is out of reach, the record could not be made durable), and refused when the
 * commit takes longer than audit_deadline_ms, so a call never hangs towards KMS's 250 ms
 * timeout. A refused answer is InternalException (the listener's rule for an unrecorded
 * call); a record whose commit finishes after its deadline stays in the log, describing
 * an answer the caller did not get: the log may hold more than was answered, never less.
 */
export function guardedObserver(observer: XksCallObserver | undefined, o: { member: Pick<ClusterMember, 'custodyOk'>; deadlineMs: number; gauges: AuditGuardGauges | undefined }): XksCallObserver | undefined {
  const record = observer?.record;
  if (!observer || !record) return observer;
  return {
    ...observer,
    record(call) {
      if (!o.member.custodyOk()) {
        o.gauges?.recordFailed('custody');
        throw new Error('no custody lease: the database is out of reach and the call cannot be recorded');
      }
      const pending = record.call(observer, call);
      if (!pending) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      return Promise.race([
        pending.catch((e: unknown) => {
          o.gauges?.recordFailed('error');
          throw e;
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            o.gauges?.recordFailed('deadline');
            reject(new Error(`the audit record was not durable within ${o.deadlineMs} ms`));
          }, o.deadlineMs);
        }),
      ]).finally(() => clearTimeout(timer));
    },
  };
}
