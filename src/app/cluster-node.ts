import type { Clock, Logger } from '../base/index.js';
import { clusterStatusOf, createClusterMember, SCHEDULER_LEASE, type ClusterMember, type ClusterStatus, type EkmEntry, type Storage, type XksCallObserver } from '../domain/index.js';
import type { ClusterGauges } from '../metrics/index.js';
import type { Config } from './config.js';

/**
 * This node's membership in a cluster on PostgreSQL (src/domain/cluster.ts), or undefined
 * on SQLite (one node: nothing to agree with). `self.address` is filled in once the XKS
 * listener knows its port.
 */
export function clusterMembership(
  config: Readonly<Config>,
  storage: Storage,
  deps: { log: Logger; clock: Clock; version: string; ekm: () => EkmEntry[]; owner: { start(): void; stop(): Promise<void> } | undefined },
): { member: ClusterMember; self: { id: string; address: string; version: string; startedAt: string } } | undefined {
  if (config.storage.type !== 'postgres') return undefined;
  const c = config.cluster;
  const self = { id: c.nodeId, address: c.advertise ?? `${config.xks.listen.host}:${config.xks.listen.port}`, version: deps.version, startedAt: new Date(deps.clock.now()).toISOString() };
  const member = createClusterMember({
    repo: storage.cluster,
    clock: deps.clock,
    log: deps.log,
    self,
    heartbeatMs: c.heartbeatMs,
    leaseMs: c.leaseMs,
    nodeTimeoutMs: c.nodeTimeoutMs,
    changesConnected: () => storage.changes.connected?.() ?? true,
    ekm: deps.ekm,
    owner: deps.owner,
  });
  return { member, self };
}

/**
 * The audit wait of one XKS answer in a cluster: refused at once without custody (the
 * database is out of reach, the record could not be made durable), and refused when the
 * commit takes longer than audit_deadline_ms, so a call never hangs towards KMS's 250 ms
 * timeout. A refused answer is InternalException (the listener's rule for an unrecorded
 * call); a record whose commit finishes after its deadline stays in the log, describing
 * an answer the caller did not get: the log may hold more than was answered, never less.
 */
export function guardedObserver(observer: XksCallObserver | undefined, o: { member: ClusterMember; deadlineMs: number; gauges: ClusterGauges | undefined }): XksCallObserver | undefined {
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
      let timer: NodeJS.Timeout | undefined;
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

/** The registry read straight from the database (the CLI without --server). */
export async function clusterStatusFromStorage(config: Readonly<Config>, storage: Storage): Promise<ClusterStatus> {
  const rows = await storage.cluster.listNodes();
  const lease = await storage.cluster.getLease(SCHEDULER_LEASE);
  return clusterStatusOf(config.cluster.nodeId, rows, { holder: lease && lease.expiresInMs > 0 ? lease.holder : undefined, fence: lease?.fence }, undefined, config.cluster.nodeTimeoutMs);
}
