import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventEmitter, once } from 'node:events';

/** An HTTP relay in front of the simulator that can hold requests (to catch a sync mid-way, without timing). */
export interface Gate {
  url: string;
  hold(): void;
  /** Resolves when a request is being held. */
  parked(): Promise<void>;
  release(): void;
  close(): Promise<void>;
}

export async function startGate(target: string): Promise<Gate> {
  const t = new URL(target);
  const events = new EventEmitter();
  let holding = false;
  let waiting: (() => void)[] = [];
  const server: Server = createServer((req, res) => {
    const forward = () => {
      const up = request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    };
    if (!holding) return forward();
    waiting.push(forward);
    events.emit('parked');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold: () => void (holding = true),
    parked: async () => {
      if (waiting.length === 0) await once(events, 'parked');
    },
    release() {
      holding = false;
      const w = waiting;
      waiting = [];
      for (const f of w) f();
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
