import { Counter, Gauge, type Registry } from 'prom-client';

/** What a cluster node reports about itself at scrape time. */
export interface ClusterGaugeSource {
  fleetSize(): number;
  custodyOk(): boolean;
  schedulerOwner(): boolean;
  /** The change feed (PostgreSQL LISTEN) is connected. */
  changesConnected(): boolean;
}

export interface ClusterGauges {
  /** One XKS answer refused because its audit record was not durable in time (or failed). */
  recordFailed(reason: 'deadline' | 'error' | 'custody'): void;
}

/**
 * Cluster gauges (deploy/prometheus/keyhold-alerts.yml alerts on them): the live fleet as
 * this node sees it, its custody lease, whether it runs the scheduler, and answers refused
 * because their audit record could not be made durable.
 */
export function registerClusterGauges(registry: Registry, src: ClusterGaugeSource): ClusterGauges {
  new Gauge({
    name: 'keyhold_cluster_fleet_size',
    help: 'Live nodes in the registry, as this node sees them (GetHealthStatus xksProxyFleetSize)',
    registers: [registry],
    aggregator: 'max',
    collect() {
      this.set(src.fleetSize());
    },
  });
  new Gauge({
    name: 'keyhold_cluster_custody_ok',
    help: '1 while this node has heard from PostgreSQL within its custody lease; 0 means it refuses key operations',
    registers: [registry],
    aggregator: 'min',
    collect() {
      this.set(src.custodyOk() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'keyhold_storage_change_feed_connected',
    help: '1 while the PostgreSQL LISTEN connection is up',
    registers: [registry],
    aggregator: 'min',
    collect() {
      this.set(src.changesConnected() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'keyhold_cluster_scheduler_owner',
    help: '1 on the node that holds the background-work lease',
    registers: [registry],
    aggregator: 'max',
    collect() {
      this.set(src.schedulerOwner() ? 1 : 0);
    },
  });
  const failures = new Counter({
    name: 'keyhold_audit_record_failures_total',
    help: 'XKS answers refused (InternalException) because their audit record was not durable: deadline, error, or no custody',
    labelNames: ['reason'],
    registers: [registry],
  });
  return { recordFailed: (reason) => failures.inc({ reason }) };
}
