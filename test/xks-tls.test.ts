import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { issueCertificate, selfSignedServerCertificate, type IssuedCertificate } from '../src/app/certificates.js';
import { startKeyhold, eventually, setConfigValues, type KeyholdHarness } from './support/keyhold-harness.js';
import { xksClient, type XksClient } from './support/xks-client.js';
import { assertOk } from './support/xks-assert.js';

/**
 * The XKS listener's TLS (xks-spec §2, §8.3, §8.4): TLS 1.2+ with only the spec's suites,
 * mTLS with a client CA and a required subject name, and certificate reload that keeps open
 * connections. One server, started with mTLS for cks.kms.eu-west-1.amazonaws.com.
 */

const KMS_CLIENT = 'cks.kms.eu-west-1.amazonaws.com';

let h: KeyholdHarness;
let ca: IssuedCertificate;
let good: IssuedCertificate;
let wrongSubject: IssuedCertificate;
let otherCaClient: IssuedCertificate;
let viaSan: IssuedCertificate;
const clients: XksClient[] = [];
const agents: Agent[] = [];

function client(cert: IssuedCertificate | undefined, caPem = h.caPem): XksClient {
  const c = xksClient({ url: h.url, caPem, uriPath: h.demo!.uriPath, credential: h.demo!.credential, ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}) });
  clients.push(c);
  return c;
}

type Handshake = { ok: true; protocol: string | null; cipher: string; peer: X509Certificate; socket: TLSSocket } | { ok: false; code: string; message: string };

/** A TLS connection to the listener with the given options; resolves with the outcome of the handshake. */
function handshake(opts: ConnectionOptions): Promise<Handshake> {
  return new Promise((resolve) => {
    const s = connect({ host: 'localhost', port: h.port, servername: 'localhost', ca: h.caPem, cert: good.certPem, key: good.keyPem, ...opts });
    s.once('secureConnect', () => resolve({ ok: true, protocol: s.getProtocol(), cipher: s.getCipher().standardName, peer: s.getPeerX509Certificate()!, socket: s }));
    s.once('error', (e: NodeJS.ErrnoException) => resolve({ ok: false, code: e.code ?? '', message: e.message }));
  });
}

/** GET /ping over an agent; returns the socket that carried it (to see keep-alive reuse). */
function ping(agent: Agent): Promise<{ status: number; socket: TLSSocket; fingerprint: string | undefined }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: 'localhost', port: h.port, path: '/ping', method: 'GET', agent }, (res) => {
      const socket = res.socket as TLSSocket;
      // Read while the first response is in flight: Node does not report it on a reused socket.
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256;
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, socket, fingerprint }));
    });
    r.on('error', reject);
    r.end();
  });
}

/**
 * The handshake was refused with the named TLS alert. OpenSSL spells the alert's error code
 * differently across versions (ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE in 3.0,
 * ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE in newer ones): the alert is asserted, not its spelling.
 */
function assertAlert(r: Handshake, alert: 'HANDSHAKE_FAILURE' | 'PROTOCOL_VERSION', what: string): void {
  assert.equal(r.ok, false, `${what}: the handshake must fail`);
  if (!r.ok) assert.match(r.code, new RegExp(`^ERR_SSL_[A-Z0-9/]+_ALERT_${alert}$`), `${what}: ${r.code} ${r.message}`);
}

function agent(opts: ConstructorParameters<typeof Agent>[0]): Agent {
  const a = new Agent({ ca: h.caPem, cert: good.certPem, key: good.keyPem, keepAlive: true, ...opts });
  agents.push(a);
  return a;
}

before(async () => {
  ca = await issueCertificate({ commonName: 'Test KMS client CA', kind: 'ca' });
  const otherCa = await issueCertificate({ commonName: 'Some other CA', kind: 'ca' });
  [good, wrongSubject, otherCaClient, viaSan] = await Promise.all([
    issueCertificate({ commonName: KMS_CLIENT, kind: 'client', issuer: ca }),
    issueCertificate({ commonName: 'cks.kms.us-east-1.amazonaws.com', kind: 'client', issuer: ca }),
    issueCertificate({ commonName: KMS_CLIENT, kind: 'client', issuer: otherCa }),
    issueCertificate({ commonName: 'some-client', dnsNames: [KMS_CLIENT], kind: 'client', issuer: ca }),
  ]);
  h = await startKeyhold({
    beforeStart: (dir) => {
      writeFileSync(join(dir, 'tls', 'kms-client-ca.pem'), ca.certPem);
      setConfigValues(dir, 'xks', { mtls_client_ca: 'tls/kms-client-ca.pem', mtls_client_subjects: [KMS_CLIENT] });
    },
  });
});

after(async () => {
  for (const c of clients) c.close();
  for (const a of agents) a.destroy();
  await h?.dispose();
});

