import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
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
let expired: IssuedCertificate;
let pemDir: string;
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

type Refusal = { kind: 'alert'; code: string; message: string } | { kind: 'answered' } | { kind: 'other'; what: string };

/**
 * A TLS connection that a refused client certificate must end with a TLS alert. Under TLS
 * 1.3 the client's handshake completes before the server has read its certificate, so the
 * alert arrives on the first read; under TLS 1.2 the handshake itself fails.
 */
function refusal(opts: ConnectionOptions): Promise<Refusal> {
  return new Promise((resolve) => {
    const s = connect({ host: 'localhost', port: h.port, servername: 'localhost', ca: h.caPem, ...opts });
    s.once('secureConnect', () => s.write('GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    s.once('data', () => resolve({ kind: 'answered' }));
    s.once('error', (e: NodeJS.ErrnoException) => resolve(/^ERR_SSL_[A-Z0-9/]+_ALERT_/.test(e.code ?? '') ? { kind: 'alert', code: e.code!, message: e.message } : { kind: 'other', what: `${e.code} ${e.message}` }));
    s.once('close', () => resolve({ kind: 'other', what: 'a close without an alert' }));
  });
}

/** The client got the named TLS alert (asserted on the alert, not OpenSSL's spelling of the code). */
function assertRefusedWith(r: Refusal, alert: 'UNKNOWN_CA' | 'CERTIFICATE_EXPIRED', what: string): void {
  assert.equal(r.kind, 'alert', `${what}: ${JSON.stringify(r)}`);
  if (r.kind === 'alert') assert.match(r.code, new RegExp(`_ALERT_${alert}$`), `${what}: ${r.code} ${r.message}`);
}

/** curl GET /ping with a client certificate: its exit code and error output. */
function curlPing(cert: IssuedCertificate, name: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  writeFileSync(join(pemDir, `${name}.crt`), cert.certPem);
  writeFileSync(join(pemDir, `${name}.key`), cert.keyPem);
  writeFileSync(join(pemDir, 'server-ca.pem'), h.caPem);
  const args = ['-sS', '--cacert', join(pemDir, 'server-ca.pem'), '--cert', join(pemDir, `${name}.crt`), '--key', join(pemDir, `${name}.key`), `https://localhost:${h.port}/ping`];
  return new Promise((resolve, reject) => {
    const child = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => reject(new Error(`cannot run curl (a required test tool): ${e.message}`)));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
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
  // Valid for one day, ten days ago: the right CA and subject, but expired.
  expired = await issueCertificate({ commonName: KMS_CLIENT, kind: 'client', issuer: ca, notBefore: new Date(Date.now() - 10 * 86_400_000), days: 1 });
  pemDir = mkdtempSync(join(tmpdir(), 'keyhold-mtls-'));
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
  if (pemDir) rmSync(pemDir, { recursive: true, force: true });
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

test('mTLS: a certificate from another CA is refused in the handshake with an unknown-CA alert, even with the right subject', async () => {
  const r = await client(otherCaClient).health().then(
    (res) => ({ ok: true as const, status: res.status }),
    (e: NodeJS.ErrnoException) => ({ ok: false as const, code: e.code }),
  );
  assert.equal(r.ok, false, JSON.stringify(r));
  const key = { cert: otherCaClient.certPem, key: otherCaClient.keyPem };
  assertRefusedWith(await refusal({ ...key, maxVersion: 'TLSv1.2' }), 'UNKNOWN_CA', 'TLS 1.2');
  assertRefusedWith(await refusal({ ...key, minVersion: 'TLSv1.3' }), 'UNKNOWN_CA', 'TLS 1.3');
  const c = await curlPing(otherCaClient, 'other-ca');
  assert.notEqual(c.code, 0, 'curl fails');
  assert.equal(c.stdout, '', 'curl got no answer');
  assert.match(c.stderr, /alert unknown ca/i, `curl reports the alert: ${c.stderr}`);
  await eventually(async () => assert.match(h.output(), /"event":"mtls_rejected","reason":"certificate verification failed"/));
});

test('mTLS: an expired certificate from the right CA is refused in the handshake with a certificate-expired alert', async () => {
  const key = { cert: expired.certPem, key: expired.keyPem };
  assertRefusedWith(await refusal({ ...key, maxVersion: 'TLSv1.2' }), 'CERTIFICATE_EXPIRED', 'TLS 1.2');
  assertRefusedWith(await refusal({ ...key, minVersion: 'TLSv1.3' }), 'CERTIFICATE_EXPIRED', 'TLS 1.3');
  const c = await curlPing(expired, 'expired');
  assert.notEqual(c.code, 0, 'curl fails');
  assert.equal(c.stdout, '', 'curl got no answer');
  assert.match(c.stderr, /alert certificate expired/i, `curl reports the alert: ${c.stderr}`);
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
    // The chain verifies, so the handshake completes; the subject check then closes the
    // connection before any request is answered.
    const raw = await refusal({ cert: wrongSubject.certPem, key: wrongSubject.keyPem, ...opts });
    assert.equal(raw.kind, 'other', `${tls}: ${JSON.stringify(raw)}`);
  }
  await eventually(async () => assert.match(h.output(), /"event":"mtls_rejected","names":\["cks.kms.us-east-1.amazonaws.com"\]/));
});

test('mTLS: the right CA and subject work, by CN or by DNS subject alternative name', async () => {
  const c = client(good);
  assertOk(await c.health());
  assertOk(await c.encrypt('demo-key', { plaintext: Buffer.from('over mTLS') }));
  assertOk(await client(viaSan).health(), 'subject in a DNS SAN');
  assertOk(await c.health({ agent: agent({ maxVersion: 'TLSv1.2' }) }), 'over TLS 1.2');
  const viaCurl = await curlPing(good, 'good');
  assert.equal(viaCurl.code, 0, viaCurl.stderr);
  assert.equal(viaCurl.stdout, 'pong');
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
  // The new context still verifies client chains in the handshake.
  assertRefusedWith(await refusal({ ca: next.certPem, cert: otherCaClient.certPem, key: otherCaClient.keyPem }), 'UNKNOWN_CA', 'after the reload');
});
