import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { KeyholdError, systemClock, type Clock, type Logger } from '../base/index.js';
import { createSigV4Verifier } from '../crypto/index.js';
import {
  createDirectory,
  createHealthService,
  createLifecycleScheduler,
  createQuotaGate,
  createXksService,
  auditXksCalls,
  observeXksCalls,
  timedBackends,
  type AdminAuditSink,
  type Directory,
  type HealthService,
  type LifecycleScheduler,
  type XksCall,
  type XksCallObserver,
} from '../domain/index.js';
import { auditRoutes, createAdminServer, statusRoutes, type AdminRoute, type AdminServer, type MetricsSource } from '../admin/index.js';
import { certificateExpiry, createXksServer, watchInstalledCertificate, type XksServer } from '../xks/index.js';
import { auditDiskGauges, createMetrics, createMetricsListener, joinClusterMetrics, registerClusterGauges, type Metrics, type MetricsListener } from '../metrics/index.js';
import { clusterMembership } from './cluster-node.js';
import { tlsRoutes } from '../admin/routes/tls-routes.js';
import { clusterRoutes } from '../admin/routes/cluster-routes.js';
import { guardedObserver, type ClusterMember, type EkmEntry } from '../domain/index.js';
import { createAuditLogSink } from './admin-audit.js';
import { openAudit, type AppAudit } from './audit.js';
import { auditRetentionTask, watchAuditDisk } from './audit-retention.js';
import { auditArchiveOps, segmentStore } from './audit-archive.js';
import { managementServices } from './management.js';
import type { Config } from './config.js';
import { openContext, type AppContext } from './context.js';
import { listenAs } from './listen.js';
import { unredacted } from './logging.js';

export interface RunningKeyhold {
  context: AppContext;
  directory: Directory;
  health: HealthService;
  audit: AppAudit;
  xks: XksServer;
  xksAddress: AddressInfo;
  admin: AdminServer | undefined;
  adminAddress: AddressInfo | undefined;
  scheduler: LifecycleScheduler;
  /** This node in the cluster registry (PostgreSQL storage only). */
  cluster: ClusterMember | undefined;
  metrics: Metrics;
  /** The plain-HTTP [metrics] listener, when this process runs it. */
  metricsAddress: AddressInfo | undefined;
  close(): Promise<void>;
}

export interface StartOptions {
  clock?: Clock;
  /** Where admin actions are recorded (default: the audit log). */
  adminAudit?: AdminAuditSink;
  /** The audit chain this node appends to (default: [audit] chain, 'main'); one per node in a cluster. */
  auditChain?: string;
  /** Prometheus text for GET /metrics on the admin listener. */
  metrics?: MetricsSource;
  /** More routes for the admin API (the audit log's are always there). */
  adminRoutes?: AdminRoute[];
  version?: string;
  /**
   * This process's place among `keyhold start --workers N` processes. Worker 0 also runs the
   * admin listener and the lifecycle scheduler; every worker serves XKS on the shared
   * listener and enforces 1/N of each key store quota. Default: alone.
   */
  worker?: { index: number; count: number };
  /**
   * One more step before each XKS answer, after its audit record; the answer waits for it.
   * Tests use it to hold a call inside the server.
   */
  beforeRespond?: (call: XksCall) => void | Promise<void>;
}

