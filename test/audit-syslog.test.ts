import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { appendFileSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { selfSignedServerCertificate } from '../src/app/certificates.js';
import { createSyslogForwarder } from '../src/audit/index.js';
import type { AuditEntry } from '../src/domain/index.js';
import { eventually, setConfigValues, startKeyhold } from './support/keyhold-harness.js';
import { demoXksClient } from './support/xks-client.js';

const LINE = /^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) - \uFEFF(\{.*\})$/s;

function entry(seq: number): AuditEntry {
  return {
    seq,
    prev: '00'.repeat(32),
    mac: 'ab'.repeat(32),
    record: { kind: 'admin', time: '2025-01-01T00:00:00.000Z', node: 'n', actor: 'alice', source: 'cli', action: 'key.create', target: `k${seq}`, outcome: 'ok' },
  };
}

/** Splits an octet-counted stream ("LEN SP MSG" ...) into messages, checking every length. */
function deframe(buf: Buffer): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < buf.length) {
    const sp = buf.indexOf(0x20, i);
    assert.ok(sp > i, 'a frame starts with its length');
    const len = Number(buf.subarray(i, sp).toString('ascii'));
    assert.ok(Number.isInteger(len) && len > 0, 'the length is a positive integer');
    assert.ok(sp + 1 + len <= buf.length, 'the frame is complete');
    out.push(buf.subarray(sp + 1, sp + 1 + len).toString('utf8'));
    i = sp + 1 + len;
  }
  return out;
}

function streamCollector(server: Server, event: 'connection' | 'secureConnection' = 'connection'): { received: () => Buffer; drop: () => void } {
  const chunks: Buffer[] = [];
  const sockets: Socket[] = [];
  server.on(event, (s: Socket) => {
    sockets.push(s);
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', () => undefined);
  });
  return { received: () => Buffer.concat(chunks), drop: () => sockets.forEach((s) => s.destroy()) };
}

const header = { facility: 13, hostname: 'test-host', appName: 'keyhold', procId: '1' };

test('forwards records over UDP, one RFC 5424 message per datagram', async () => {
  const sock = createSocket('udp4');
  const got: string[] = [];
  sock.on('message', (m) => got.push(m.toString('utf8')));
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  const f = createSyslogForwarder({ ...header, transport: 'udp', host: '127.0.0.1', port: (sock.address() as AddressInfo).port, queueSize: 100 });
  f.forward([entry(1), entry(2), entry(3)]);
  await eventually(async () => assert.equal(got.length, 3));
  const m = LINE.exec(got[0]!);
  assert.ok(m, got[0]);
  assert.equal(m[1], String(13 * 8 + 5));
  assert.equal(m[6], 'admin');
  assert.deepEqual(got.map((g) => (JSON.parse(LINE.exec(g)![7]!) as { seq: number }).seq), [1, 2, 3]);
  await f.close();
  assert.deepEqual(f.stats(), { sent: 3, dropped: 0, queued: 0, errors: 0 });
  sock.close();
});

