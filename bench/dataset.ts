import { randomUUID } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { loadConfig } from '../src/app/config.js';
import { openContext } from '../src/app/context.js';
import { initDataDir } from '../src/app/init.js';

/**
 * A benchmark data directory made with Keyhold's own init, key store and key services: a key
 * store "bench" with one credential and `keys` software keys. Past the first hundred keys,
 * rows are written in one transaction (the per-key path fsyncs every insert, which would
 * turn a 100,000-key setup into minutes); the material is still made and sealed by the
 * software backend, exactly as `keyhold key create` does.
 */
export interface Dataset {
  dataDir: string;
  certFile: string;
  uriPath: string;
  region: string;
  credential: { accessKeyId: string; secretAccessKey: string };
  keyIds: string[];
}

const SERVICE_CREATED = 100;

export async function createDataset(dataDir: string, opts: { keys: number; configToml?: string }): Promise<Dataset> {
  const config = loadConfig({ dataDir, env: {} });
  await initDataDir(config, { demo: false });
  if (opts.configToml) appendFileSync(join(dataDir, 'keyhold.toml'), `\n${opts.configToml}\n`);
  const ctx = await openContext(loadConfig({ dataDir, env: {} }));
  const keyIds: string[] = [];
  const bulk: { id: string; externalId: string; sealed: Buffer }[] = [];
  let keyStoreId: string;
  let credential: Dataset['credential'];
  try {
    const ks = await ctx.keyStores.create({ name: 'bench', prefix: '/bench' });
    keyStoreId = ks.keyStore.id;
    credential = ks.credential;
    for (let i = 0; i < opts.keys; i++) {
      const externalId = `bench-key-${i}`;
      keyIds.push(externalId);
      if (i < SERVICE_CREATED) {
        await ctx.keys.create({ externalId, keyStore: 'bench' });
      } else {
        const id = randomUUID();
        const v = await ctx.softwareBackend.createVersion({ id, externalId }, 1);
        bulk.push({ id, externalId, sealed: v.sealedMaterial! });
      }
    }
  } finally {
    await ctx.close();
  }
  if (bulk.length > 0) {
    if (config.storage.type !== 'sqlite') throw new Error('the bulk key path writes SQLite only');
    const db = new BetterSqlite3(config.storage.path);
    try {
      const now = new Date().toISOString();
      const key = db.prepare(
        `insert into keys (id, keystore_id, external_id, protection, usage, enabled, current_version, aad_layout, created_at, updated_at)
         values (?, ?, ?, 'software', 'encrypt,decrypt', 1, 1, 'keyhold-v1', ?, ?)`,
      );
      const version = db.prepare(`insert into key_versions (key_id, version, protection, material_sealed, hsm_label, hsm_id, created_at) values (?, 1, 'software', ?, null, null, ?)`);
      db.transaction(() => {
        for (const b of bulk) {
          key.run(b.id, keyStoreId, b.externalId, now, now);
          version.run(b.id, b.sealed, now);
        }
      })();
    } finally {
      db.close();
    }
  }
  return { dataDir, certFile: config.xks.tls.certFile, uriPath: '/bench/kms/xks/v1', region: 'us-east-1', credential, keyIds };
}

export function readCa(ds: Dataset): string {
  return readFileSync(ds.certFile, 'utf8');
}
