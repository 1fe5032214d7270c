import { KeyholdError, type Clock, type Logger } from '../base/index.js';
import type { HealthStatus } from './model.js';

/** One node's row in the shared registry. Times are the database's clock (ms since the epoch). */
export interface ClusterNodeRow {
  id: string;
  /** Where the node serves XKS (host:port), as it advertises itself. */
  address: string;
  version: string;
  startedAt: string;
  heartbeatMs: number;
  /** Milliseconds since the last heartbeat, by the database's clock. */
  ageMs: number;
  /** The node's own view of its key backends, for the fleet's health report. */
  ekm: EkmEntry[];
}

export interface EkmEntry {
  id: string;
  model: string;
  healthStatus: HealthStatus;
}

export interface LeaseState {
  held: boolean;
  holder: string | undefined;
  /** Grows by one each time the lease changes hands (a fencing token). */
  fence: number;
}

/**
 * The shared registry of nodes and leases. Every time in it comes from the database's own
 * clock, so nodes whose clocks disagree still agree on who is alive and who holds a lease.
 */
export interface ClusterRepo {
  heartbeatNode(n: { id: string; address: string; version: string; startedAt: string; ekm: EkmEntry[] }): Promise<void>;
  listNodes(): Promise<ClusterNodeRow[]>;
  removeNode(id: string): Promise<void>;
  /** Takes or renews the lease when it is free, expired or already ours. */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<LeaseState>;
  releaseLease(name: string, holder: string): Promise<void>;
  getLease(name: string): Promise<{ holder: string; fence: number; expiresInMs: number } | undefined>;
}

export interface ClusterNodeView extends Omit<ClusterNodeRow, 'heartbeatMs'> {
  live: boolean;
  self: boolean;
  /** Holds the background-work lease (lifecycle scheduler). */
  scheduler: boolean;
}

export interface ClusterStatus {
  self: string;
  fleetSize: number;
  /** This node's custody lease (absent when read from the database by the CLI). */
  custody?: { ok: boolean; lastContactMs: number | undefined; leaseMs: number } | undefined;
  scheduler: { holder: string | undefined; fence: number | undefined };
  nodes: ClusterNodeView[];
}

export interface ClusterMemberOptions {
  repo: ClusterRepo;
  clock: Clock;
  log: Logger;
  self: { id: string; address: string; version: string; startedAt: string };
  /** How often the node heartbeats, reads the fleet and renews its lease. */
  heartbeatMs: number;
  /** Custody lease: past this long without hearing from storage, the node refuses crypto. */
  leaseMs: number;
  /** A node whose last heartbeat is older than this is not counted in the fleet. */
  nodeTimeoutMs: number;
  /** Whether the change feed is connected: without it, changes made elsewhere are not seen. */
  changesConnected: () => boolean;
  /** This node's own EKM entries (the last health check), published for the fleet. */
  ekm: () => EkmEntry[];
  /** Background work this node runs only while it holds the lease (undefined: never competes). */
  owner?: { start(): void; stop(): Promise<void> } | undefined;
}

export const SCHEDULER_LEASE = 'scheduler';

