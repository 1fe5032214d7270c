import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startAdminHarness, type AdminHarness, type SignedInUser } from './support/admin-harness.js';
import { xksClient, type XksClient } from './support/xks-client.js';

/**
 * GET /metrics on the admin listener of a real server (real XKS calls signed by
 * @smithy/signature-v4, real audit log): the series an operator alarms on are there, count
 * what happened, and only administrators and auditors may read them.
 */
let h: AdminHarness;
let auditor: SignedInUser;
let custodian: SignedInUser;
let c: XksClient;

before(async () => {
  h = await startAdminHarness();
  auditor = await h.provision('auditor');
  custodian = await h.provision('custodian');
  const demo = h.init.demo!;
  c = xksClient({ url: `https://localhost:${h.running.xksAddress.port}`, caPem: h.caPem, uriPath: demo.uriPath, credential: demo.credential });
});

after(async () => {
  c?.close();
  await h?.dispose();
});

/** The value of one series, exactly as written (labels in prom-client's order). */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  assert.ok(line, `${series} is not in the exposition`);
  return Number(line.slice(series.length + 1));
}

test('GET /metrics counts XKS calls, their outcomes and latency, the audit commits and the CloudWatch signals', async () => {
  const plaintext = Buffer.from('metrics must never show this plaintext');
  const enc = await c.encrypt('demo-key', { plaintext });
  assert.equal(enc.status, 200, enc.text);
  assert.equal((await c.encrypt('demo-key', { plaintext })).status, 200);
  const bad = await c.decrypt('demo-key', { ciphertext: String(enc.body.ciphertext), initializationVector: String(enc.body.initializationVector), authenticationTag: Buffer.alloc(16).toString('base64'), ciphertextMetadata: String(enc.body.ciphertextMetadata) });
  assert.equal(bad.body.errorName, 'InvalidCiphertextException');
  assert.equal((await c.health()).status, 200);

  const r = await h.api.call('GET', '/metrics', { token: auditor.token });
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  const text = r.text;

  assert.equal(sample(text, 'keyhold_xks_requests_total{operation="encrypt",key_store="demo",outcome="ok"}'), 2);
  assert.equal(sample(text, 'keyhold_xks_requests_total{operation="decrypt",key_store="demo",outcome="InvalidCiphertextException"}'), 1);
  assert.equal(sample(text, 'keyhold_xks_requests_total{operation="health",key_store="demo",outcome="ok"}'), 1);
  assert.equal(sample(text, 'keyhold_xks_request_duration_seconds_count{operation="encrypt",key_store="demo",outcome="ok"}'), 2);
  assert.equal(sample(text, 'keyhold_xks_request_duration_seconds_bucket{le="+Inf",operation="encrypt",key_store="demo",outcome="ok"}'), 2);
  assert.ok(sample(text, 'keyhold_xks_request_duration_seconds_sum{operation="encrypt",key_store="demo",outcome="ok"}') > 0);

  // Software keys' backend operations are timed too (a tag that does not verify is a completed decrypt).
  assert.equal(sample(text, 'keyhold_backend_operation_duration_seconds_count{backend="software",operation="encrypt",outcome="ok"}'), 2);
  assert.equal(sample(text, 'keyhold_backend_operation_duration_seconds_count{backend="software",operation="decrypt",outcome="ok"}'), 1);

  // Every answered call has a durable audit record, and the commits are timed.
  assert.ok(sample(text, 'keyhold_audit_records_committed_total') >= 4);
  assert.ok(sample(text, 'keyhold_audit_commit_duration_seconds_count') >= 1);
  assert.equal(sample(text, 'keyhold_audit_queue_depth'), 0);

  // The CloudWatch signals: the self-signed test certificate is valid for months; the demo
  // credential was made a moment ago.
  const days = sample(text, 'keyhold_xks_certificate_days_to_expire{key_store="demo"}');
  assert.ok(days > 30 && days < 10_000, `days to expiry: ${days}`);
  const age = sample(text, 'keyhold_xks_credential_age_days{key_store="demo"}');
  assert.ok(age >= 0 && age < 1, `credential age: ${age}`);

  assert.equal(sample(text, 'keyhold_xks_in_flight'), 0);
  assert.match(text, /^keyhold_info\{version="[^"]+"\} 1$/m);
  assert.match(text, /^process_resident_memory_bytes \d+/m);
  assert.match(text, /^nodejs_eventloop_lag_seconds /m);

  // Nothing secret or caller-provided goes into labels.
  assert.ok(!text.includes(plaintext.toString('base64')));
  assert.ok(!text.includes(h.init.demo!.credential.secretAccessKey));
  assert.ok(!text.includes(h.init.demo!.credential.accessKeyId));
});

test('GET /metrics is for administrators and auditors only', async () => {
  assert.equal((await h.api.call('GET', '/metrics', { token: h.admin.token })).status, 200);
  assert.equal((await h.api.call('GET', '/metrics', { token: custodian.token })).status, 403);
  assert.equal((await h.api.call('GET', '/metrics', {})).status, 401);
});
