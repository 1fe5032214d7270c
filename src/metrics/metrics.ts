import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { systemClock, type Clock } from '../base/index.js';
import type { AuditTelemetry, BackendTelemetry, HsmTelemetry, XksCallObserver } from '../domain/index.js';

/**
 * Prometheus metrics (prom-client) for the signals an XKS operator watches, the same ones
 * AWS publishes in CloudWatch for an external key store (xks-spec §9: XksProxyLatency,
 * XksProxyErrors, XksProxyCertificateDaysToExpire, XksProxyCredentialAge, external key
 * manager state), plus what explains them: load shedding, quotas, the HSM session pool and
 * the audit queue.
 *
 * Everything on the request path is a counter increment or a histogram observation; values
 * that live elsewhere (certificate, credentials, pool, shedding) are read when scraped.
 */

export interface LiveCredentialInfo {
  keyStore: string;
  accessKeyId: string;
  /** ISO 8601. */
  createdAt: string;
}

/** Read at scrape time. Each is optional; a missing source leaves its metrics out. */
export interface MetricsSources {
  /** Expiry of the certificate the XKS listener presents. */
  certificateNotAfter?: () => Date | undefined;
  /** Every live SigV4 credential, by key store. */
  credentials?: () => Promise<readonly LiveCredentialInfo[]>;
  /** The XKS listener's load shedding: calls in flight and refusals so far by reason. */
  overload?: () => { inFlight: number; shed: Readonly<Record<string, number>> } | undefined;
  /** The XKS listener's connections: open, in handshake, the cap, and closures by reason. */
  connections?: () => { open: number; handshaking: number; limit: number; dropped: Readonly<Record<string, number>> };
  /** Calls refused by key store quotas so far, by key store name. */
  throttled?: () => ReadonlyMap<string, number>;
  /** The HSM session pool (when [hsm] is configured). */
  hsmPool?: () => { lanes: number; busy: number; waiting: number; reinitialisations: number } | undefined;
}

export interface Metrics {
  readonly registry: Registry;
  readonly contentType: string;
  /** The text exposition: of this process, or of every worker when running in a cluster. */
  render(): Promise<string>;
  /**
   * Answered XKS calls (the domain's call observer port): counted by the answer KMS
   * received, with its latency including any wait for the audit commit.
   */
  readonly xksCalls: XksCallObserver;
  /** Key backend operations (software and HSM keys), including any wait for an HSM session. */
  readonly backend: BackendTelemetry;
  readonly hsm: HsmTelemetry;
  readonly audit: AuditTelemetry;
  setSources(s: MetricsSources): void;
}

export interface MetricsOptions {
  clock?: Clock;
  /** Process metrics (CPU, memory, event loop, GC); default true. */
  defaultMetrics?: boolean;
  version?: string;
  /** Replaces render(): a cluster worker asks the primary for every worker's metrics. */
  render?: () => Promise<string>;
}

