import type { KeyObject } from 'node:crypto';
import pg from 'pg';
import { AUDIT_KEY_META } from '../domain/audit-key.js';
import type { AuditEntry, AuditRecord } from '../domain/audit-model.js';
import type { AuditKeyRepo, AuditQuery, AuditReader } from '../domain/audit-ports.js';
import {
  AUDIT_ROW_COLUMNS,
  AUDIT_TIME_SLACK_MS,
  chainBatch,
  entriesOf,
  groupCommitSink,
  prepareAuditBatch,
  shiftIso,
  tailOf,
  toKeyUsageRow,
  toStoredAuditRow,
  type AuditLogRow,
  type AuditSinkOptions,
  type AuditStore,
  type AuditStoreSink,
  type AuditUsageDbRow,
  type Tail,
} from './audit-batch.js';
import { resilientPool } from './postgres.js';

// int8 (seq, count) as a JS number, as storage/postgres.ts does: far below 2^53.
pg.types.setTypeParser(20, (v: string) => Number(v));

/** Rows per INSERT statement (9 parameters each; PostgreSQL allows 65535). */
const INSERT_CHUNK = 500;

function values(rows: number, cols: number, from = 1): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) out.push('(' + Array.from({ length: cols }, (_, c) => `$${from + r * cols + c}`).join(', ') + ')');
  return out.join(', ');
}

/**
 * The audit log in PostgreSQL, shared by every node of a cluster. Appends from all nodes
 * (and the CLI) are serialised by a transaction-scoped advisory lock taken before the tail
 * is read, so the chain stays one chain; each node batches its own callers (group commit)
 * and resolves them after COMMIT, which synchronous_commit makes durable.
 */
