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
  type AdminAuditSink,
  type Backends,
  type Directory,
  type HealthService,
  type KeyBackend,
  type LifecycleScheduler,
} from '../domain/index.js';
import { auditRoutes, createAdminServer, statusRoutes, type AdminRoute, type AdminServer, type MetricsSource } from '../admin/index.js';
import { certificateExpiry, createXksServer, type XksCallRecord, type XksServer } from '../xks/index.js';
import { createMetrics, createMetricsListener, joinClusterMetrics, type Metrics, type MetricsListener } from '../metrics/index.js';
import { createAuditLogSink } from './admin-audit.js';
import { openAudit, xksAuditEvent, type AppAudit } from './audit.js';
import { managementServices } from './management.js';
import type { Config } from './config.js';
import { openContext, type AppContext } from './context.js';
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
  metrics: Metrics;
  /** The plain-HTTP [metrics] listener, when this process runs it. */
  metricsAddress: AddressInfo | undefined;
  close(): Promise<void>;
}

export interface StartOptions {
  clock?: Clock;
  /** Where admin actions are recorded (default: the audit log). */
  adminAudit?: AdminAuditSink;
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
   * One more step before each XKS answer, after its audit record and metrics; the answer
   * waits for it. Tests use it to hold a call inside the server.
   */
  beforeRespond?: (record: XksCallRecord) => void | Promise<void>;
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
  const context = await openContext(config, { clock, log });
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
    audit = await openAudit(context, { mode: 'thread', log, telemetry: metrics.audit });
    const directory = await createDirectory({
      repo: context.storage,
      seal: context.seal,
      onError: (e) => log.error({ event: 'directory_refresh_failed', err: e instanceof Error ? e.message : String(e) }, 'could not reload key stores; serving the previous snapshot'),
    });
    // Material caches follow the directory: a change anywhere drops cached key material too.
    directory.onRefresh(() => {
      for (const b of Object.values(context.backends)) b?.evict?.();
    });
    const health = createHealthService({
      backends: Object.values(context.backends).filter((b) => b !== undefined),
      storagePing: () => context.storage.ping(),
      fleetSize: () => 1,
      clock,
      maxAgeMs: config.health.maxAgeMs,
      intervalMs: config.health.intervalMs,
      onCheck: (r) => {
        const bad = r.ekmFleetDetails.filter((e) => e.healthStatus !== 'ACTIVE');
        if (bad.length) log.warn({ event: 'health', ekm: bad }, 'key backend not fully healthy');
      },
    });
    await health.check();
    health.start();
    const renderMetrics = worker.count > 1 ? joinClusterMetrics(metrics.registry) : () => metrics.render();
    const backends: Backends = { ...context.backends, ...(context.backends.hsm ? { hsm: timed(context.backends.hsm, metrics) } : {}) };
    const service = createXksService({ directory, backends, health, clock });
    const quota = createQuotaGate({ clock, share: 1 / worker.count });
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
      // Health checks are never throttled: KMS would read a refused health check as an outage.
      admit: (ks, route) => {
        if (route.operation !== 'health') quota.admit(ks);
      },
      beforeRespond: withExtra(recordCall(auditHook(config, audit, log), metrics), opts.beforeRespond),
    });
    const xksCertificateNotAfter = (): Date | undefined => {
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
      throttled: () => quota.throttled(),
      ...(context.hsm ? { hsmPool: () => context.hsm!.pool.stats() } : {}),
    });
    const xksAddress = await xks.listen(config.xks.listen.host, config.xks.listen.port);

    const adminAudit = opts.adminAudit ?? createAuditLogSink(audit.service);
    const management = managementServices(context);
    const scheduler = createLifecycleScheduler({
      keys: context.keys,
      approvals: context.approvals,
      identity: context.identity,
      audit: adminAudit,
      clock,
      intervalMs: config.admin.schedulerIntervalMs,
      log,
    });
    let admin: AdminServer | undefined;
    let adminAddress: AddressInfo | undefined;
    let metricsListener: MetricsListener | undefined;
    let metricsAddress: AddressInfo | undefined;
    try {
      // In a cluster the primary serves [metrics] listen, for all workers.
      if (config.metrics.listen && worker.count === 1) {
        metricsListener = createMetricsListener({ render: renderMetrics, contentType: metrics.contentType, log });
        metricsAddress = await metricsListener.listen(config.metrics.listen.host, config.metrics.listen.port);
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
            aws: { connections: context.awsConnections, xks: context.awsXks },
          },
          audit: adminAudit,
          clock,
          log,
          version: opts.version ?? '0.1.0',
          metrics: opts.metrics ?? { render: renderMetrics },
          extraRoutes: [
            ...auditRoutes({ audit: audit.service, keys: context.keys }),
            ...statusRoutes({ health: () => health.report(), certificateNotAfter: xksCertificateNotAfter, hsmConfigured: management.hsm !== undefined, now: () => clock.now() }),
            ...(opts.adminRoutes ?? []),
          ],
        });
        adminAddress = await admin.listen(config.admin.listen.host, config.admin.listen.port);
      }
    } catch (e) {
      await admin?.close().catch(() => undefined);
      await metricsListener?.close();
      await xks.close();
      health.stop();
      directory.close();
      throw e;
    }
    if (worker.index === 0) scheduler.start();
    return {
      context,
      directory,
      health,
      audit,
      xks,
      xksAddress,
      admin,
      adminAddress,
      scheduler,
      metrics,
      metricsAddress,
      async close() {
        await scheduler.stop();
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

/** A key backend whose encrypt and decrypt times go to the metrics (used for HSM keys). */
function timed(b: KeyBackend, metrics: Metrics): KeyBackend {
  const name = b.protection;
  const time = async <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    let ok = false;
    try {
      const r = await fn();
      ok = true;
      return r;
    } finally {
      metrics.observeBackendCall(name, operation, (performance.now() - t0) / 1000, ok);
    }
  };
  return Object.assign(Object.create(b) as KeyBackend, {
    encrypt: (v: Parameters<KeyBackend['encrypt']>[0], p: Uint8Array, aad: Uint8Array) => time('encrypt', () => b.encrypt(v, p, aad)),
    decrypt: (v: Parameters<KeyBackend['decrypt']>[0], iv: Uint8Array, c: Uint8Array, t: Uint8Array, aad: Uint8Array) => time('decrypt', () => b.decrypt(v, iv, c, t, aad)),
  });
}

/**
 * The listener's beforeRespond: the audit record first (durable mode: the answer waits for
 * the commit; a failure turns the answer into InternalException), then the metrics, so the
 * metrics count the outcome KMS actually receives.
 */
function recordCall(audit: ((call: XksCallRecord) => void | Promise<void>) | undefined, metrics: Metrics): (call: XksCallRecord) => void | Promise<void> {
  if (!audit) return (r) => metrics.observeXksCall(r);
  return (r) => {
    const t0 = performance.now();
    let pending: void | Promise<void>;
    try {
      pending = audit(r);
    } catch (e) {
      metrics.observeXksCall(r, 0, true);
      throw e;
    }
    if (!pending) return metrics.observeXksCall(r);
    // The latency KMS sees includes the wait for the audit commit.
    return pending.then(
      () => metrics.observeXksCall(r, performance.now() - t0),
      (e: unknown) => {
        metrics.observeXksCall(r, performance.now() - t0, true);
        throw e;
      },
    );
  };
}

function withExtra(first: (call: XksCallRecord) => void | Promise<void>, extra: ((call: XksCallRecord) => void | Promise<void>) | undefined): (call: XksCallRecord) => void | Promise<void> {
  if (!extra) return first;
  return async (r) => {
    await first(r);
    await extra(r);
  };
}

/**
 * How XKS calls reach the audit log. Durable (the default): the answer waits for the
 * commit, and a call that cannot be recorded is answered InternalException. Not durable:
 * the record is queued and the answer goes out at once. Off: nothing is recorded.
 */
function auditHook(config: Readonly<Config>, audit: AppAudit, log: Logger): ((call: XksCallRecord) => void | Promise<void>) | undefined {
  if (!config.audit.enabled) {
    log.warn({ event: 'audit_disabled' }, 'AUDIT IS OFF: XKS calls are not recorded ([audit] enabled = false). This setting is for benchmarks only.');
    return undefined;
  }
  if (!config.audit.durable) {
    log.warn({ event: 'audit_not_durable' }, 'XKS answers do not wait for their audit records ([audit] durable = false); a crash can lose the newest records.');
    // The queue is bounded all the same: past ten full batches waiting, answers wait too.
    const backlogLimit = config.audit.maxBatch * 10;
    return (call) => {
      const queued = audit.service
        .xks(xksAuditEvent(call))
        .then(() => undefined)
        .catch((e: unknown) => log.error({ event: 'audit_append_failed', err: e instanceof Error ? e.message : String(e) }, 'could not record an XKS call'));
      if (audit.sink.backlog() > backlogLimit) return queued;
    };
  }
  return async (call) => {
    await audit.service.xks(xksAuditEvent(call));
  };
}
