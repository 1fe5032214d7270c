import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { ClusterRepo, EkmEntry } from '../domain/cluster.js';
import type { Database } from './schema.js';

/** The database's clock in ms since the epoch (never a node's: nodes' clocks may disagree). */
function nowMs(binaryType: 'blob' | 'bytea'): RawBuilder<number> {
  return binaryType === 'bytea'
    ? sql<number>`(floor(extract(epoch from clock_timestamp()) * 1000))::bigint`
    : sql<number>`cast(round((julianday('now') - 2440587.5) * 86400000) as integer)`;
}

function parseEkm(text: string): EkmEntry[] {
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? (v as EkmEntry[]).slice(0, 10) : [];
  } catch {
    return [];
  }
}

/** The cluster registry and leases (migration 0009), on SQLite or PostgreSQL. */
export function createClusterRepo(db: Kysely<Database>, binaryType: 'blob' | 'bytea'): ClusterRepo {
  const now = () => nowMs(binaryType);
  return {
    async heartbeatNode(n) {
      const ekm = JSON.stringify(n.ekm.slice(0, 10));
      await db
        .insertInto('cluster_nodes')
        .values({ id: n.id, address: n.address, version: n.version, started_at: n.startedAt, heartbeat_ms: now(), ekm })
        .onConflict((oc) => oc.column('id').doUpdateSet({ address: n.address, version: n.version, started_at: n.startedAt, heartbeat_ms: now(), ekm }))
        .execute();
    },
    async listNodes() {
      const rows = await db
        .selectFrom('cluster_nodes')
        .select(['id', 'address', 'version', 'started_at', 'heartbeat_ms', 'ekm', sql<number>`${now()} - heartbeat_ms`.as('age_ms')])
        .orderBy('id')
        .execute();
      return rows.map((r) => ({ id: r.id, address: r.address, version: r.version, startedAt: r.started_at, heartbeatMs: Number(r.heartbeat_ms), ageMs: Number(r.age_ms), ekm: parseEkm(r.ekm) }));
    },
    async removeNode(id) {
      await db.deleteFrom('cluster_nodes').where('id', '=', id).execute();
    },
    async acquireLease(name, holder, ttlMs) {
      // One statement: insert, or take over an expired lease, or renew our own. The fence
      // grows whenever the holder changes.
      const r = await sql<{ holder: string; fence: number }>`
        INSERT INTO cluster_leases (name, holder, expires_ms, fence) VALUES (${name}, ${holder}, ${now()} + ${ttlMs}, 1)
        ON CONFLICT (name) DO UPDATE SET
          holder = excluded.holder,
          expires_ms = excluded.expires_ms,
          fence = CASE WHEN cluster_leases.holder = excluded.holder THEN cluster_leases.fence ELSE cluster_leases.fence + 1 END
        WHERE cluster_leases.holder = excluded.holder OR cluster_leases.expires_ms < ${now()}
        RETURNING holder, fence`.execute(db);
      const got = r.rows[0];
      if (got) return { held: got.holder === holder, holder: got.holder, fence: Number(got.fence) };
      const cur = await db.selectFrom('cluster_leases').select(['holder', 'fence']).where('name', '=', name).executeTakeFirst();
      return { held: false, holder: cur?.holder, fence: Number(cur?.fence ?? 0) };
    },
    async releaseLease(name, holder) {
      await db.updateTable('cluster_leases').set({ expires_ms: 0 }).where('name', '=', name).where('holder', '=', holder).execute();
    },
    async getLease(name) {
      const r = await db
        .selectFrom('cluster_leases')
        .select(['holder', 'fence', sql<number>`expires_ms - ${now()}`.as('left_ms')])
        .where('name', '=', name)
        .executeTakeFirst();
      return r && { holder: r.holder, fence: Number(r.fence), expiresInMs: Number(r.left_ms) };
    },
  };
}
