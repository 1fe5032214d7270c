import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tcpConnect, createServer as createTcpServer, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { request } from 'node:http';
import { startKeyhold, eventually, setConfigValues, type KeyholdHarness } from './support/keyhold-harness.js';
import { xksClient, type XksClient } from './support/xks-client.js';
import { assertOk } from './support/xks-assert.js';

/**
 * The XKS listener's connection guard (issue 15): connections that never finish a TLS
 * handshake are closed after [xks] handshake_timeout_seconds, and at most max_connections
 * are open at once, while signed calls keep being served. One real server with a cap of 40
 * connections and a 2-second handshake deadline.
 */

const LIMIT = 40;
let h: KeyholdHarness;
let metricsPort: number;
const sockets: Socket[] = [];
const clients: XksClient[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createTcpServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function metricsText(): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port: metricsPort, path: '/metrics' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve(text));
    });
    r.on('error', reject);
    r.end();
  });
}

function series(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  assert.ok(line, `${name} is not in the exposition`);
  return Number(line.slice(name.length + 1));
}

interface Tracked {
  socket: Socket;
  closed: Promise<void>;
  isClosed(): boolean;
}

/** A TCP connection to the XKS listener that sends nothing (or what the test writes). */
function rawSocket(): Promise<Tracked> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(h.port, '127.0.0.1');
    sockets.push(socket);
    let closed = false;
    const done = new Promise<void>((r) => socket.once('close', () => ((closed = true), r())));
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, closed: done, isClosed: () => closed }));
    socket.once('error', reject);
  });
}

function client(): XksClient {
  const c = xksClient({ url: h.url, caPem: h.caPem, uriPath: h.demo!.uriPath, credential: h.demo!.credential });
  clients.push(c);
  return c;
}

before(async () => {
  metricsPort = await freePort();
  h = await startKeyhold({
    beforeStart: (dir) => {
      setConfigValues(dir, 'xks', { handshake_timeout_seconds: 2, max_connections: LIMIT });
      setConfigValues(dir, 'metrics', { listen: `127.0.0.1:${metricsPort}` });
    },
  });
});

after(async () => {
  for (const s of sockets) s.destroy();
  for (const c of clients) c.close();
  await h?.dispose();
});

test('idle sockets past the cap make room for a client that finishes TLS: signed calls keep working', async () => {
  // Three times the cap of sockets that never send a byte.
  const idle = await Promise.all(Array.from({ length: LIMIT * 3 }, () => rawSocket()));
  const c = client();
  assertOk(await c.health(), 'health with the listener flooded by idle sockets');
  assertOk(await c.encrypt('demo-key', { plaintext: Buffer.from('still served') }), 'encrypt with the listener flooded by idle sockets');
  // Every idle socket is closed: the older ones to make room, the rest at the handshake deadline.
  await eventually(async () => assert.equal(idle.filter((s) => !s.isClosed()).length, 0, 'idle sockets still open'), 60_000, 200);
  // A signed call on the same keep-alive connection and on a new one still works.
  assertOk(await c.health());
  assertOk(await client().health());

  const m = await metricsText();
  assert.ok(series(m, 'keyhold_xks_connections_dropped_total{reason="evicted_in_handshake"}') >= LIMIT, 'the flood beyond the cap was evicted');
  assert.ok(series(m, 'keyhold_xks_connections_dropped_total{reason="handshake_timeout"}') >= 1, 'the rest closed at the deadline');
  assert.equal(series(m, 'keyhold_xks_connections_limit'), LIMIT);
  assert.equal(series(m, 'keyhold_xks_connections{state="handshake"}'), 0);
  assert.match(h.output(), /"event":"xks_connection_limit"/, 'reaching the cap is logged');
});

test('a client that dribbles its handshake is closed at the deadline, not kept alive by its bytes', async () => {
  const slow = await rawSocket();
  // The first bytes of a TLS record header, one at a time, far more often than the deadline.
  const bytes = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01];
  let i = 0;
  const timer = setInterval(() => {
    if (!slow.isClosed()) slow.socket.write(Buffer.from([bytes[i++ % bytes.length]!]));
  }, 200);
  try {
    await eventually(async () => assert.ok(slow.isClosed(), 'still open'), 60_000, 200);
    assert.ok(i >= 2, 'bytes kept arriving while the handshake was pending');
  } finally {
    clearInterval(timer);
  }
});

test('with every connection past its handshake, a new connection is refused; closing them lets calls in again', async () => {
  const established: TLSSocket[] = [];
  // Fill the cap with finished handshakes (the keep-alive sockets of earlier tests may hold some places).
  for (const c of clients.splice(0)) c.close();
  await eventually(async () => assert.equal(series(await metricsText(), 'keyhold_xks_connections{state="established"}'), 0), 30_000, 200);
  for (let n = 0; n < LIMIT; n++) {
    established.push(
      await new Promise<TLSSocket>((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port: h.port, servername: 'localhost', ca: h.caPem }, () => resolve(s));
        s.once('error', reject);
      }),
    );
  }
  try {
    // A TLS 1.3 client is connected before the server has read its Finished: wait for the server's view.
    await eventually(async () => assert.equal(series(await metricsText(), 'keyhold_xks_connections{state="established"}'), LIMIT), 30_000, 100);
    const refused = await rawSocket();
    await eventually(async () => assert.ok(refused.isClosed(), 'a connection beyond the cap is closed'), 30_000, 100);
    assert.ok(series(await metricsText(), 'keyhold_xks_connections_dropped_total{reason="limit"}') >= 1);
  } finally {
    for (const s of established) s.destroy();
  }
  await eventually(async () => assertOk(await client().health()), 30_000, 200);
});
