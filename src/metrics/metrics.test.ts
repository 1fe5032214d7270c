import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { silentLogger } from '../base/index.js';
import type { XksCall, XksCallOperation } from '../domain/index.js';
import { createMetrics, createMetricsListener, registerClusterGauges, type Metrics } from './index.js';

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);
const clock = { now: () => NOW };
const DAY = 86_400_000;

/** The value of one sample line, e.g. sample(text, 'keyhold_xks_in_flight'). */
function sample(text: string, nameWithLabels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(nameWithLabels + ' '));
  return line === undefined ? undefined : Number(line.slice(nameWithLabels.length + 1));
}

/** One answered call through the metrics' call observer; `answer` defaults to the call's own outcome. */
function answered(
  m: Metrics,
  c: { operation: XksCallOperation; status: number; errorName?: string; latencyMs: number; keyStoreName?: string; accessKeyId?: string },
  answer: { status: number; errorName: string | undefined; latencyMs: number } = { status: c.status, errorName: c.errorName, latencyMs: c.latencyMs },
): void {
  const call: XksCall = {
    at: NOW,
    operation: c.operation,
    keyStoreId: undefined,
    keyStoreName: c.keyStoreName,
    externalKeyId: undefined,
    keyVersion: undefined,
    accessKeyId: c.accessKeyId,
    authenticated: c.accessKeyId !== undefined,
    claimedRequestId: undefined,
    ctx: undefined,
    policyDecidedBy: undefined,
    remoteAddress: undefined,
    status: c.status,
    errorName: c.errorName,
    errorMessage: undefined,
    latencyMs: c.latencyMs,
  };
  m.xksCalls.answered!(call, answer);
}

test('an answer that became InternalException (its audit record failed) is counted as KMS received it, with the wait', async () => {
  const m = createMetrics({ clock, defaultMetrics: false });
  answered(m, { operation: 'encrypt', status: 200, latencyMs: 1, keyStoreName: 'payments', accessKeyId: 'AKID1' }, { status: 500, errorName: 'InternalException', latencyMs: 30 });
  const text = await m.render();
  assert.equal(sample(text, 'keyhold_xks_requests_total{operation="encrypt",key_store="payments",outcome="InternalException"}'), 1);
  assert.equal(sample(text, 'keyhold_xks_requests_total{operation="encrypt",key_store="payments",outcome="ok"}'), undefined);
  assert.equal(sample(text, 'keyhold_xks_request_duration_seconds_bucket{le="0.025",operation="encrypt",key_store="payments",outcome="InternalException"}'), 0);
  assert.equal(sample(text, 'keyhold_xks_request_duration_seconds_bucket{le="0.05",operation="encrypt",key_store="payments",outcome="InternalException"}'), 1);
});

