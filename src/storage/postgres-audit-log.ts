import type { KeyObject } from 'node:crypto';
import pg from 'pg';
import { AUDIT_ROOT_CHAIN } from '../crypto/index.js';
import { AUDIT_KEY_META } from '../domain/audit-key.js';
import type { AuditEntry, AuditRecord } from '../domain/audit-model.js';
import type { AuditKeyRepo, AuditMaintenance, AuditReader, StoredAuditAnchor } from '../domain/audit-ports.js';
import {
  AUDIT_ROW_COLUMNS,
  AUDIT_TIME_SLACK_MS,
  chainBatch,
  entriesOf,
  groupCommitSink,
  mergedUsageRow,
  prepareAuditBatch,
  shiftIso,
  tailOf,
  toKeyUsageRow,
  toStoredAuditRow,
  usageDbRow,
  usageParams,
  USAGE_COLUMNS,
  wipedChainError,
  type AuditLogRow,
  type AuditSinkOptions,
  type AuditStore,
  type AuditStoreSink,
  type AuditUsageDbRow,
  type PreparedBatch,
  type Tail,
} from './audit-batch.js';
import { resilientPool } from './postgres.js';

// int8 (seq, count) as a JS number, as storage/postgres.ts does: far below 2^53.
pg.types.setTypeParser(20, (v: string) => Number(v));

/** Rows per INSERT statement (6 parameters each; PostgreSQL allows 65535). */
const INSERT_CHUNK = 1000;

function values(rows: number, cols: number, from = 1): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) out.push('(' + Array.from({ length: cols }, (_, c) => `$${from + r * cols + c}`).join(', ') + ')');
  return out.join(', ');
}

interface AnchorDbRow {
  chain: string;
  seq: number;
  mac: Buffer;
  at: string;
  usage: string;
  anchor_mac: Buffer;
}

const toAnchor = (a: AnchorDbRow): StoredAuditAnchor => ({ chain: a.chain, seq: a.seq, mac: a.mac, at: a.at, usage: a.usage, anchorMac: a.anchor_mac });

const CHAINS_SQL = 'SELECT chain FROM audit_head UNION SELECT chain FROM audit_anchor UNION SELECT DISTINCT chain FROM audit_log ORDER BY chain';

const USAGE_UPSERT = (n: number) => `INSERT INTO audit_key_usage (${USAGE_COLUMNS}) VALUES ${values(n, 12)}
  ON CONFLICT (key_id, keystore, kms_key_arn, principal, operation, kms_operation, outcome, chain)
  DO UPDATE SET count = excluded.count, first_at = excluded.first_at, last_at = excluded.last_at, mac = excluded.mac`;

/**
 * The audit log in PostgreSQL, shared by every node of a cluster. Each writer appends to its
 * own chain (audit.chain, one per node): appends to one chain (from its node, and the CLI
 * when pointed at it) are serialised by a transaction-scoped advisory lock on that chain,
 * taken before the tail is read; different chains never wait for each other (their usage
 * rows are per chain too). Each node batches its own callers (group commit) and resolves them
 * after COMMIT, which synchronous_commit makes durable.
 */
