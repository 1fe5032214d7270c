import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import type { ChangeFeed, Storage } from '../domain/ports.js';
import type { Database } from './schema.js';
import { createKyselyStorage, migrate } from './kysely-storage.js';

export interface PostgresOptions {
  /** postgres://user@host:port/db — the password comes from PGPASSWORD or ~/.pgpass, never the config file. */
  url: string;
  poolSize?: number;
  /** Called when the change listener loses its connection (caches are dropped either way). */
  onListenerError?: (e: unknown) => void;
  /** Called when an idle pooled connection fails (the pool drops it and opens another when needed). */
  onPoolError?: (e: unknown) => void;
}

/**
 * Connection settings for every pool and client. A database restart or failover ends every
 * connection: each pool and client has an 'error' listener (without one, Node ends the
 * process on the first "Connection terminated unexpectedly"), and connecting gives up after
 * a bound instead of waiting for the kernel's TCP timeout. Keepalive finds a silently dead
 * peer (a partition) within seconds.
 */
export function pgConnectionOptions(url: string): pg.ClientConfig {
  return { connectionString: url, connectionTimeoutMillis: 2000, keepAlive: true, keepAliveInitialDelayMillis: 1000, query_timeout: 5000 };
}

/**
 * A pool that survives its connections dying. pg-pool listens for errors only on idle
 * clients; a client that is checked out (inside a query or a transaction) emits 'error' with
 * nobody listening, so every client gets its own listener: the failed query rejects, and the
 * pool discards the broken client when it is released.
 */
export function resilientPool(url: string, max: number, onError?: (e: unknown) => void): pg.Pool {
  // Idle connections stay open: a fresh connection inside a call's 250 ms is what we avoid.
  const pool = new pg.Pool({ ...pgConnectionOptions(url), max, idleTimeoutMillis: 0 });
  pool.on('error', (e) => onError?.(e));
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}

const CHANNEL = 'keyhold_changes';

// int8 (count(*)) as a JS number: our counts are far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

/**
 * Shared storage for a cluster: several Keyhold nodes on one PostgreSQL. Every committed
 * change is announced with NOTIFY; each node LISTENs on a dedicated connection and drops its
 * caches, so a change made on one node (or by the CLI) reaches all nodes within a second.
 * If the listening connection drops, caches are dropped too and it reconnects with backoff.
 */
export async function openPostgresStorage(opts: PostgresOptions): Promise<Storage> {
  const pool = resilientPool(opts.url, opts.poolSize ?? 10, opts.onPoolError);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await migrate(db, 'bytea');
  } catch (e) {
    await db.destroy(); // idle connections would keep the process alive
    throw e;
  }

  const listeners = new Set<() => void>();
  const emit = () => {
    for (const l of listeners) l();
  };
  let listener: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let backoff = 100;
  /** The LISTEN is in place: changes made elsewhere reach us. */
  let listening = false;
  // Our own NOTIFYs come back to us too; listeners already heard of those writes locally.
  const self = randomUUID();

  async function listen(): Promise<void> {
    const c = new pg.Client(pgConnectionOptions(opts.url));
    c.on('notification', (n) => {
      if (n.channel === CHANNEL && n.payload !== self) emit();
    });
    const lost = (e?: unknown) => {
      if (closed || listener !== c) return;
      listener = undefined;
      listening = false;
      c.end().catch(() => undefined);
      opts.onListenerError?.(e ?? new Error('change listener connection ended'));
      emit(); // we may have missed notifications
      retry = setTimeout(() => {
        retry = undefined;
        void listen().catch(lost);
      }, backoff);
      backoff = Math.min(backoff * 2, 5000);
    };
    c.on('error', lost);
    c.on('end', () => lost());
    listener = c;
    await c.connect();
    await c.query(`LISTEN ${CHANNEL}`);
    if (listener !== c) return;
    backoff = 100;
    listening = true;
    // Anything committed while we were not yet listening was missed: tell listeners once.
    emit();
  }

  const changes: ChangeFeed = {
    subscribe(l) {
      listeners.add(l);
      if (!listener && !retry) {
        const first = listen();
        // A failure of the first attempt goes through the same reconnect path as a drop.
        first.catch((e: unknown) => {
          if (listener) listener.emit('error', e instanceof Error ? e : new Error(String(e)));
          else opts.onListenerError?.(e);
        });
      }
      return () => listeners.delete(l);
    },
    connected: () => listening,
    async notify() {
      emit();
      await pool.query('SELECT pg_notify($1, $2)', [CHANNEL, self]);
    },
  };

  return createKyselyStorage({
    db,
    binaryType: 'bytea',
    changes,
    isUniqueViolation: (e) => typeof e === 'object' && e !== null && (e as { code?: unknown }).code === '23505',
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      await listener?.end().catch(() => undefined);
      await db.destroy();
    },
  });
}