export type ClusterMember = ReturnType<typeof createClusterMember>;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new KeyholdError('DependencyTimeout', `${what} took longer than ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

/**
 * This node's membership in a cluster of nodes on one database: it heartbeats into the
 * registry, keeps the live fleet for health, holds the custody lease (the proof that it has
 * recently heard from storage and from the change feed) and competes for the one lease
 * that lets a node run background work.
 *
 * The custody lease fails closed: a node partitioned from the database cannot learn that a
 * key was disabled elsewhere, so past `leaseMs` without a successful heartbeat while the
 * change feed is connected, `assertCustody()` throws and the node refuses crypto.
 */
export function createClusterMember(o: ClusterMemberOptions) {
  const { clock, log, repo } = o;
  let lastContact: number | undefined;
  let nodes: ClusterNodeRow[] = [];
  let owner = false;
  let ownedUntil = 0;
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;
  let stopped = false;
  let failing = false;
  const stepMs = Math.max(50, Math.min(o.heartbeatMs * 2, o.leaseMs));

  const custodyOk = () => lastContact !== undefined && clock.now() - lastContact <= o.leaseMs;

  async function loseOwnership(reason: string): Promise<void> {
    if (!owner) return;
    owner = false;
    log.warn({ event: 'scheduler_lease_lost', node: o.self.id, reason }, 'no longer runs background work');
    await o.owner?.stop();
  }

  async function tick(): Promise<void> {
    const started = clock.now();
    const connected = o.changesConnected();
    try {
      await withTimeout(repo.heartbeatNode({ ...o.self, ekm: o.ekm() }), stepMs, 'the heartbeat');
      nodes = await withTimeout(repo.listNodes(), stepMs, 'reading the registry');
      if (connected) lastContact = started;
      if (failing) log.info({ event: 'storage_reachable', node: o.self.id }, 'storage answers again');
      failing = false;
    } catch (e) {
      if (!failing) log.error({ event: 'storage_unreachable', node: o.self.id, err: e instanceof Error ? e.message : String(e) }, 'heartbeat failed; custody ends when the lease runs out');
      failing = true;
    }
    if (!o.owner || stopped) return;
    if (!custodyOk()) return loseOwnership('custody lease expired');
    try {
      const t0 = clock.now();
      const l = await withTimeout(repo.acquireLease(SCHEDULER_LEASE, o.self.id, o.leaseMs), stepMs, 'renewing the scheduler lease');
      if (l.held) {
        // Counted from before the statement: the database's expiry is later than ours.
        ownedUntil = t0 + o.leaseMs;
        if (!owner && !stopped) {
          owner = true;
          log.info({ event: 'scheduler_lease_taken', node: o.self.id, fence: l.fence }, 'this node runs background work');
          o.owner.start();
        }
      } else await loseOwnership(`held by ${l.holder ?? 'another node'}`);
    } catch {
      if (clock.now() > ownedUntil) await loseOwnership('lease not renewed');
    }
  }

  function runTick(): Promise<void> {
    ticking ??= tick().finally(() => (ticking = undefined));
    return ticking;
  }

  const live = () => nodes.filter((n) => n.ageMs <= o.nodeTimeoutMs);

  return {
    /**
     * Waits (up to the lease) for the change feed to connect, so custody holds from the
     * first call; then one heartbeat now and one every heartbeatMs.
     */
    async start(): Promise<void> {
      const t0 = clock.now();
      while (!o.changesConnected() && clock.now() - t0 < o.leaseMs) await new Promise((r) => setTimeout(r, 20));
      await runTick();
      timer = setInterval(() => void runTick(), o.heartbeatMs);
      timer.unref();
    },
    tick: runTick,
    custodyOk,
    /** Throws DependencyTimeout when the custody lease has run out (spec: retryable, 503). */
    assertCustody(): void {
      if (custodyOk()) return;
      const since = lastContact === undefined ? 'since start' : `for ${clock.now() - lastContact} ms`;
      throw new KeyholdError('DependencyTimeout', `this proxy node has not reached its database ${since}; it refuses key operations until it does (retry on another node)`);
    },
    /** Live nodes (at least this one). */
    fleetSize: () => Math.max(1, live().filter((n) => n.id !== o.self.id).length + 1),
    /** Every other live node's EKM entries, prefixed with its node id. */
    otherEkms: (): EkmEntry[] => live().filter((n) => n.id !== o.self.id).flatMap((n) => n.ekm),
    isOwner: () => owner && clock.now() <= ownedUntil,
    async status(): Promise<ClusterStatus> {
      const fresh = await repo.listNodes();
      const lease = await repo.getLease(SCHEDULER_LEASE);
      const holder = lease && lease.expiresInMs > 0 ? lease.holder : undefined;
      return clusterStatusOf(o.self.id, fresh, { holder, fence: lease?.fence }, { ok: custodyOk(), lastContactMs: lastContact === undefined ? undefined : clock.now() - lastContact, leaseMs: o.leaseMs }, o.nodeTimeoutMs);
    },
    /** Leaves the registry and hands the lease back, so another node takes over at once. */
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearInterval(timer);
      await ticking?.catch(() => undefined);
      const wasOwner = owner;
      await loseOwnership('stopping');
      await withTimeout(
        (async () => {
          if (wasOwner) await repo.releaseLease(SCHEDULER_LEASE, o.self.id);
          await repo.removeNode(o.self.id);
        })(),
        stepMs,
        'leaving the registry',
      ).catch(() => undefined);
    },
  };
}

/** The registry as an operator reads it (keyhold cluster status, GET /api/v1/cluster). */
export function clusterStatusOf(
  self: string,
  rows: ClusterNodeRow[],
  scheduler: { holder: string | undefined; fence: number | undefined },
  custody: ClusterStatus['custody'],
  nodeTimeoutMs: number,
): ClusterStatus {
  const nodes = rows.map(({ heartbeatMs: _h, ...n }) => ({ ...n, live: n.ageMs <= nodeTimeoutMs, self: n.id === self, scheduler: n.id === scheduler.holder }));
  return { self, fleetSize: nodes.filter((n) => n.live).length, ...(custody ? { custody } : {}), scheduler, nodes };
}

/** The registry read straight from the database (the CLI without --server). */
export async function clusterStatusFromRepo(repo: Pick<ClusterRepo, 'listNodes' | 'getLease'>, self: string, nodeTimeoutMs: number): Promise<ClusterStatus> {
  const rows = await repo.listNodes();
  const lease = await repo.getLease(SCHEDULER_LEASE);
  return clusterStatusOf(self, rows, { holder: lease && lease.expiresInMs > 0 ? lease.holder : undefined, fence: lease?.fence }, undefined, nodeTimeoutMs);
}
