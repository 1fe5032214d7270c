/**
 * How the simulator reaches an XKS proxy, as KMS does: HTTPS POST with a JSON body, signed
 * with SigV4 (service `kms-xks-proxy`, the key store's Region, no x-amz-content-sha256),
 * a per-attempt timeout (250 ms by default) and one retry when the attempt timed out or the
 * connection failed. Connections are kept warm (keep-alive), as the spec advises.
 */
import { Agent, request } from 'node:https';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';

const Sha256 = Hash.bind(null, 'sha256');
/** A proxy answer larger than this is not an answer KMS could use. */
const MAX_RESPONSE_BYTES = 64 * 1024;

export interface XksTarget {
  uriEndpoint: string; // https://host[:port]
  uriPath: string; // [/prefix]/kms/xks/v1
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export type XksTransportOutcome =
  | { kind: 'response'; status: number; json: unknown }
  | { kind: 'timeout' }
  | { kind: 'network'; code: string }
  | { kind: 'tls'; code: string };

export interface XksTransportResult {
  outcome: XksTransportOutcome;
  attempts: number;
  latencyMs: number;
}

export interface XksTransport {
  /** `route` is appended to the URI path: `/health`, `/keys/{id}/encrypt`, ... */
  post(target: XksTarget, route: string, body: unknown): Promise<XksTransportResult>;
  close(): void;
}

export interface XksTransportOptions {
  /** PEM of the CA(s) that sign the proxy's certificate; default: Node's public roots. */
  ca?: string | Buffer | undefined;
  timeoutMs: number;
}

/** Node/OpenSSL error codes that mean the TLS handshake or certificate check failed. */
const TLS_CODE_RE = /CERT|^ERR_SSL|^ERR_TLS|^EPROTO$/;

class AttemptTimeout extends Error {
  readonly code = 'ETIMEDOUT_XKS';
}

export function createXksTransport(opts: XksTransportOptions): XksTransport {
  const agent = new Agent({ keepAlive: true, maxSockets: 64, minVersion: 'TLSv1.2', ...(opts.ca !== undefined ? { ca: opts.ca } : {}) });

  async function attempt(url: URL, headers: Record<string, string>, payload: string): Promise<XksTransportOutcome> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (o: XksTransportOutcome) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          resolve(o);
        }
      };
      const req = request(
        {
          agent,
          protocol: 'https:',
          hostname: url.hostname,
          port: url.port === '' ? 443 : Number(url.port),
          servername: url.hostname,
          method: 'POST',
          path: url.pathname,
          headers,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_RESPONSE_BYTES) {
              res.destroy();
              finish({ kind: 'response', status: res.statusCode ?? 0, json: undefined });
            } else chunks.push(c);
          });
          res.on('end', () => {
            let json: unknown;
            try {
              json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              json = undefined;
            }
            finish({ kind: 'response', status: res.statusCode ?? 0, json });
          });
          res.on('error', (e: NodeJS.ErrnoException) => finish(classify(e)));
        },
      );
      const timer = setTimeout(() => req.destroy(new AttemptTimeout('proxy call timed out')), opts.timeoutMs);
      req.on('error', (e: NodeJS.ErrnoException) => finish(classify(e)));
      req.end(payload);
    });
  }

  return {
    async post(target, route, body) {
      const url = new URL(target.uriEndpoint + target.uriPath + route);
      const payload = JSON.stringify(body);
      const signer = new SignatureV4({
        service: 'kms-xks-proxy',
        region: target.region,
        credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey },
        sha256: Sha256,
        applyChecksum: false,
      });
      const started = performance.now();
      let attempts = 0;
      let outcome: XksTransportOutcome;
      for (;;) {
        attempts++;
        // Sign each attempt afresh: the retry is a new request with its own X-Amz-Date.
        const signed = await signer.sign({
          method: 'POST',
          protocol: 'https:',
          hostname: url.hostname,
          path: url.pathname,
          query: {},
          headers: { host: url.host, 'content-type': 'application/json' },
          body: payload,
        });
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(signed.headers)) headers[k] = String(v);
        outcome = await attempt(url, headers, payload);
        const retryable = outcome.kind === 'timeout' || outcome.kind === 'network';
        if (!retryable || attempts >= 2) break;
      }
      return { outcome, attempts, latencyMs: Math.round(performance.now() - started) };
    },
    close() {
      agent.destroy();
    },
  };
}

function classify(e: NodeJS.ErrnoException): XksTransportOutcome {
  if (e instanceof AttemptTimeout) return { kind: 'timeout' };
  const code = e.code ?? 'UNKNOWN';
  if (TLS_CODE_RE.test(code)) return { kind: 'tls', code };
  return { kind: 'network', code };
}