/** Seconds: XKS calls are answered in about a millisecond and must finish within 250 ms. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const DAY_MS = 86_400_000;
const NO_KEY_STORE = '(none)';

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const clock = opts.clock ?? systemClock;
  const registry = new Registry();
  let sources: MetricsSources = {};
  /** The access key id KMS used last, per key store: that is the credential whose age matters. */
  const lastCredential = new Map<string, string>();

  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  new Gauge({
    name: 'keyhold_info',
    help: 'Always 1; labels name the running version',
    labelNames: ['version'],
    registers: [registry],
    aggregator: 'first',
  }).set({ version: opts.version ?? 'unknown' }, 1);

  const requests = new Counter({
    name: 'keyhold_xks_requests_total',
    help: 'XKS calls answered, by operation, key store and outcome (ok, or the XKS errorName)',
    labelNames: ['operation', 'key_store', 'outcome'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'keyhold_xks_request_duration_seconds',
    help: 'Time from request to answer inside the proxy, by operation, key store and outcome',
    labelNames: ['operation', 'key_store', 'outcome'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });

  const inFlight = new Gauge({
    name: 'keyhold_xks_in_flight',
    help: 'XKS calls admitted and not yet answered',
    registers: [registry],
    collect() {
      const o = sources.overload?.();
      if (o) this.set(o.inFlight);
    },
  });
  void inFlight;

  const shedSeen = new Map<string, number>();
  new Counter({
    name: 'keyhold_xks_shed_total',
    help: 'XKS calls refused on arrival by the overload guard, by reason (in_flight, event_loop_delay, queue_time)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const o = sources.overload?.();
      if (o) addDeltas(this, 'reason', o.shed, shedSeen);
    },
  });

  new Gauge({
    name: 'keyhold_xks_connections',
    help: 'XKS listener connections open now, by state (handshake: TLS not finished yet; established)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const c = sources.connections?.();
      if (!c) return;
      this.set({ state: 'handshake' }, c.handshaking);
      this.set({ state: 'established' }, c.open - c.handshaking);
    },
  });
  new Gauge({
    name: 'keyhold_xks_connections_limit',
    help: 'The XKS listener connection cap ([xks] max_connections, per process)',
    registers: [registry],
    collect() {
      const c = sources.connections?.();
      if (c) this.set(c.limit);
    },
  });
  const droppedSeen = new Map<string, number>();
  new Counter({
    name: 'keyhold_xks_connections_dropped_total',
    help: 'XKS connections closed by the listener guard, by reason (handshake_timeout, evicted_in_handshake at the cap, limit: refused at the cap)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const c = sources.connections?.();
      if (c) addDeltas(this, 'reason', c.dropped, droppedSeen);
    },
  });

  const throttledSeen = new Map<string, number>();
  new Counter({
    name: 'keyhold_xks_throttled_total',
    help: 'XKS calls refused by a key store quota, by key store',
    labelNames: ['key_store'],
    registers: [registry],
    collect() {
      const t = sources.throttled?.();
      if (t) addDeltas(this, 'key_store', Object.fromEntries(t), throttledSeen);
    },
  });

  new Gauge({
    name: 'keyhold_xks_certificate_days_to_expire',
    help: 'Days until the XKS listener certificate expires, per key store (CloudWatch: XksProxyCertificateDaysToExpire)',
    labelNames: ['key_store'],
    registers: [registry],
    aggregator: 'min',
    async collect() {
      this.reset();
      const notAfter = sources.certificateNotAfter?.();
      if (!notAfter || !sources.credentials) return;
      const days = (notAfter.getTime() - clock.now()) / DAY_MS;
      for (const ks of new Set((await sources.credentials()).map((c) => c.keyStore))) this.set({ key_store: ks }, round2(days));
    },
  });

  new Gauge({
    name: 'keyhold_xks_credential_age_days',
    help: 'Days since the SigV4 credential KMS uses was created, per key store (CloudWatch: XksProxyCredentialAge); before any call, the newest live credential',
    labelNames: ['key_store'],
    registers: [registry],
    aggregator: 'max',
    async collect() {
      this.reset();
      if (!sources.credentials) return;
      const byStore = new Map<string, LiveCredentialInfo[]>();
      for (const c of await sources.credentials()) byStore.set(c.keyStore, [...(byStore.get(c.keyStore) ?? []), c]);
      for (const [ks, creds] of byStore) {
        const used = creds.find((c) => c.accessKeyId === lastCredential.get(ks)) ?? creds.reduce((a, b) => (a.createdAt >= b.createdAt ? a : b));
        this.set({ key_store: ks }, round2((clock.now() - Date.parse(used.createdAt)) / DAY_MS));
      }
    },
  });

  const backendLatency = new Histogram({
    name: 'keyhold_backend_operation_duration_seconds',
    help: 'Key backend encrypt/decrypt time (for HSM keys including the wait for a session), by backend, operation and outcome',
    labelNames: ['backend', 'operation', 'outcome'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });

  // Labelled children per label set, made once: the hot path then skips hashing the labels.
  const backendChildren = new Map<string, { observe(v: number): void }>();
  const xksChildren = new Map<string, { requests: { inc(): void }; latency: { observe(v: number): void } }>();
  function xksSeries(operation: string, keyStore: string, outcome: string) {
    const key = `${operation}\0${keyStore}\0${outcome}`;
    let s = xksChildren.get(key);
    if (!s) {
      const labels = { operation, key_store: keyStore, outcome };
      // Bounded: operations and outcomes are fixed lists; key stores are few (and renamed rarely).
      if (xksChildren.size > 10_000) xksChildren.clear();
      xksChildren.set(key, (s = { requests: requests.labels(labels), latency: latency.labels(labels) }));
    }
    return s;
  }

  // HSM: the pool is read at scrape time when a source is wired; the backend may also push.
  let pushedPool: { sessions: number; inUse: number; waiting: number } | undefined;
  const reinitSeen = new Map<string, number>();
  new Gauge({
    name: 'keyhold_hsm_sessions',
    help: 'PKCS#11 sessions in the pool, by state (open, in_use)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const p = sources.hsmPool?.();
      const s = p ? { sessions: p.lanes, inUse: p.busy } : pushedPool;
      if (!s) return;
      this.set({ state: 'open' }, s.sessions);
      this.set({ state: 'in_use' }, s.inUse);
    },
  });
  new Gauge({
    name: 'keyhold_hsm_waiting',
    help: 'Callers waiting for a free PKCS#11 session',
    registers: [registry],
    collect() {
      const p = sources.hsmPool?.();
      const w = p ? p.waiting : pushedPool?.waiting;
      if (w !== undefined) this.set(w);
    },
  });
  new Counter({
    name: 'keyhold_hsm_reinitialisations_total',
    help: 'Times the PKCS#11 module was finalised and initialised again after a device failure',
    registers: [registry],
    collect() {
      const p = sources.hsmPool?.();
      if (p) addDeltas(this, undefined, { all: p.reinitialisations }, reinitSeen);
    },
  });
  const hsmCalls = new Histogram({
    name: 'keyhold_hsm_call_duration_seconds',
    help: 'PKCS#11 operations reported by the HSM backend, by operation and outcome',
    labelNames: ['operation', 'outcome'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });

  const auditQueue = new Gauge({ name: 'keyhold_audit_queue_depth', help: 'Audit records accepted and not yet durable', registers: [registry] });
  const auditCommit = new Histogram({
    name: 'keyhold_audit_commit_duration_seconds',
    help: 'Time of one durable audit commit',
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const auditRecords = new Counter({ name: 'keyhold_audit_records_committed_total', help: 'Audit records made durable', registers: [registry] });

  return {
    registry,
    contentType: registry.contentType,
    render: opts.render ?? (() => registry.metrics()),
    xksCalls: {
      answered(call, answer) {
        const ks = call.keyStoreName ?? NO_KEY_STORE;
        const outcome = answer.errorName ?? (answer.status < 400 ? 'ok' : `http_${answer.status}`);
        const series = xksSeries(call.operation, ks, outcome);
        series.requests.inc();
        series.latency.observe(answer.latencyMs / 1000);
        if (answer.status === 200 && call.accessKeyId && call.keyStoreName) lastCredential.set(call.keyStoreName, call.accessKeyId);
      },
    },
    backend: {
      backendCall(backend, operation, seconds, ok) {
        const key = `${backend}\0${operation}\0${ok ? 'ok' : 'error'}`;
        let child = backendChildren.get(key);
        if (!child) backendChildren.set(key, (child = backendLatency.labels({ backend, operation, outcome: ok ? 'ok' : 'error' })));
        child.observe(seconds);
      },
    },
    hsm: {
      hsmCall: (operation, seconds, outcome) => hsmCalls.observe({ operation, outcome }, seconds),
      hsmPool: (state) => void (pushedPool = state),
    },
    audit: {
      auditQueueDepth: (n) => auditQueue.set(n),
      auditCommit(records, seconds) {
        auditCommit.observe(seconds);
        auditRecords.inc(records);
      },
    },
    setSources(s) {
      sources = { ...sources, ...s };
    },
  };
}

/** Counters mirrored from running totals kept elsewhere: add what grew since the last scrape. */
function addDeltas(counter: Counter<string>, label: string | undefined, totals: Readonly<Record<string, number>>, seen: Map<string, number>): void {
  for (const [k, total] of Object.entries(totals)) {
    // A zero increment still creates the series, so a reason that never fired reads 0.
    const delta = Math.max(0, total - (seen.get(k) ?? 0));
    if (label) counter.inc({ [label]: k }, delta);
    else counter.inc(delta);
    seen.set(k, total);
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
