import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as netConnect, isIPv6, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Logger } from '../base/index.js';
import type { AuditEntry } from '../domain/audit-model.js';
import type { AuditForwarder } from '../domain/audit-ports.js';
import { formatRfc5424, formatRfc5424Checkpoint, octetCountingFrame, type SignedCheckpoint, type SyslogHeader } from './rfc5424.js';

export interface SyslogForwarderOptions extends SyslogHeader {
  transport: 'udp' | 'tcp' | 'tls';
  host: string;
  port: number;
  /** PEM of the CA(s) that sign the receiver's certificate (tls); the system store otherwise. */
  ca?: string | undefined;
  /** Messages waiting to be sent, at most; more are dropped and counted. */
  queueSize: number;
  log?: Logger | undefined;
  /** Reconnect backoff for tcp/tls, in ms. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

export interface SyslogStats {
  /** Handed to the socket. */
  sent: number;
  /** Refused because the queue was full (or a datagram was too large). */
  dropped: number;
  queued: number;
  /** Connection or send errors. */
  errors: number;
}

export interface SyslogForwarder extends AuditForwarder {
  /** Sends a signed head checkpoint (MSGID "checkpoint"), best effort like the records. */
  checkpoint(doc: SignedCheckpoint): void;
  stats(): SyslogStats;
  /** Waits until the queue is written (or timeoutMs passed), then closes. */
  close(timeoutMs?: number): Promise<void>;
}

const MAX_DATAGRAM = 65_507;
const UDP_IN_FLIGHT = 64;

/** A FIFO that does not shift arrays. */
class Queue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(v: T): void {
    this.items.push(v);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const v = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return v;
  }
}

/**
 * Forwards committed audit records to a syslog receiver, best effort: forward() only
 * formats and queues, sending happens in the background, a full queue drops (and counts)
 * rather than waits, and a lost connection is retried with backoff. The request path never
 * waits for the network.
 */
export function createSyslogForwarder(opts: SyslogForwarderOptions): SyslogForwarder {
  const queue = new Queue<Buffer>();
  const stats = { sent: 0, dropped: 0, errors: 0 };
  const minBackoff = opts.reconnectMinMs ?? 200;
  const maxBackoff = opts.reconnectMaxMs ?? 10_000;
  let closed = false;
  const lastWarn = new Map<string, number>();
  const idleWaiters: (() => void)[] = [];

  /** At most one warning of each kind per 10 s: a dead receiver must not flood the log. */
  function warn(obj: object, msg: string): void {
    const now = Date.now();
    if (now - (lastWarn.get(msg) ?? 0) < 10_000) return;
    lastWarn.set(msg, now);
    opts.log?.warn({ event: 'audit_syslog', transport: opts.transport, target: `${opts.host}:${opts.port}`, ...obj }, msg);
  }

  function settleIdle(): void {
    if (queue.length === 0 && inFlight() === 0) for (const w of idleWaiters.splice(0)) w();
  }

  // --- UDP: one message per datagram.
  let udp: UdpSocket | undefined;
  let udpInFlight = 0;
  function pumpUdp(): void {
    udp ??= createUdp();
    while (queue.length && udpInFlight < UDP_IN_FLIGHT) {
      const m = queue.shift()!;
      udpInFlight++;
      udp.send(m, opts.port, opts.host, (err) => {
        udpInFlight--;
        if (err) {
          stats.errors++;
          warn({ err: err.message }, 'could not send an audit record to syslog');
        } else stats.sent++;
        pumpUdp();
        settleIdle();
      });
    }
  }
  function createUdp(): UdpSocket {
    const s = createSocket(isIPv6(opts.host) ? 'udp6' : 'udp4');
    s.on('error', (e) => {
      stats.errors++;
      warn({ err: e.message }, 'syslog socket error');
    });
    s.unref();
    return s;
  }

  // --- TCP and TLS: octet-counting frames over one connection, reconnecting with backoff.
  let stream: Socket | undefined;
  let connected = false;
  let backoff = minBackoff;
  let reconnectTimer: NodeJS.Timeout | undefined;
  function connectStream(): void {
    if (stream || reconnectTimer || closed) return;
    const onReady = () => {
      connected = true;
      backoff = minBackoff;
      pumpStream();
    };
    const s =
      opts.transport === 'tls'
        ? tlsConnect({ host: opts.host, port: opts.port, servername: isIPv6(opts.host) || /^[\d.]+$/.test(opts.host) ? undefined : opts.host, ca: opts.ca, rejectUnauthorized: true }, onReady)
        : netConnect({ host: opts.host, port: opts.port }, onReady);
    stream = s;
    s.setNoDelay(true);
    s.unref();
    s.on('drain', pumpStream);
    s.on('error', (e) => {
      stats.errors++;
      warn({ err: e.message }, 'syslog connection failed; retrying');
    });
    s.on('close', () => {
      stream = undefined;
      connected = false;
      if (closed) return;
      reconnectTimer = setTimeout(() => {
        reconnectTimer = undefined;
        if (queue.length) connectStream();
      }, backoff);
      reconnectTimer.unref();
      backoff = Math.min(backoff * 2, maxBackoff);
    });
  }
  function pumpStream(): void {
    if (!connected || !stream) return connectStream();
    while (queue.length) {
      const m = queue.shift()!;
      stats.sent++;
      if (!stream.write(m)) return;
    }
    settleIdle();
  }

  /** Datagrams not yet handed to the kernel (streams flush their buffer on end()). */
  function inFlight(): number {
    return opts.transport === 'udp' ? udpInFlight : 0;
  }

  const pump = opts.transport === 'udp' ? pumpUdp : pumpStream;

  function enqueue(msg: string): void {
    const frame = opts.transport === 'udp' ? Buffer.from(msg, 'utf8') : octetCountingFrame(msg);
    if (queue.length >= opts.queueSize || (opts.transport === 'udp' && frame.length > MAX_DATAGRAM)) {
      stats.dropped++;
      warn({ droppedTotal: stats.dropped }, 'syslog queue full; audit records dropped from forwarding (they are still in the audit log)');
      return;
    }
    queue.push(frame);
  }

  return {
    forward(entries: readonly AuditEntry[]) {
      if (closed) return;
      for (const e of entries) {
        let msg: string;
        try {
          msg = formatRfc5424(e, opts);
        } catch (err) {
          stats.errors++;
          warn({ err: err instanceof Error ? err.message : String(err) }, 'could not format an audit record for syslog');
          continue;
        }
        enqueue(msg);
      }
      pump();
    },

    checkpoint(doc: SignedCheckpoint) {
      if (closed) return;
      try {
        enqueue(formatRfc5424Checkpoint(doc, opts));
      } catch (err) {
        stats.errors++;
        warn({ err: err instanceof Error ? err.message : String(err) }, 'could not format an audit checkpoint for syslog');
        return;
      }
      pump();
    },

    stats: () => ({ ...stats, queued: queue.length }),

    async close(timeoutMs = 2000) {
      if (queue.length || inFlight()) {
        pump();
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, timeoutMs);
          idleWaiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      closed = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      stats.dropped += queue.length;
      while (queue.length) queue.shift();
      if (stream) {
        const s = stream;
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => s.destroy(), 500);
          s.once('close', () => {
            clearTimeout(t);
            resolve();
          });
          s.end();
        });
      }
      if (udp) udp.close();
    },
  };
}
