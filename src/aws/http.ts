/**
 * The HTTP(S) transport of every AWS client: a custom CA bundle for endpoints behind a
 * TLS-inspecting proxy or with a private CA, and the standard HTTPS_PROXY / NO_PROXY.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { HttpsProxyAgent } from 'https-proxy-agent';

/** Proxy settings, read once by the composition root from the environment. */
export interface AwsProxySettings {
  /** HTTPS_PROXY (or https_proxy): http://host:port, with optional user:password. */
  httpsProxy?: string | undefined;
  /** NO_PROXY: comma-separated host names or suffixes (".example.com"), or "*". */
  noProxy?: string | undefined;
}

export function proxySettingsFromEnv(env: NodeJS.ProcessEnv): AwsProxySettings {
  return { httpsProxy: env.HTTPS_PROXY || env.https_proxy || undefined, noProxy: env.NO_PROXY || env.no_proxy || undefined };
}

/** True when `host` is excluded from proxying by NO_PROXY. */
export function bypassesProxy(host: string, noProxy: string | undefined): boolean {
  if (!noProxy) return false;
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return noProxy
    .split(',')
    .map((s) => s.trim().toLowerCase().replace(/:\d+$/, ''))
    .filter(Boolean)
    .some((p) => p === '*' || h === p.replace(/^\./, '') || h.endsWith(p.startsWith('.') ? p : '.' + p));
}

export interface TransportOptions {
  /** The endpoint the client calls (for NO_PROXY), or undefined for AWS's own. */
  endpointHost: string | undefined;
  caPem: string | null;
  proxy: AwsProxySettings;
  /** Per-request timeout (ms). */
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
}

export function createRequestHandler(o: TransportOptions): NodeHttpHandler {
  const tls = o.caPem ? { ca: o.caPem } : {};
  const proxied = o.proxy.httpsProxy && !(o.endpointHost && bypassesProxy(o.endpointHost, o.proxy.noProxy));
  let httpsAgent: HttpsAgent;
  if (proxied) {
    const agent = new HttpsProxyAgent(o.proxy.httpsProxy!, { keepAlive: true });
    // The proxy agent's own options are for the proxy; the CA bundle must reach the TLS
    // session to the endpoint inside the tunnel, which takes the per-request options.
    if (o.caPem) (agent.options as { ca?: string }).ca = o.caPem;
    httpsAgent = agent;
  } else httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 50, ...tls });
  return new NodeHttpHandler({
    httpsAgent,
    httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 50 }),
    requestTimeout: o.requestTimeoutMs,
    connectionTimeout: o.connectionTimeoutMs,
  });
}