test('counts XKS calls and their latency by operation, key store and outcome', async () => {
  const m = createMetrics({ clock, defaultMetrics: false, version: '9.9.9' });
  answered(m, { operation: 'encrypt', status: 200, latencyMs: 0.8, keyStoreName: 'payments', accessKeyId: 'AKID1' });
  answered(m, { operation: 'encrypt', status: 200, latencyMs: 3, keyStoreName: 'payments' });
  answered(m, { operation: 'decrypt', status: 400, errorName: 'InvalidCiphertextException', latencyMs: 1.2, keyStoreName: 'payments' });
  answered(m, { operation: 'unrouted', status: 404, errorName: 'InvalidUriPathException', latencyMs: 0.1 });
  const text = await m.render();
  assert.match(text, /# TYPE keyhold_xks_requests_total counter/);
  assert.equal(sample(text, 'keyhold_xks_requests_total{operation="encrypt",key_store="payments",outcome="ok"}'), 2);
  assert.equal(sample(text, 'keyhold_xks_requests_total{operation="decrypt",key_store="payments",outcome="InvalidCiphertextException"}'), 1);
  assert.equal(sample(text, 'keyhold_xks_requests_total{operation="unrouted",key_store="(none)",outcome="InvalidUriPathException"}'), 1);
  assert.match(text, /# TYPE keyhold_xks_request_duration_seconds histogram/);
  assert.equal(sample(text, 'keyhold_xks_request_duration_seconds_bucket{le="0.001",operation="encrypt",key_store="payments",outcome="ok"}'), 1);
  assert.equal(sample(text, 'keyhold_xks_request_duration_seconds_bucket{le="0.005",operation="encrypt",key_store="payments",outcome="ok"}'), 2);
  assert.equal(sample(text, 'keyhold_xks_request_duration_seconds_count{operation="encrypt",key_store="payments",outcome="ok"}'), 2);
  assert.ok(Math.abs(sample(text, 'keyhold_xks_request_duration_seconds_sum{operation="encrypt",key_store="payments",outcome="ok"}')! - 0.0038) < 1e-9);
  assert.equal(sample(text, 'keyhold_info{version="9.9.9"}'), 1);
  assert.ok(!/process_cpu/.test(text), 'process metrics are off when asked');
});

test('certificate days to expiry and credential age per key store, as CloudWatch has them', async () => {
  const m = createMetrics({ clock, defaultMetrics: false });
  m.setSources({
    certificateNotAfter: () => new Date(NOW + 30 * DAY + DAY / 2),
    credentials: async () => [
      { keyStore: 'payments', accessKeyId: 'OLD', createdAt: new Date(NOW - 90 * DAY).toISOString() },
      { keyStore: 'payments', accessKeyId: 'NEW', createdAt: new Date(NOW - 2 * DAY).toISOString() },
      { keyStore: 'ledger', accessKeyId: 'L1', createdAt: new Date(NOW - 10 * DAY).toISOString() },
    ],
  });
  let text = await m.render();
  assert.equal(sample(text, 'keyhold_xks_certificate_days_to_expire{key_store="payments"}'), 30.5);
  assert.equal(sample(text, 'keyhold_xks_certificate_days_to_expire{key_store="ledger"}'), 30.5);
  // Before any call: the newest live credential.
  assert.equal(sample(text, 'keyhold_xks_credential_age_days{key_store="payments"}'), 2);
  assert.equal(sample(text, 'keyhold_xks_credential_age_days{key_store="ledger"}'), 10);
  // KMS still signs with the old credential: that is the one whose age matters.
  answered(m, { operation: 'encrypt', status: 200, latencyMs: 1, keyStoreName: 'payments', accessKeyId: 'OLD' });
  text = await m.render();
  assert.equal(sample(text, 'keyhold_xks_credential_age_days{key_store="payments"}'), 90);
});

test('load shedding, quota refusals and the HSM pool are read when scraped', async () => {
  const m = createMetrics({ clock, defaultMetrics: false });
  const shed = { in_flight: 0, event_loop_delay: 2, queue_time: 5 };
  const throttled = new Map([['payments', 7]]);
  m.setSources({
    overload: () => ({ inFlight: 3, shed }),
    throttled: () => throttled,
    hsmPool: () => ({ lanes: 4, busy: 1, waiting: 2, reinitialisations: 1 }),
  });
  let text = await m.render();
  assert.equal(sample(text, 'keyhold_xks_in_flight'), 3);
  assert.equal(sample(text, 'keyhold_xks_shed_total{reason="in_flight"}'), 0);
  assert.equal(sample(text, 'keyhold_xks_shed_total{reason="queue_time"}'), 5);
  assert.equal(sample(text, 'keyhold_xks_throttled_total{key_store="payments"}'), 7);
  assert.equal(sample(text, 'keyhold_hsm_sessions{state="open"}'), 4);
  assert.equal(sample(text, 'keyhold_hsm_sessions{state="in_use"}'), 1);
  assert.equal(sample(text, 'keyhold_hsm_waiting'), 2);
  assert.equal(sample(text, 'keyhold_hsm_reinitialisations_total'), 1);
  // Counters follow the running totals without counting twice.
  shed.queue_time = 6;
  throttled.set('payments', 9);
  text = await m.render();
  assert.equal(sample(text, 'keyhold_xks_shed_total{reason="queue_time"}'), 6);
  assert.equal(sample(text, 'keyhold_xks_throttled_total{key_store="payments"}'), 9);
});

test('the HSM backend and the audit sink report through their telemetry interfaces', async () => {
  const m = createMetrics({ clock, defaultMetrics: false });
  m.hsm.hsmCall('C_Encrypt', 0.002, 'ok');
  m.hsm.hsmCall('C_Encrypt', 0.3, 'timeout');
  m.hsm.hsmPool({ sessions: 8, inUse: 3, waiting: 0 });
  m.backend.backendCall('hsm', 'encrypt', 0.004, true);
  m.audit.auditQueueDepth(12);
  m.audit.auditCommit(40, 0.003);
  const text = await m.render();
  assert.equal(sample(text, 'keyhold_hsm_call_duration_seconds_count{operation="C_Encrypt",outcome="ok"}'), 1);
  assert.equal(sample(text, 'keyhold_hsm_call_duration_seconds_count{operation="C_Encrypt",outcome="timeout"}'), 1);
  assert.equal(sample(text, 'keyhold_hsm_sessions{state="open"}'), 8);
  assert.equal(sample(text, 'keyhold_hsm_sessions{state="in_use"}'), 3);
  assert.equal(sample(text, 'keyhold_backend_operation_duration_seconds_count{backend="hsm",operation="encrypt",outcome="ok"}'), 1);
  m.backend.backendCall('software', 'decrypt', 0.00002, false);
  m.backend.backendCall('software', 'decrypt', 0.00003, false);
  const again = await m.render();
  assert.equal(sample(again, 'keyhold_backend_operation_duration_seconds_count{backend="software",operation="decrypt",outcome="error"}'), 2);
  assert.equal(sample(text, 'keyhold_audit_queue_depth'), 12);
  assert.equal(sample(text, 'keyhold_audit_records_committed_total'), 40);
  assert.equal(sample(text, 'keyhold_audit_commit_duration_seconds_count'), 1);
});

test('process metrics are on by default', async () => {
  const text = await createMetrics({ clock }).render();
  assert.match(text, /^process_cpu_user_seconds_total \d/m);
  assert.match(text, /^nodejs_eventloop_lag_seconds /m);
});

test('the [metrics] listener serves GET /metrics and nothing else', async () => {
  const m = createMetrics({ clock, defaultMetrics: false });
  answered(m, { operation: 'health', status: 200, latencyMs: 1, keyStoreName: 'payments' });
  const l = createMetricsListener({ render: () => m.render(), contentType: m.contentType, log: silentLogger });
  const addr = await l.listen('127.0.0.1', 0);
  const get = (path: string, method = 'GET') =>
    new Promise<{ status: number; type: string; text: string }>((resolve, reject) => {
      request({ host: '127.0.0.1', port: addr.port, path, method }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }));
      })
        .on('error', reject)
        .end();
    });
  try {
    const ok = await get('/metrics');
    assert.equal(ok.status, 200);
    assert.match(ok.type, /^text\/plain; version=0\.0\.4/);
    assert.equal(sample(ok.text, 'keyhold_xks_requests_total{operation="health",key_store="payments",outcome="ok"}'), 1);
    assert.equal((await get('/')).status, 404);
    assert.equal((await get('/metrics', 'POST')).status, 404);
  } finally {
    await l.close();
  }
});

test('the sample Grafana dashboard only queries metrics that exist', async () => {
  const { readFileSync } = await import('node:fs');
  const file = new URL('../../../deploy/grafana/keyhold-xks.json', import.meta.url);
  const dash = JSON.parse(readFileSync(file, 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  const exprs = dash.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
  assert.ok(exprs.length >= 15);
  // A cluster node also registers the cluster gauges (src/metrics/node-gauges.ts).
  const m = createMetrics({ clock });
  registerClusterGauges(m.registry, { fleetSize: () => 2, custodyOk: () => true, schedulerOwner: () => false, changesConnected: () => true });
  const text = await m.render();
  const families = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
  for (const e of exprs) {
    for (const [name] of e.matchAll(/\b(?:keyhold|process|nodejs)_[a-z0-9_]+\b/g)) {
      const family = name.replace(/_(bucket|sum|count)$/, '');
      assert.ok(families.has(family) || families.has(name), `${name} (in ${e}) is not a Keyhold metric`);
    }
  }
});
