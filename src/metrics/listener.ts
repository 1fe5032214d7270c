import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../base/index.js';

/**
 * The optional [metrics] listener: GET /metrics in Prometheus text format over plain HTTP,
 * for scrapers that hold no admin API token. It exposes counts and latencies, never key
 * material or secrets, but it does name key stores: keep it on loopback or a monitoring
 * network. Anything else is 404; a failing render is 500 with no details.
 */
export interface MetricsListener {
  server: Server;
  listen(host: string, port: number): Promise<AddressInfo>;
  close(): Promise<void>;
}

export function createMetricsListener(opts: { render(): Promise<string>; contentType: string; log: Logger }): MetricsListener {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; metrics are at GET /metrics\n');
      return;
    }
    opts.render().then(
      (text) => {
        res.writeHead(200, { 'content-type': opts.contentType, 'content-length': Buffer.byteLength(text) });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (e: unknown) => {
        opts.log.error({ event: 'metrics_failed', err: e instanceof Error ? e.message : String(e) }, 'could not render metrics');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  });
  server.keepAliveTimeout = 65_000;
  return {
    server,
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