function readTls(files: { certFile: string; keyFile: string }): { cert: Buffer; key: Buffer } {
  try {
    return { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
  } catch (e) {
    throw new KeyholdError('ConfigInvalid', `cannot load the admin TLS files (${files.certFile}, ${files.keyFile}): ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** Wires the XKS plane: directory (read model), health, service, SigV4 verifier, listener. */
export async function startKeyhold(config: Readonly<Config>, log: Logger, opts: StartOptions = {}): Promise<RunningKeyhold> {
  const clock = opts.clock ?? systemClock;
  const context = await openContext(config, { clock, log, role: 'server' });
  let audit: AppAudit | undefined;
  try {
    if (context.hsm) {
      // Sessions are opened before the listener: the first KMS calls must not pay for
      // worker start, module load and login inside their 250 ms.
      const { pool, backend } = context.hsm;
      try {
        await pool.warmUp(config.hsm?.sessions ?? 1);
        await backend.ensureHealthKey();
        const t = pool.stats().token;
        log.info({ event: 'hsm_ready', token: t?.label, model: t?.model, profile: pool.profile.name, sessions: pool.stats().lanes }, 'HSM token ready');
      } catch (e) {
        // Software keys still serve; health reports the token as UNAVAILABLE until it is back.
        log.error({ event: 'hsm_unavailable', err: e instanceof Error ? e.message : String(e) }, 'HSM token not usable at start');
      }
    }
    const worker = opts.worker ?? { index: 0, count: 1 };
    const metrics = createMetrics({ clock, version: opts.version ?? '0.1.0' });
    context.hsm?.pool.setTelemetry(metrics.hsm);
    audit = await openAudit(context, { mode: 'thread', log, telemetry: metrics.audit, chain: opts.auditChain ?? config.audit.serverChain });
    // Approved `audit.archive` requests (and the admin API's archive route) write into archive_dir.
    context.auditArchive.ops = auditArchiveOps(audit.service, config.audit.archiveDir);
    const auditDisk =
      config.storage.type === 'sqlite'
        ? watchAuditDisk({ path: config.storage.path, minFreeBytes: config.audit.diskMinFreeBytes, minFreeRatio: config.audit.diskMinFreeRatio, intervalMs: config.health.intervalMs, log, onReading: auditDiskGauges(metrics.registry) })
        : undefined;
    await auditDisk?.check().catch(() => undefined);
    const directory = await createDirectory({
      repo: context.storage,
      seal: context.seal,
      onError: (e) => log.error({ event: 'directory_refresh_failed', err: e instanceof Error ? e.message : String(e) }, 'could not reload key stores; serving the previous snapshot'),
    });
    // Material caches follow the directory: a change anywhere drops cached key material too.
    directory.onRefresh(() => {
      for (const b of Object.values(context.backends)) b?.evict?.();
    });
    // In a cluster (PostgreSQL) this node registers, heartbeats, holds the custody lease and
    // competes for the scheduler lease; worker 0 of each node competes.
    let ownEkm: EkmEntry[] = [];
    const owned: { scheduler?: LifecycleScheduler } = {};
    const membership = clusterMembership(config, context.storage, {
      log,
      clock,
      version: opts.version ?? '0.1.0',
      ekm: () => ownEkm,
      owner: worker.index === 0 ? { start: () => owned.scheduler?.start(), stop: async () => owned.scheduler?.stop() } : undefined,
    });
    const member = membership?.member;
    const health = createHealthService({
      backends: Object.values(context.backends).filter((b) => b !== undefined),
      storagePing: () => context.storage.ping(),
      fleetSize: () => member?.fleetSize() ?? 1,
      clock,
      maxAgeMs: config.health.maxAgeMs,
      intervalMs: config.health.intervalMs,
      cluster: member && { nodeId: config.cluster.nodeId, otherEkms: () => member.otherEkms(), custodyOk: () => member.custodyOk() },
      degradedBy: () => auditDisk?.degradedBy(),
      onCheck: (r) => {
        ownEkm = r.ekmFleetDetails;
        const bad = r.ekmFleetDetails.filter((e) => e.healthStatus !== 'ACTIVE');
        if (bad.length) log.warn({ event: 'health', ekm: bad }, 'key backend not fully healthy');
      },
    });
    await health.check();
    health.start();
    const clusterGauges = member
      ? registerClusterGauges(metrics.registry, {
          fleetSize: () => member.fleetSize(),
          custodyOk: () => member.custodyOk(),
          schedulerOwner: () => member.isOwner(),
          changesConnected: () => context.storage.changes.connected?.() ?? true,
        })
      : undefined;
    // The first heartbeat before the listener: custody holds from the first call.
    await member?.start();
    const renderMetrics = worker.count > 1 ? joinClusterMetrics(metrics.registry) : () => metrics.render();
    // Quota after policy, inside the domain's pipeline (design.md); backend times for every key.
    const quota = createQuotaGate({ clock, share: 1 / worker.count });
    const service = createXksService({ directory, backends: timedBackends(context.backends, metrics.backend), health, clock, quota, custody: member });
    const verifier = createSigV4Verifier({ service: 'kms-xks-proxy', maxSkewMs: config.xks.maxClockSkewMs, now: () => clock.now() });
    const xks = createXksServer({
      tls: config.xks.tls,
      service,
      directory,
      verifier,
      limits: config.xks.limits,
      maxBodyBytes: config.xks.maxBodyBytes,
      clock,
      log,
      requestLog: unredacted(log),
      overload: config.xks.overload,
      connections: config.xks.connections,
      // The audit record first (an answer never goes out before it), then the metrics count
      // the answer KMS actually receives. In a cluster the audit wait is bounded and refused
      // without custody (domain/cluster-audit-guard.ts).
      observer: observeXksCalls([
        member ? guardedObserver(xksAudit(config, audit, log), { member, deadlineMs: config.cluster.auditDeadlineMs, gauges: clusterGauges }) : xksAudit(config, audit, log),
        opts.beforeRespond && { record: opts.beforeRespond },
        metrics.xksCalls,
      ]),
      unready: () => (member && !member.custodyOk() ? 'this node has lost its custody lease (no contact with PostgreSQL)' : undefined),
    });
    // A certificate installed in storage (keyhold tls install) wins over the files, on every node.
    const installedTls = watchInstalledCertificate({ meta: context.storage, seal: context.seal, log, use: (pair) => xks.useCertificate(pair) });
    await installedTls.poke();
    directory.onRefresh(() => void installedTls.poke());
    const xksCertificateNotAfter = (): Date | undefined => {
      const installed = installedTls.notAfter();
      if (installed) return installed;
      try {
        return certificateExpiry(config.xks.tls.certFile);
      } catch {
        return undefined;
      }
    };
    metrics.setSources({
      certificateNotAfter: xksCertificateNotAfter,
      credentials: async () => {
        const names = new Map((await context.storage.listKeyStores()).map((k) => [k.id, k.name]));
        return (await context.storage.listLiveCredentials()).map((c) => ({ keyStore: names.get(c.keyStoreId) ?? c.keyStoreId, accessKeyId: c.accessKeyId, createdAt: c.createdAt }));
      },
      overload: () => xks.overloadStats(),
      connections: () => xks.connectionStats(),
      throttled: () => quota.throttled(),
      ...(context.hsm ? { hsmPool: () => context.hsm!.pool.stats() } : {}),
    });
    const xksAddress = await listenAs('XKS', 'xks.listen (--xks-listen)', config.xks.listen.host, config.xks.listen.port, () => xks.listen(config.xks.listen.host, config.xks.listen.port));
    if (membership && !config.cluster.advertise) membership.self.address = `${config.xks.listen.host}:${xksAddress.port}`;

    const adminAudit = opts.adminAudit ?? createAuditLogSink(audit.service);
    const management = managementServices(context);
    const scheduler = createLifecycleScheduler({
      keys: context.keys,
      linkedKeys: context.awsKeys,
      approvals: context.approvals,
      identity: context.identity,
      housekeeping: config.audit.retentionMs > 0 || config.audit.retentionMaxRecords > 0 ? [auditRetentionTask(audit.service, config.audit, clock, log)] : undefined,
      audit: adminAudit,
      clock,
      intervalMs: config.admin.schedulerIntervalMs,
      log,
      ...(member ? { mayRun: () => member.isOwner() } : {}),
    });
    let admin: AdminServer | undefined;
    let adminAddress: AddressInfo | undefined;
    let metricsListener: MetricsListener | undefined;
    let metricsAddress: AddressInfo | undefined;
    try {
      // In a cluster the primary serves [metrics] listen, for all workers.
      if (config.metrics.listen && worker.count === 1) {
        metricsListener = createMetricsListener({ render: renderMetrics, contentType: metrics.contentType, log });
        metricsAddress = await listenAs('metrics', 'metrics.listen', config.metrics.listen.host, config.metrics.listen.port, () => metricsListener!.listen(config.metrics.listen!.host, config.metrics.listen!.port));
      }
      if (config.admin.enabled && worker.index === 0) {
        admin = await createAdminServer({
          tls: readTls(config.admin.tls),
          services: {
            identity: context.identity,
            approvals: context.approvals,
            keyStores: context.keyStores,
            keys: context.keys,
            hsm: management.hsm,
            importSampleProxyConfig: management.importSampleProxyConfig,
            aws: { connections: context.awsConnections, xks: context.awsXks, keys: context.awsKeys },
          },
          audit: adminAudit,
          clock,
          log,
          version: opts.version ?? '0.1.0',
          metrics: opts.metrics ?? { render: renderMetrics },
          extraRoutes: [
            ...auditRoutes({ audit: audit.service, keys: context.keys, approvals: context.approvals, segments: segmentStore(config.audit.archiveDir) }),
            ...statusRoutes({ health: () => health.report(), certificateNotAfter: xksCertificateNotAfter, hsmConfigured: management.hsm !== undefined, now: () => clock.now() }),
            ...clusterRoutes({ status: member ? () => member.status() : undefined }),
            ...tlsRoutes({ tls: management.tls, approvals: context.approvals }),
            ...(opts.adminRoutes ?? []),
          ],
        });
        adminAddress = await listenAs('admin API', 'admin.listen (--admin-listen)', config.admin.listen.host, config.admin.listen.port, () => admin!.listen(config.admin.listen.host, config.admin.listen.port));
      }
    } catch (e) {
      installedTls.stop();
      await member?.stop();
      await admin?.close().catch(() => undefined);
      await metricsListener?.close();
      await xks.close();
      health.stop();
      directory.close();
      throw e;
    }
    // In a cluster the scheduler starts when this node takes the lease (its next heartbeat).
    owned.scheduler = scheduler;
    if (worker.index === 0 && (!member || member.isOwner())) scheduler.start();
    const running = scheduler;
    return {
      context,
      directory,
      health,
      audit,
      xks,
      xksAddress,
      admin,
      adminAddress,
      scheduler: running,
      cluster: member,
      metrics,
      metricsAddress,
      async close() {
        installedTls.stop();
        auditDisk?.stop();
        await member?.stop();
        await running.stop();
        await admin?.close();
        await metricsListener?.close();
        await xks.close();
        health.stop();
        directory.close();
        log.info({ event: 'audit_stats', ...audit?.sink.stats(), syslog: audit?.syslog?.stats() }, 'audit writer totals');
        await audit?.close();
        await context.close();
      },
    };
  } catch (e) {
    await audit?.close();
    await context.close();
    throw e;
  }
}

/**
 * How XKS calls reach the audit log (domain/xks-call.ts auditXksCalls). Durable (the
 * default): the answer waits for the commit, and a call that cannot be recorded is answered
 * InternalException. Not durable: the record is queued and the answer goes out at once,
 * unless ten full batches already wait. Off: nothing is recorded.
 */
function xksAudit(config: Readonly<Config>, audit: AppAudit, log: Logger): XksCallObserver | undefined {
  if (!config.audit.enabled) {
    log.warn({ event: 'audit_disabled' }, 'AUDIT IS OFF: XKS calls are not recorded ([audit] enabled = false). This setting is for benchmarks only.');
    return undefined;
  }
  if (!config.audit.durable) {
    log.warn({ event: 'audit_not_durable' }, 'XKS answers do not wait for their audit records ([audit] durable = false); a crash can lose the newest records.');
  }
  return auditXksCalls({ audit: audit.service, durable: config.audit.durable, backlog: () => audit.sink.backlog(), backlogLimit: config.audit.maxBatch * 10, log });
}
