/**
 * Real network pieces for the AWS plane's tests: moto with options (IAM enforcement), a TLS
 * front with a self-signed certificate before a plain-HTTP endpoint, an HTTP CONNECT proxy
 * that records the tunnels it opens, and IAM set-up calls signed with @smithy/signature-v4.
 */
import { reap } from './reaper.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import { selfSignedCertificate } from './certificates.js';

const Sha256 = Hash.bind(null, 'sha256');

export interface Moto {
  url: string;
  close(): Promise<void>;
}

/** moto on a free loopback port with extra environment (e.g. INITIAL_NO_AUTH_ACTION_COUNT). */
export async function startMotoWith(env: Record<string, string>): Promise<Moto> {
  const child: ChildProcess = reap(spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }));
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`moto did not start within 30 s: ${output}`)), 30_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      const m = /Running on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`moto exited with ${code}: ${output} (is moto installed? python3 -m pip install 'moto[server]')`));
    });
  });
  return {
    url,
    async close() {
      if (child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    },
  };
}

/** One IAM query-API call to moto, signed; returns the XML answer. */
export async function iamCall(motoUrl: string, params: Record<string, string>, cred = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' }): Promise<string> {
  const u = new URL(motoUrl);
  const body = new URLSearchParams({ ...params, Version: '2010-05-08' }).toString();
  const signer = new SignatureV4({ service: 'iam', region: 'us-east-1', credentials: cred, sha256: Sha256 });
  const signed = await signer.sign({
    method: 'POST',
    protocol: 'http:',
    hostname: u.hostname,
    port: Number(u.port),
    path: '/',
    headers: { host: u.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body,
  });
  const r = await fetch(motoUrl + '/', { method: 'POST', headers: signed.headers as Record<string, string>, body });
  const text = await r.text();
  if (!r.ok) throw new Error(`IAM ${params.Action}: ${r.status} ${text}`);
  return text;
}

export const xmlField = (xml: string, tag: string) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];

export interface TlsFront {
  url: string;
  certPem: string;
  close(): Promise<void>;
}

/** HTTPS on a free port, forwarding every request to `target` (plain HTTP). */
export async function startTlsFront(target: string): Promise<TlsFront> {
  const { certPem, keyPem } = await selfSignedCertificate('localhost');
  const t = new URL(target);
  const server = createHttpsServer({ cert: certPem, key: keyPem }, (req, res) => {
    const up = httpRequest({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `https://localhost:${port}`, certPem, close: () => closeServer(server) };
}

export interface ConnectProxy {
  url: string;
  /** host:port of every CONNECT tunnel opened. */
  tunnels: string[];
  close(): Promise<void>;
}

/** A forward proxy that only does CONNECT (what HTTPS through HTTPS_PROXY uses). */
export async function startConnectProxy(): Promise<ConnectProxy> {
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  const server = createHttpServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req, client: Socket, head: Buffer) => {
    const [host, port] = (req.url ?? '').split(':');
    tunnels.push(req.url ?? '');
    const up = netConnect(Number(port), host!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    sockets.add(up).add(client);
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    async close() {
      for (const s of sockets) s.destroy();
      await closeServer(server);
    },
  };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections?.();
  return new Promise((r) => server.close(() => r()));
}
