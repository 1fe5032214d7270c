import type { Server } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../base/index.js';

/**
 * Connection admission for the XKS listener: a hard deadline on the TLS handshake and a cap
 * on concurrent connections.
 *
 * A TCP connection costs a descriptor from its first byte, before anything about it is
 * known. Without limits, idle sockets (or sockets that dribble a ClientHello) pile up until
 * the process runs out of descriptors, and then every signed call fails. The deadline bounds
 * how long an unauthenticated socket lives; the cap bounds how many exist. At the cap, the
 * oldest connection still in its handshake makes room for the new one: a flood of sockets
 * that never finish TLS then cannot lock out a client that does (KMS completes its handshake
 * in milliseconds). Only when every connection is past its handshake is the new one refused.
 */

export interface ConnectionLimits {
  /** A connection whose TLS handshake has not finished after this long is closed. */
  handshakeTimeoutMs: number;
  /** Concurrent connections on this listener (per process with `workers`). */
  maxConnections: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = { handshakeTimeoutMs: 10_000, maxConnections: 4096 };

/** Why a connection was closed by the guard. */
export type ConnectionDropReason = 'handshake_timeout' | 'evicted_in_handshake' | 'limit';

export interface ConnectionStats {
  /** Connections open now (in handshake or established). */
  open: number;
  /** Of those, still in their TLS handshake. */
  handshaking: number;
  limit: number;
  /** Connections closed by the guard so far, by reason. */
  dropped: Readonly<Record<ConnectionDropReason, number>>;
}

export interface ConnectionGuard {
  stats(): ConnectionStats;
}

interface Tracked {
  raw: Socket;
  key: string;
  /** Still counted in `open`. */
  counted: boolean;
}

/** Log at most one "limit reached" line per this interval (a flood would otherwise log per socket). */
const LIMIT_LOG_INTERVAL_MS = 10_000;

/**
 * The server options this guard relies on. Node's handshakeTimeout is a deadline on the
 * whole handshake (not on idle time), so a client that sends a byte now and then is closed
 * as well; Node reports it as tlsClientError ERR_TLS_HANDSHAKE_TIMEOUT.
 */
export function connectionServerOptions(limits: ConnectionLimits): { handshakeTimeout: number } {
  return { handshakeTimeout: limits.handshakeTimeoutMs };
}

/** Counts and caps the connections of a server created with connectionServerOptions(limits). */
export function guardConnections(server: Server, limits: ConnectionLimits, log: Logger): ConnectionGuard {
  /** Connections still in their handshake, oldest first, by remote address and port. */
  const handshaking = new Map<string, Tracked>();
  let open = 0;
  const dropped: Record<ConnectionDropReason, number> = { handshake_timeout: 0, evicted_in_handshake: 0, limit: 0 };
  let lastLimitLog = -Infinity;

  const keyOf = (s: Socket | TLSSocket) => `${s.remoteAddress ?? ''}|${s.remotePort ?? 0}`;

  function atLimit(): void {
    const now = performance.now();
    if (now - lastLimitLog < LIMIT_LOG_INTERVAL_MS) return;
    lastLimitLog = now;
    log.warn(
      { event: 'xks_connection_limit', limit: limits.maxConnections, open, handshaking: handshaking.size, dropped: { ...dropped } },
      `XKS listener at its connection limit (${limits.maxConnections}); closing connections that have not finished TLS first`,
    );
  }

  /** Uncounts a connection once: when it closes, or at once when it is evicted (its 'close' comes a tick later). */
  function release(t: Tracked): void {
    if (!t.counted) return;
    t.counted = false;
    open--;
    if (handshaking.get(t.key) === t) handshaking.delete(t.key);
  }

  // Runs before Node wraps the socket in TLS.
  server.prependListener('connection', (raw: Socket) => {
    if (open >= limits.maxConnections) {
      atLimit();
      const oldest = handshaking.values().next();
      if (oldest.done) {
        dropped.limit++;
        raw.destroy();
        return;
      }
      dropped.evicted_in_handshake++;
      release(oldest.value);
      oldest.value.raw.destroy();
    }
    open++;
    const t: Tracked = { raw, key: keyOf(raw), counted: true };
    handshaking.set(t.key, t);
    raw.once('close', () => release(t));
  });
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    handshaking.delete(keyOf(socket));
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') dropped.handshake_timeout++;
    // Node closes the socket after a handshake error; destroy() makes sure of it.
    socket.destroy();
  });

  return { stats: () => ({ open, handshaking: handshaking.size, limit: limits.maxConnections, dropped: { ...dropped } }) };
}