export function openPostgresAuditLog(opts: { url: string; poolSize?: number }): AuditStore {
  // A dropped connection (database restart, failover) fails its query and is replaced on next
  // use; without the pool's listeners the 'error' event would end the process.
  const pool = resilientPool(opts.url, opts.poolSize ?? 4);
  const sinks = new Set<AuditStoreSink>();

  const keys: AuditKeyRepo = {
    async getSealedAuditKey() {
      const r = await pool.query<{ value: string }>('SELECT value FROM meta WHERE name = $1', [AUDIT_KEY_META]);
      return r.rows[0] ? Buffer.from(r.rows[0].value, 'base64') : undefined;
    },
    async initSealedAuditKey(candidate) {
      await pool.query('INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [AUDIT_KEY_META, candidate.toString('base64')]);
      return (await keys.getSealedAuditKey())!;
    },
  };

  async function append(key: KeyObject, records: readonly AuditRecord[]): Promise<AuditEntry[]> {
    const batch = prepareAuditBatch(records);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query("SELECT pg_advisory_xact_lock(hashtext('keyhold.audit_log'))");
      const head = (await client.query<Tail>('SELECT seq, mac FROM audit_head WHERE id = 1')).rows[0];
      const last = (await client.query<Tail>('SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1')).rows[0];
      const chained = chainBatch(key, tailOf(head, last), batch.bodies);
      for (let from = 0; from < batch.bodies.length; from += INSERT_CHUNK) {
        const to = Math.min(batch.bodies.length, from + INSERT_CHUNK);
        const params: unknown[] = [];
        for (let i = from; i < to; i++) {
          const c = batch.columns[i]!;
          params.push(chained.firstSeq + i, c.at, c.kind, c.keyId, c.keyStore, c.kmsRequestId, batch.bodies[i], i === 0 ? chained.prev : chained.macs[i - 1], chained.macs[i]);
        }
        await client.query(`INSERT INTO audit_log (${AUDIT_ROW_COLUMNS}) VALUES ${values(to - from, 9)}`, params);
      }
      if (batch.usage.length) {
        const params = batch.usage.flatMap((d) => [d.key.keyId, d.key.keyStore, d.key.kmsKeyArn, d.key.principal, d.key.operation, d.key.kmsOperation, d.key.outcome, d.count, d.firstAt, d.lastAt]);
        await client.query(
          `INSERT INTO audit_key_usage (key_id, keystore, kms_key_arn, principal, operation, kms_operation, outcome, count, first_at, last_at)
           VALUES ${values(batch.usage.length, 10)}
           ON CONFLICT (key_id, keystore, kms_key_arn, principal, operation, kms_operation, outcome)
           DO UPDATE SET count = audit_key_usage.count + excluded.count, first_at = LEAST(audit_key_usage.first_at, excluded.first_at), last_at = GREATEST(audit_key_usage.last_at, excluded.last_at)`,
          params,
        );
      }
      await client.query(
        'INSERT INTO audit_head (id, seq, mac, head_mac) VALUES (1, $1, $2, $3) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, mac = excluded.mac, head_mac = excluded.head_mac',
        [chained.last.seq, chained.last.mac, chained.headMac],
      );
      await client.query('COMMIT');
      return entriesOf(records, { firstSeq: chained.firstSeq, prev: chained.prev, macs: Buffer.concat(chained.macs) });
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  /** The seq range that holds every record with since <= time < until (see AUDIT_TIME_SLACK_MS). */
  async function seqRange(q: AuditQuery): Promise<{ lo: number; hi: number }> {
    let lo = 0;
    let hi = Number.MAX_SAFE_INTEGER;
    if (q.since) lo = (await pool.query<{ seq: number }>('SELECT seq FROM audit_log WHERE at < $1 ORDER BY at DESC LIMIT 1', [shiftIso(q.since, -AUDIT_TIME_SLACK_MS)])).rows[0]?.seq ?? 0;
    if (q.until) hi = (await pool.query<{ seq: number }>('SELECT seq FROM audit_log WHERE at >= $1 ORDER BY at LIMIT 1', [shiftIso(q.until, AUDIT_TIME_SLACK_MS)])).rows[0]?.seq ?? hi;
    return { lo, hi };
  }

  const reader: AuditReader = {
    async snapshot(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        try {
          return await fn({
            async head() {
              const h = (await client.query<{ seq: number; mac: Buffer; head_mac: Buffer }>('SELECT seq, mac, head_mac FROM audit_head WHERE id = 1')).rows[0];
              return h && { seq: h.seq, mac: h.mac, headMac: h.head_mac };
            },
            async rows(afterSeq, limit) {
              return (await client.query<AuditLogRow>(`SELECT ${AUDIT_ROW_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2`, [afterSeq, limit])).rows.map(toStoredAuditRow);
            },
          });
        } finally {
          await client.query('COMMIT').catch(() => undefined);
        }
      } finally {
        client.release();
      }
    },

    async query(q, afterSeq, limit) {
      const { lo, hi } = await seqRange(q);
      const params: unknown[] = [Math.max(afterSeq, lo), hi];
      const where = ['seq > $1', 'seq < $2'];
      const add = (cond: string, v: unknown) => {
        params.push(v);
        where.push(`${cond} $${params.length}`);
      };
      if (q.since) add('at >=', q.since);
      if (q.until) add('at <', q.until);
      if (q.keyId !== undefined) add('key_id =', q.keyId);
      if (q.keyStore !== undefined) add('keystore =', q.keyStore);
      params.push(limit);
      const r = await pool.query<AuditLogRow>(`SELECT ${AUDIT_ROW_COLUMNS} FROM audit_log WHERE ${where.join(' AND ')} ORDER BY seq LIMIT $${params.length}`, params);
      return r.rows.map(toStoredAuditRow);
    },

    async usage(keyId) {
      const r = await pool.query<AuditUsageDbRow>(
        'SELECT * FROM audit_key_usage WHERE key_id = $1',
        [keyId],
      );
      return r.rows.map(toKeyUsageRow);
    },
  };

  return {
    keys,
    reader,
    openSink(o: AuditSinkOptions) {
      return groupCommitSink((batch) => append(o.key, batch), o, sinks);
    },
    async close() {
      for (const s of [...sinks]) await s.close();
      await pool.end();
    },
  };
}
