import type { Clock } from '../base/index.js';
import type { HealthStatus } from './model.js';
import type { BackendHealth, KeyBackend } from './ports.js';

export interface HealthReport {
  xksProxyFleetSize: number;
  xksProxyVendor: string;
  xksProxyModel: string;
  ekmVendor: string;
  ekmFleetDetails: { id: string; model: string; healthStatus: HealthStatus }[];
  checkedAt: number;
}

export interface HealthService {
  /** The latest deep check, run now if the cached one is older than maxAgeMs. */
  report(): Promise<HealthReport>;
  /** Runs a check now and caches it. */
  check(): Promise<HealthReport>;
  start(): void;
  stop(): void;
}

export const PRODUCT = { vendor: 'Keyhold', model: 'Keyhold XKS Proxy', version: '0.1.0' } as const;

/**
 * Deep health (xks-spec §4.4): every backend runs a test encryption on its dedicated key,
 * and storage answers a round trip. Checks run in the background; a request gets a cached
 * result no older than maxAgeMs (the spec allows one minute).
 */
export function createHealthService(deps: {
  backends: KeyBackend[];
  storagePing: () => Promise<void>;
  fleetSize: () => number;
  clock: Clock;
  ekmVendor?: string;
  maxAgeMs?: number;
  intervalMs?: number;
  /** Budget for one backend self-test; slower counts as DEGRADED. */
  slowMs?: number;
  onCheck?: (r: HealthReport) => void;
  /**
   * In a cluster: this node's id (its EKM entries are named "<node>/<backend>", unique in
   * the fleet), the other live nodes' entries, and the custody lease. Without custody the
   * node cannot serve: every entry of its own reads UNAVAILABLE, at once.
   */
  cluster?: { nodeId: string; otherEkms: () => HealthReport['ekmFleetDetails']; custodyOk: () => boolean } | undefined;
  /** A reason to report DEGRADED although every backend is ACTIVE (e.g. the audit log's disk is nearly full). */
  degradedBy?: () => string | undefined;
}): HealthService {
  const maxAge = deps.maxAgeMs ?? 60_000;
  const slowMs = deps.slowMs ?? 100;
  let last: HealthReport | undefined;
  let inflight: Promise<HealthReport> | undefined;
  let timer: NodeJS.Timeout | undefined;

  async function runOne(b: KeyBackend): Promise<BackendHealth> {
    const started = deps.clock.now();
    const h = await b.selfTest();
    if (h.status === 'ACTIVE' && deps.clock.now() - started > slowMs) return { ...h, status: 'DEGRADED', detail: 'self-test slower than budget' };
    return h;
  }

  async function check(): Promise<HealthReport> {
    inflight ??= (async () => {
      try {
        const storageOk = await deps.storagePing().then(() => true, () => false);
        const degraded = deps.degradedBy?.() !== undefined;
        const results = await Promise.all(deps.backends.map(runOne));
        const report: HealthReport = {
          xksProxyFleetSize: Math.max(1, deps.fleetSize()),
          xksProxyVendor: PRODUCT.vendor,
          xksProxyModel: `${PRODUCT.model} ${PRODUCT.version}`,
          ekmVendor: deps.ekmVendor ?? PRODUCT.vendor,
          ekmFleetDetails: results.slice(0, 10).map((r) => ({
            id: deps.cluster ? `${deps.cluster.nodeId}/${r.id}` : r.id,
            model: r.model,
            // Without storage, keys not yet cached cannot be served: degraded, not down.
            healthStatus: (!storageOk || degraded) && r.status === 'ACTIVE' ? 'DEGRADED' : r.status,
          })),
          checkedAt: deps.clock.now(),
        };
        last = report;
        deps.onCheck?.(report);
        return report;
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  }

  /** The cached check as the fleet sees it now: live fleet size, custody, other nodes' EKMs. */
  function inCluster(r: HealthReport): HealthReport {
    const c = deps.cluster;
    if (!c) return r;
    const own = c.custodyOk() ? r.ekmFleetDetails : r.ekmFleetDetails.map((e) => ({ ...e, healthStatus: 'UNAVAILABLE' as const }));
    return { ...r, xksProxyFleetSize: Math.max(1, deps.fleetSize()), ekmFleetDetails: [...own, ...c.otherEkms()].slice(0, 10) };
  }

  return {
    async report() {
      if (last && deps.clock.now() - last.checkedAt <= maxAge) return inCluster(last);
      return inCluster(await check());
    },
    check,
    start() {
      if (timer) return;
      timer = setInterval(() => void check().catch(() => undefined), deps.intervalMs ?? 15_000);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