test('forwards records over TCP with octet-counting framing, and reconnects after the receiver restarts', async () => {
  let server = createNetServer();
  let c = streamCollector(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const f = createSyslogForwarder({ ...header, transport: 'tcp', host: '127.0.0.1', port, queueSize: 100, reconnectMinMs: 20 });
  f.forward([entry(1), entry(2)]);
  await eventually(async () => assert.equal(deframe(c.received()).length, 2));
  for (const m of deframe(c.received())) assert.match(m, LINE);

  // The receiver goes away and comes back on the same port.
  c.drop();
  await new Promise<void>((r) => server.close(() => r()));
  server = createNetServer();
  c = streamCollector(server);
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  await eventually(async () => {
    f.forward([entry(3)]);
    assert.ok(deframe(c.received()).some((m) => m.includes('"seq":3')));
  }, 5000, 100);
  await f.close();
  c.drop();
  server.close();
});

test('forwards records over TLS, verifying the receiver against the configured CA', async () => {
  const cert = await selfSignedServerCertificate(['localhost']);
  const server = createTlsServer({ cert: cert.certPem, key: cert.keyPem });
  const c = streamCollector(server, 'secureConnection');
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const f = createSyslogForwarder({ ...header, transport: 'tls', host: 'localhost', port, ca: cert.certPem, queueSize: 100 });
  f.forward([entry(7)]);
  await eventually(async () => assert.equal(deframe(c.received()).length, 1));
  assert.match(deframe(c.received())[0]!, /"seq":7/);
  await f.close();

  // Without the CA the receiver is not trusted: nothing is sent in clear, errors are counted.
  const untrusting = createSyslogForwarder({ ...header, transport: 'tls', host: 'localhost', port, queueSize: 100, reconnectMinMs: 10_000 });
  untrusting.forward([entry(8)]);
  await eventually(async () => assert.ok(untrusting.stats().errors >= 1));
  await untrusting.close(50);
  assert.equal(deframe(c.received()).length, 1);
  c.drop();
  server.close();
});

test('a dead receiver never blocks: the queue is bounded and drops are counted', async () => {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  server.close(); // nobody listens on this port now
  const f = createSyslogForwarder({ ...header, transport: 'tcp', host: '127.0.0.1', port, queueSize: 5, reconnectMinMs: 10_000 });
  for (let i = 1; i <= 20; i++) f.forward([entry(i)]);
  const s = f.stats();
  assert.equal(s.queued, 5);
  assert.equal(s.dropped, 15);
  await f.close(50);
  assert.equal(f.stats().dropped, 20, 'what could not be sent by close is counted too');
});

test('a server configured with [audit.syslog] forwards its XKS and admin records', async () => {
  const sock = createSocket('udp4');
  const got: string[] = [];
  sock.on('message', (m) => got.push(m.toString('utf8')));
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  const h = await startKeyhold();
  try {
    await h.stop();
    appendFileSync(join(h.dataDir, 'keyhold.toml'), `\n[audit.syslog]\ntransport = "udp"\nhost = "127.0.0.1"\nport = ${(sock.address() as AddressInfo).port}\napp_name = "keyhold-test"\n`);
    await h.start();
    const c = demoXksClient(h);
    const e = await c.encrypt('demo-key', { plaintext: Buffer.from('syslog test'), md: { kmsRequestId: 'syslog-req-1' } });
    assert.equal(e.status, 200);
    c.close();
    await eventually(async () => assert.ok(got.some((g) => g.includes('"kmsRequestId":"syslog-req-1"'))));
    const line = got.find((g) => g.includes('syslog-req-1'))!;
    const m = LINE.exec(line)!;
    assert.equal(m[4], 'keyhold-test');
    assert.equal(m[6], 'xks');
    // The CLI forwards the admin actions it records, too.
    await h.json(['key', 'create', 'syslog-key', '--keystore', 'demo']);
    await eventually(async () => assert.ok(got.some((g) => g.includes('"action":"keys.create"') && g.includes('syslog-key'))));
    assert.ok(!got.some((g) => g.includes(h.demo!.credential.secretAccessKey)));
  } finally {
    await h.dispose();
    sock.close();
  }
});

test('the server sends signed head checkpoints to syslog; any one of them verifies against the log', async () => {
  const sock = createSocket('udp4');
  const got: string[] = [];
  sock.on('message', (m) => got.push(m.toString('utf8')));
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  const h = await startKeyhold();
  try {
    await h.stop();
    setConfigValues(h.dataDir, 'audit', { checkpoint_interval_seconds: 1 });
    appendFileSync(join(h.dataDir, 'keyhold.toml'), `\n[audit.syslog]\ntransport = "udp"\nhost = "127.0.0.1"\nport = ${(sock.address() as AddressInfo).port}\n`);
    await h.start();
    const c = demoXksClient(h);
    for (let i = 0; i < 3; i++) assert.equal((await c.encrypt('demo-key', { plaintext: Buffer.from('cp'), md: { kmsRequestId: `cp-${i}` } })).status, 200);
    c.close();
    const checkpoints = () => got.filter((g) => LINE.exec(g)?.[6] === 'checkpoint');
    // One at start, then one a second: wait for one that covers the three calls.
    const covering = await eventually(async () => {
      const cp = checkpoints()
        .map((g) => JSON.parse(LINE.exec(g)![7]!) as { type: string; chains: { chain: string; seq: number }[]; publicKey: string; signature: string })
        .find((d) => d.chains[0]!.seq >= 8);
      assert.ok(cp, `a checkpoint after the calls (got ${checkpoints().length})`);
      return cp;
    }, 20_000, 100);
    assert.equal(covering.type, 'keyhold-audit-checkpoint');
    assert.match(covering.signature, /^[A-Za-z0-9+/]+=*$/);
    assert.equal(Number(LINE.exec(checkpoints()[0]!)![1]), 13 * 8 + 5, 'severity notice');
    // The syslog line itself (header and all) is accepted as the checkpoint file.
    const file = join(h.dataDir, 'from-syslog.txt');
    writeFileSync(file, checkpoints().find((g) => g.includes(covering.signature))!);
    const v = await h.cli(['audit', 'verify', '--checkpoint', file]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /Everything up to the checkpoint of .* is still in the log/);
    const pk = await h.json<{ publicKey: string }>(['audit', 'checkpoint']);
    assert.equal(pk.publicKey, covering.publicKey, 'one signing key: the one derived from the audit key');
  } finally {
    await h.dispose();
    sock.close();
  }
});
