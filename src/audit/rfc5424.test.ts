import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEntry } from '../domain/audit-model.js';
import { formatRfc5424, headerField, octetCountingFrame, severityOf } from './rfc5424.js';

const entry: AuditEntry = {
  seq: 42,
  prev: 'aa'.repeat(32),
  mac: 'bb'.repeat(32),
  record: {
    kind: 'xks',
    time: '2025-05-06T07:08:09.123Z',
    node: 'node-1',
    operation: 'decrypt',
    kmsRequestId: 'req-1',
    authenticated: true,
    keyId: 'k1',
    status: 200,
    outcome: 'ok',
    latencyMs: 1.25,
  },
};
const header = { facility: 13, hostname: 'kh host', appName: 'keyhold', procId: '1234' };

test('a record becomes one RFC 5424 line: PRI, version 1, timestamp, host, app, procid, msgid, no SD, BOM + JSON', () => {
  const m = formatRfc5424(entry, header);
  const re = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) - \uFEFF(\{.*\})$/;
  const g = re.exec(m);
  assert.ok(g, m);
  assert.equal(Number(g[1]), 13 * 8 + 6, 'facility log audit, severity informational');
  assert.equal(g[2], '2025-05-06T07:08:09.123Z');
  assert.equal(g[3], 'kh_host', 'spaces are not allowed in HOSTNAME');
  assert.equal(g[4], 'keyhold');
  assert.equal(g[5], '1234');
  assert.equal(g[6], 'xks');
  const body = JSON.parse(g[7]!) as Record<string, unknown>;
  assert.equal(body.seq, 42);
  assert.equal(body.kmsRequestId, 'req-1');
  assert.equal(body.mac, 'bb'.repeat(32));
});

test('severity follows the outcome', () => {
  const r = entry.record;
  assert.equal(severityOf(entry), 6);
  assert.equal(severityOf({ ...entry, record: { ...r, outcome: 'error', errorName: 'AccessDeniedException' } as typeof r }), 4);
  assert.equal(severityOf({ ...entry, record: { ...r, outcome: 'error', errorName: 'InvalidCiphertextException' } as typeof r }), 5);
  const admin: AuditEntry['record'] = { kind: 'admin', time: r.time, node: 'n', actor: 'a', source: 'cli', action: 'key.create', target: 'k', outcome: 'ok' };
  assert.equal(severityOf({ ...entry, record: admin }), 5);
  assert.equal(severityOf({ ...entry, record: { ...admin, outcome: 'error' } }), 4);
});

test('header fields are printable ASCII, bounded, and NILVALUE when empty', () => {
  assert.equal(headerField('', 10), '-');
  assert.equal(headerField(undefined, 10), '-');
  assert.equal(headerField('héllo wörld', 48), 'h_llo_w_rld');
  assert.equal(headerField('x'.repeat(60), 48).length, 48);
});

test('octet counting frames count bytes, not characters', () => {
  assert.deepEqual(octetCountingFrame('é'), Buffer.from('2 é'));
  assert.equal(octetCountingFrame('<14>1 - - - - - -').toString(), '17 <14>1 - - - - - -');
});
