import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { loadConfig } from '../src/app/config.js';
import { openContext } from '../src/app/context.js';
import { initDataDir } from '../src/app/init.js';
import { openAudit } from '../src/app/audit.js';

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

export async function createDataset(
  dataDir: string,
  opts: { keys: number; auditRecords?: number | undefined; configToml?: string | undefined; preInitToml?: string | undefined; env?: Record<string, string> | undefined; protection?: 'software' | 'hsm' | undefined },
): Promise<Dataset> {
  const env = { ...process.env, ...opts.env };
  if (opts.preInitToml) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dataDir, 'keyhold.toml'), opts.preInitToml, { mode: 0o600 });
  }
  const config = loadConfig({ dataDir, env });
  await initDataDir(config, { demo: false });
  if (opts.configToml) appendFileSync(join(dataDir, 'keyhold.toml'), `\n${opts.configToml}\n`);
  const ctx = await openContext(loadConfig({ dataDir, env }));
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
      if (i < SERVICE_CREATED || opts.protection === 'hsm') {
        await ctx.keys.create({ externalId, keyStore: 'bench', protection: opts.protection ?? 'software' });
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
  if (opts.auditRecords) await prefillAudit(dataDir, env, opts.auditRecords);
  return { dataDir, certFile: config.xks.tls.certFile, uriPath: '/bench/kms/xks/v1', region: 'us-east-1', credential, keyIds };
}

/**
 * Appends `n` XKS records to the data directory's audit log through the real sink (chained
 * and MACed under the sealed audit key, 10,000 per transaction), so the server then appends
 * to a log of that size, and `keyhold audit verify` still passes over it.
 */
async function prefillAudit(dataDir: string, env: NodeJS.ProcessEnv, n: number): Promise<void> {
  const ctx = await openContext(loadConfig({ dataDir, env }));
  const audit = await openAudit(ctx, { mode: 'inline' });
  const t0 = performance.now();
  try {
    const batch = 10_000;
    const time = new Date().toISOString();
    for (let i = 0; i < n; i += batch) {
      await audit.sink.append(
        Array.from({ length: Math.min(batch, n - i) }, (_, j) => ({
          kind: 'xks' as const,
          time,
          node: 'bench-prefill',
          operation: (i + j) % 2 ? 'encrypt' : 'decrypt',
          kmsRequestId: randomUUID(),
          kmsOperation: (i + j) % 2 ? 'GenerateDataKey' : 'Decrypt',
          keyStore: 'bench',
          keyId: 'bench-key-0',
          keyVersion: 1,
          authenticated: true,
          awsPrincipalArn: 'arn:aws:iam::111122223333:role/Prefill',
          kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
          status: 200,
          outcome: 'ok' as const,
          latencyMs: 0.4,
        })),
      );
      if ((i / batch) % 100 === 99) process.stderr.write(`   audit prefill: ${(i + batch).toLocaleString('en-US')} of ${n.toLocaleString('en-US')} records (${Math.round((performance.now() - t0) / 1000)} s)\n`);
    }
  } finally {
    await audit.close();
    await ctx.close();
  }
}

export function readCa(ds: Dataset): string {
  return readFileSync(ds.certFile, 'utf8');
}