test('TLS 1.1 and older are refused by the server', async () => {
  for (const version of ['TLSv1.1', 'TLSv1'] as const) {
    // SECLEVEL=0 lets this OpenSSL client offer the old protocol at all; the server must say no.
    const r = await handshake({ minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' });
    assertAlert(r, 'PROTOCOL_VERSION', version);
  }
});

test('TLS 1.2 with a spec suite works; non-spec suites are refused', async () => {
  const r = await handshake({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' });
  assert.ok(r.ok, JSON.stringify(r));
  if (r.ok) {
    assert.equal(r.protocol, 'TLSv1.2');
    assert.equal(r.cipher, 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384');
    r.socket.destroy();
  }
  // A whole XKS call over TLS 1.2.
  assertOk(await client(good).health({ agent: agent({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' }) }), 'health over TLS 1.2');

  for (const ciphers of ['AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-ECDSA-AES256-SHA']) {
    const bad = await handshake({ maxVersion: 'TLSv1.2', ciphers });
    assertAlert(bad, 'HANDSHAKE_FAILURE', `${ciphers} must be refused`);
  }
});

test('TLS 1.3 offers only the spec suites', async () => {
  for (const suite of ['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']) {
    const r = await handshake({ minVersion: 'TLSv1.3', ciphers: suite });
    assert.ok(r.ok, `${suite}: ${JSON.stringify(r)}`);
    if (r.ok) {
      assert.equal(r.protocol, 'TLSv1.3');
      assert.equal(r.cipher, suite);
      r.socket.destroy();
    }
  }
  const refused = await handshake({ minVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256' });
  assert.equal(refused.ok, false, 'TLS_AES_128_GCM_SHA256 is not a spec suite');
});

test('mTLS: without a client certificate the connection is refused', async () => {
  const r = await client(undefined).health().then(
    (res) => ({ ok: true as const, status: res.status }),
    (e: NodeJS.ErrnoException) => ({ ok: false as const, code: e.code }),
  );
  assert.equal(r.ok, false, `no HTTP answer without a client certificate: ${JSON.stringify(r)}`);
  // Under TLS 1.2 the handshake itself fails.
  const t12 = await handshake({ maxVersion: 'TLSv1.2', cert: undefined, key: undefined });
  assertAlert(t12, 'HANDSHAKE_FAILURE', 'TLS 1.2 without a client certificate');
});

test('mTLS: a certificate from another CA is refused, even with the right subject', async () => {
  const r = await client(otherCaClient).health().then(
    (res) => ({ ok: true as const, status: res.status }),
    (e: NodeJS.ErrnoException) => ({ ok: false as const, code: e.code }),
  );
  assert.equal(r.ok, false, JSON.stringify(r));
  const t12 = await handshake({ maxVersion: 'TLSv1.2', cert: otherCaClient.certPem, key: otherCaClient.keyPem });
  assert.equal(t12.ok, false, 'the TLS 1.2 handshake does not complete');
  // Node closes the socket when client verification fails, often before OpenSSL's alert
  // reaches the wire (xks-spec §14.12: stacks differ in what the refusal looks like).
  if (!t12.ok) assert.match(t12.code, /^(ERR_SSL_(TLSV1_ALERT_UNKNOWN_CA|SSLV3_ALERT_BAD_CERTIFICATE|SSLV3_ALERT_HANDSHAKE_FAILURE)|ECONNRESET)$/, t12.message);
});

test('mTLS: a certificate from the right CA with the wrong subject is refused', async () => {
  for (const [tls, opts] of [['TLS 1.3', {}], ['TLS 1.2', { maxVersion: 'TLSv1.2' as const }]] as const) {
    const r = await client(wrongSubject)
      .health({ agent: agent({ cert: wrongSubject.certPem, key: wrongSubject.keyPem, ...opts }) })
      .then(
        (res) => ({ ok: true as const, status: res.status }),
        (e: NodeJS.ErrnoException) => ({ ok: false as const, code: e.code }),
      );
    assert.equal(r.ok, false, `${tls}: ${JSON.stringify(r)}`);
  }
  await eventually(async () => assert.match(h.output(), /"event":"mtls_rejected"/));
});

test('mTLS: the right CA and subject work, by CN or by DNS subject alternative name', async () => {
  const c = client(good);
  assertOk(await c.health());
  assertOk(await c.encrypt('demo-key', { plaintext: Buffer.from('over mTLS') }));
  assertOk(await client(viaSan).health(), 'subject in a DNS SAN');
  assertOk(await c.health({ agent: agent({ maxVersion: 'TLSv1.2' }) }), 'over TLS 1.2');
});

test('a replaced certificate is served to new connections; an open keep-alive connection keeps working', async () => {
  const oldFingerprint = new X509Certificate(h.caPem).fingerprint256;
  const kept = agent({ maxSockets: 1 });
  const first = await ping(kept);
  assert.equal(first.status, 200);
  assert.equal(first.fingerprint, oldFingerprint);

  const next = await selfSignedServerCertificate(['localhost']);
  // Replace both files the way an operator or certbot would: write aside, then rename.
  const tlsDir = join(h.dataDir, 'tls');
  writeFileSync(join(tlsDir, 'server.key.new'), next.keyPem, { mode: 0o600 });
  writeFileSync(join(tlsDir, 'server.crt.new'), next.certPem);
  renameSync(join(tlsDir, 'server.key.new'), join(tlsDir, 'server.key'));
  renameSync(join(tlsDir, 'server.crt.new'), join(tlsDir, 'server.crt'));

  const fresh = await eventually(
    async () => {
      const r = await handshake({ ca: next.certPem });
      assert.ok(r.ok, 'a new connection trusts only the new certificate');
      return r;
    },
    5000,
    100,
  );
  if (fresh.ok) {
    assert.equal(fresh.peer.fingerprint256, new X509Certificate(next.certPem).fingerprint256);
    fresh.socket.destroy();
  }
  // The old certificate is no longer offered to new connections.
  const old = await handshake({});
  assert.equal(old.ok, false, 'a client that trusts only the old certificate cannot connect anew');

  // The connection opened before the change is still open and still served.
  const again = await ping(kept);
  assert.equal(again.status, 200);
  assert.equal(again.socket, first.socket, 'the same keep-alive connection carried both requests');
  // And full XKS calls work over the new certificate.
  assertOk(await client(good, next.certPem).health());
});
