import type { Clock, Logger } from '../base/index.js';
import { createClusterMember, type ClusterMember, type EkmEntry, type Storage } from '../domain/index.js';
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