export function openPostgresAuditLog(opts: { url: string; poolSize?: number }): AuditStore {
  // A dropped connection (database restart, failover) fails its query and is replaced on next
  // use; without the pool's listeners the 'error' event would end the process.
  const pool = resilientPool(opts.url, opts.poolSize ?? 4);
  const sinks = new Set<AuditStoreSink>();

  async function inTx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const r = await fn(client);
      await client.query('COMMIT');
      return r;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  const lockChain = (c: pg.PoolClient, chain: string) => c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`keyhold.audit_log:${chain}`]);

  async function tailIn(c: pg.PoolClient, chain: string): Promise<Tail | undefined> {
    const head = (await c.query<Tail>('SELECT seq, mac FROM audit_head WHERE chain = $1', [chain])).rows[0];
    const last = (await c.query<Tail>('SELECT seq, mac FROM audit_log WHERE chain = $1 ORDER BY seq DESC LIMIT 1', [chain])).rows[0];
    return tailOf(head, last) ?? (await c.query<Tail>('SELECT seq, mac FROM audit_anchor WHERE chain = $1', [chain])).rows[0];
  }

  /** Appends inside a transaction that holds the chain's lock. */
  async function appendTx(c: pg.PoolClient, key: KeyObject, chain: string, batch: PreparedBatch, genesis = false) {
    const tail = await tailIn(c, chain);
    if (!tail && !genesis) throw wipedChainError(chain);
    const chained = chainBatch(key, chain, tail, batch.bodies);
    for (let from = 0; from < batch.bodies.length; from += INSERT_CHUNK) {
      const to = Math.min(batch.bodies.length, from + INSERT_CHUNK);
      const params: unknown[] = [];
      for (let i = from; i < to; i++) params.push(chain, chained.firstSeq + i, batch.ats[i], batch.bodies[i], i === 0 ? chained.prev : chained.macs[i - 1], chained.macs[i]);
      await c.query(`INSERT INTO audit_log (${AUDIT_ROW_COLUMNS}) VALUES ${values(to - from, 6)}`, params);
    }
    if (batch.usage.length) {
      // Nobody else writes this chain's usage rows (the chain lock is held): read, add, MAC, write.
      const keyOf = (k: { key_id: string; keystore: string; kms_key_arn: string; principal: string; operation: string; kms_operation: string; outcome: string }) =>
        [k.key_id, k.keystore, k.kms_key_arn, k.principal, k.operation, k.kms_operation, k.outcome].join('\0');
      const old = await c.query<AuditUsageDbRow>('SELECT * FROM audit_key_usage WHERE chain = $1 AND key_id = ANY($2::text[])', [chain, [...new Set(batch.usage.map((d) => d.key.keyId))]]);
      const byKey = new Map(old.rows.map((r) => [keyOf(r), r]));
      const rows = batch.usage.map((d) => {
        const k = d.key;
        return mergedUsageRow(key, chain, byKey.get([k.keyId, k.keyStore, k.kmsKeyArn, k.principal, k.operation, k.kmsOperation, k.outcome].join('\0')), d);
      });
      await c.query(USAGE_UPSERT(rows.length), rows.flatMap(usageParams));
    }
    await c.query(
      'INSERT INTO audit_head (chain, seq, mac, head_mac) VALUES ($1, $2, $3, $4) ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, mac = excluded.mac, head_mac = excluded.head_mac',
      [chain, chained.last.seq, chained.last.mac, chained.headMac],
    );
    return chained;
  }

  async function chainExists(c: pg.PoolClient, chain: string): Promise<boolean> {
    return (await tailIn(c, chain)) !== undefined;
  }

  const keys: AuditKeyRepo = {
    async getSealedAuditKey() {
      const r = await pool.query<{ value: string }>('SELECT value FROM meta WHERE name = $1', [AUDIT_KEY_META]);
      return r.rows[0] ? Buffer.from(r.rows[0].value, 'base64') : undefined;
    },
    async initSealedAuditKey(candidate, start) {
      await inTx(async (c) => {
        await lockChain(c, AUDIT_ROOT_CHAIN);
        const r = await c.query('INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [AUDIT_KEY_META, candidate.toString('base64')]);
        if (r.rowCount === 1 && !(await chainExists(c, AUDIT_ROOT_CHAIN))) await appendTx(c, start.key, AUDIT_ROOT_CHAIN, prepareAuditBatch([start.genesis]), true);
      });
      return (await keys.getSealedAuditKey())!;
    },
  };

  const maintenance: AuditMaintenance = {
    startChain(key, start) {
      return inTx(async (c) => {
        await lockChain(c, AUDIT_ROOT_CHAIN);
        await lockChain(c, start.chain);
        if (await chainExists(c, start.chain)) return 'exists' as const;
        const ann = await c.query<{ body: string }>('SELECT body FROM audit_log WHERE chain = $1 AND body LIKE $2', [AUDIT_ROOT_CHAIN, '%"action":"audit.chain.start"%']);
        if (start.chain === AUDIT_ROOT_CHAIN || ann.rows.some((r) => (JSON.parse(r.body) as { target?: string }).target === start.chain)) throw wipedChainError(start.chain);
        if (start.announce) await appendTx(c, key, AUDIT_ROOT_CHAIN, prepareAuditBatch([start.announce]));
        await appendTx(c, key, start.chain, prepareAuditBatch([start.genesis]), true);
        return 'started' as const;
      });
    },
    replaceUsage(key, chain, rows, atSeq) {
      return inTx(async (c) => {
        await lockChain(c, chain);
        if (((await tailIn(c, chain))?.seq ?? 0) !== atSeq) return false;
        await c.query('DELETE FROM audit_key_usage WHERE chain = $1', [chain]);
        for (let i = 0; i < rows.length; i += 500) {
          const part = rows.slice(i, i + 500).map((u) => usageDbRow(key, chain, u));
          await c.query(USAGE_UPSERT(part.length), part.flatMap(usageParams));
        }
        return true;
      });
    },
    archive(cut) {
      return inTx(async (c) => {
        await lockChain(c, cut.chain);
        const a = cut.anchor;
        const at = (await c.query<{ mac: Buffer }>('SELECT mac FROM audit_log WHERE chain = $1 AND seq = $2', [cut.chain, a.seq])).rows[0];
        if (!at || !at.mac.equals(a.mac)) throw new Error(`record ${a.seq} of chain '${cut.chain}' changed while archiving`);
        await c.query(
          'INSERT INTO audit_anchor (chain, seq, mac, at, usage, anchor_mac) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, mac = excluded.mac, at = excluded.at, usage = excluded.usage, anchor_mac = excluded.anchor_mac',
          [cut.chain, a.seq, a.mac, a.at, a.usage, a.anchorMac],
        );
        return (await c.query('DELETE FROM audit_log WHERE chain = $1 AND seq <= $2', [cut.chain, a.seq])).rowCount ?? 0;
      });
    },
  };

  async function append(key: KeyObject, chain: string, records: readonly AuditRecord[]): Promise<AuditEntry[]> {
    const batch = prepareAuditBatch(records);
    const chained = await inTx(async (c) => {
      await lockChain(c, chain);
      return appendTx(c, key, chain, batch);
    });
    return entriesOf(records, { firstSeq: chained.firstSeq, prev: chained.prev, macs: Buffer.concat(chained.macs) }, chain);
  }

  const reader: AuditReader = {
    async snapshot(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        try {
          return await fn({
            async chains() {
              return (await client.query<{ chain: string }>(CHAINS_SQL)).rows.map((r) => r.chain);
            },
            async head(chain) {
              const h = (await client.query<{ chain: string; seq: number; mac: Buffer; head_mac: Buffer }>('SELECT chain, seq, mac, head_mac FROM audit_head WHERE chain = $1', [chain])).rows[0];
              return h && { chain: h.chain, seq: h.seq, mac: h.mac, headMac: h.head_mac };
            },
            async anchor(chain) {
              const a = (await client.query<AnchorDbRow>('SELECT * FROM audit_anchor WHERE chain = $1', [chain])).rows[0];
              return a && toAnchor(a);
            },
            async rows(chain, afterSeq, limit) {
              return (await client.query<AuditLogRow>(`SELECT ${AUDIT_ROW_COLUMNS} FROM audit_log WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3`, [chain, afterSeq, limit])).rows.map(toStoredAuditRow);
            },
            async usage(chain) {
              return (await client.query<AuditUsageDbRow>('SELECT * FROM audit_key_usage WHERE chain = $1', [chain])).rows.map(toKeyUsageRow);
            },
          });
        } finally {
          await client.query('COMMIT').catch(() => undefined);
        }
      } finally {
        client.release();
      }
    },

    async chains() {
      return (await pool.query<{ chain: string }>(CHAINS_SQL)).rows.map((r) => r.chain);
    },

    async anchor(chain) {
      const a = (await pool.query<AnchorDbRow>('SELECT * FROM audit_anchor WHERE chain = $1', [chain])).rows[0];
      return a && toAnchor(a);
    },

    async seqRange(chain, since, until) {
      let lo = 0;
      let hi = Number.MAX_SAFE_INTEGER;
      if (since) lo = (await pool.query<{ seq: number }>('SELECT seq FROM audit_log WHERE chain = $1 AND at < $2 ORDER BY at DESC LIMIT 1', [chain, shiftIso(since, -AUDIT_TIME_SLACK_MS)])).rows[0]?.seq ?? 0;
      if (until) hi = (await pool.query<{ seq: number }>('SELECT seq FROM audit_log WHERE chain = $1 AND at >= $2 ORDER BY at LIMIT 1', [chain, shiftIso(until, AUDIT_TIME_SLACK_MS)])).rows[0]?.seq ?? hi;
      return { lo, hi };
    },

    async rows(chain, afterSeq, beforeSeq, limit) {
      const r = await pool.query<AuditLogRow>(`SELECT ${AUDIT_ROW_COLUMNS} FROM audit_log WHERE chain = $1 AND seq > $2 AND seq < $3 ORDER BY seq LIMIT $4`, [chain, afterSeq, beforeSeq, limit]);
      return r.rows.map(toStoredAuditRow);
    },

    async usage(keyId) {
      return (await pool.query<AuditUsageDbRow>('SELECT * FROM audit_key_usage WHERE key_id = $1', [keyId])).rows.map(toKeyUsageRow);
    },

    async chainsWithUnprotectedUsage() {
      return (await pool.query<{ chain: string }>('SELECT DISTINCT chain FROM audit_key_usage WHERE mac IS NULL')).rows.map((r) => r.chain);
    },
  };

  return {
    keys,
    reader,
    maintenance,
    openSink(o: AuditSinkOptions) {
      const chain = o.chain ?? AUDIT_ROOT_CHAIN;
      return groupCommitSink((batch) => append(o.key, chain, batch), o, sinks);
    },
    async close() {
      for (const s of [...sinks]) await s.close();
      await pool.end();
    },
  };
}
