import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { ChangeFeed, Storage } from '../domain/ports.js';
import type { Database } from './schema.js';
import { createKyselyStorage, migrate } from './kysely-storage.js';

export interface SqliteOptions {
  path: string;
  /** How often to look for commits by other processes (the CLI), in ms. */
  pollMs?: number;
}

/**
 * Embedded storage. WAL mode lets the CLI write while the server reads; synchronous=FULL
 * makes every acknowledged change durable across a crash. Changes made by other processes
 * are detected with PRAGMA data_version, which moves whenever another connection commits.
 */
export async function openSqliteStorage(opts: SqliteOptions): Promise<Storage> {
  const raw = new BetterSqlite3(opts.path);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = FULL');
  raw.pragma('foreign_keys = ON');
  raw.pragma('busy_timeout = 5000');
  // Deleted content (destroyed key material, revoked tokens) is zeroed, not left in free pages.
  raw.pragma('secure_delete = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
  await migrate(db, 'blob');

  const listeners = new Set<() => void>();
  const emit = () => {
    for (const l of listeners) l();
  };
  const dataVersion = raw.prepare('PRAGMA data_version').pluck();
  let lastVersion = dataVersion.get() as number;
  // data_version moves on any other connection's commit, audit appends included; the
  // generation counter (migration 0002) moves only when a table the read model uses changed.
  const generation = raw.prepare('SELECT n FROM data_generation WHERE id = 1').pluck();
  let lastGeneration = generation.get() as number;
  let timer: NodeJS.Timeout | undefined;

  const changes: ChangeFeed = {
    subscribe(listener) {
      listeners.add(listener);
      if (!timer) {
        timer = setInterval(() => {
          const v = dataVersion.get() as number;
          if (v !== lastVersion) {
            lastVersion = v;
            const g = generation.get() as number;
            if (g !== lastGeneration) {
              lastGeneration = g;
              emit();
            }
          }
        }, opts.pollMs ?? 200);
        timer.unref();
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && timer) {
          clearInterval(timer);
          timer = undefined;
        }
      };
    },
    async notify() {
      emit();
    },
  };

  return createKyselyStorage({
    db,
    binaryType: 'blob',
    changes,
    isUniqueViolation: (e) => typeof e === 'object' && e !== null && 'code' in e && String((e as { code: unknown }).code).startsWith('SQLITE_CONSTRAINT_UNIQUE') || (e as { code?: unknown })?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY',
    async afterDestroy() {
      // Old page images stay in the WAL until a checkpoint; TRUNCATE empties the file.
      raw.pragma('wal_checkpoint(TRUNCATE)');
    },
    async close() {
      if (timer) clearInterval(timer);
      await db.destroy();
    },
  });
}
