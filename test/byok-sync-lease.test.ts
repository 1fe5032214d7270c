/**
 * One `aws sync` per connection and Region across processes: a lease in the database (the
 * storage's cluster leases, SQLite and PostgreSQL alike), not only the server's memory.
 * - on SQLite, an in-process server and CLI processes on its data directory: a CLI sync while
 *   the server syncs is refused naming the server, and the other way round; a CLI killed with
 *   -9 half way does not block sync (its pid is gone: the lease is taken over);
 * - on SQLite and on PostgreSQL, two storage handles: a holder that can no longer renew its
 *   lease (its storage gone) loses it when it expires, and the other syncs.
 * A relay in front of the KMS simulator holds requests, so a sync is caught mid-way without
 * timing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateAliasCommand, CreateKeyCommand } from '@aws-sdk/client-kms';
import { isKeyholdError } from '../src/base/index.js';
import { byokSessionOf, createAwsClients } from '../src/aws/index.js';
import { createAwsKeyService, type AwsConnection, type Storage } from '../src/domain/index.js';
import { openSqliteStorage } from '../src/storage/sqlite.js';
import { openPostgresStorage } from '../src/storage/postgres.js';
import { ACCOUNT, ALICE, REGION, eventually, startSimulator, type TestSimulator } from './kms-sim-support.js';
import { startAdminHarness, type AdminHarness, type SignedInUser } from './support/admin-harness.js';
import { BIN, ROOT, runCli } from './support/keyhold-harness.js';
import { startGate, type Gate } from './support/http-gate.js';
import { startPostgres, type ThrowawayPostgres } from './support/postgres.js';

let h: AdminHarness;
let sim: TestSimulator;
let gate: Gate;
let ana: SignedInUser;
let pg: ThrowawayPostgres | undefined;
let tmp: string;
const KEYS = 3;

const localCli = (args: string[]) => runCli(['--data-dir', h.dataDir, ...args]);
const serverSync = () => h.api.call<{ complete: boolean; seen: number; message: string }>('POST', '/api/v1/aws/connections/gated/sync', { token: ana.apiKey, body: {} });

before(async () => {
  h = await startAdminHarness({ demo: false });
  sim = await startSimulator();
  gate = await startGate(sim.url);
  tmp = mkdtempSync(join(tmpdir(), 'keyhold-sync-lease-'));
  const kms = sim.kms();
  for (let i = 0; i < KEYS; i++) {
    const md = (await kms.send(new CreateKeyCommand({ Description: `lease ${i}` }))).KeyMetadata!;
    await kms.send(new CreateAliasCommand({ AliasName: `alias/lease-${i}`, TargetKeyId: md.KeyId! }));
  }
  ana = await h.provision('custodian', 'ana');
  await h.running.context.awsConnections.create({ name: 'gated', region: REGION, endpoint: gate.url, accountId: ACCOUNT, credentials: { source: 'static', accessKeyId: ALICE.accessKeyId, secretAccessKey: ALICE.secretAccessKey } });
});

after(async () => {
  gate?.release();
  await gate?.close();
  await sim?.close();
  await h?.dispose();
  await pg?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('a CLI sync while the server syncs the same connection and Region is refused (Conflict, naming the server); once the server is done, the CLI syncs', async () => {
  gate.hold();
  const running = serverSync();
  await gate.parked(); // the server holds the lease and waits for KMS
  const refused = await localCli(['aws', 'sync', 'gated']);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, new RegExp(`sync of connection 'gated' in ${REGION} is already running, held by keyhold server \\(pid ${process.pid} on [^)]+\\), sync [0-9a-f]{8}`));
  gate.release();
  const r = await running;
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([r.body.complete, r.body.seen], [true, KEYS]);
  const after = await localCli(['--json', 'aws', 'sync', 'gated']);
  assert.equal(after.code, 0, after.stderr);
  const report = JSON.parse(after.stdout) as { complete: boolean; added: number; unchanged: number };
  assert.deepEqual([report.complete, report.added, report.unchanged], [true, 0, KEYS]);
});

test('a sync while a CLI syncs is refused, from another CLI and from the server, naming that CLI; once it is killed with -9, sync works at once', async () => {
  gate.hold();
  const child = spawn(process.execPath, [BIN, '--data-dir', h.dataDir, 'aws', 'sync', 'gated'], { cwd: ROOT, stdio: 'ignore' });
  const exited = once(child, 'exit');
  await gate.parked();
  const holder = new RegExp(`already running, held by keyhold CLI \\(pid ${child.pid!} on `);
  const refused = await localCli(['aws', 'sync', 'gated']);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, holder);
  const viaServer = await serverSync();
  assert.equal(viaServer.status, 409, viaServer.text);
  assert.match(viaServer.body.message, holder);

  child.kill('SIGKILL');
  await exited;
  gate.release();
  const now = await localCli(['--json', 'aws', 'sync', 'gated']);
  assert.equal(now.code, 0, now.stderr);
  const report = JSON.parse(now.stdout) as { complete: boolean; seen: number; resumed: boolean };
  assert.deepEqual([report.complete, report.seen], [true, KEYS]);
  assert.equal(report.resumed, true, 'the killed sync left its checkpoint');
  const r = await serverSync();
  assert.equal(r.status, 200, r.text);
});

/** A sync-only AWS key service on one storage handle, with a short lease. */
function syncService(storage: Storage, holder: string) {
  const now = new Date().toISOString();
  const connection: AwsConnection = {
    id: 'lease-connection', name: 'lease', region: REGION, regions: [REGION], endpoint: gate.url, stsEndpoint: null, caPem: null, accountId: ACCOUNT,
    credentialSource: 'static', accessKeyId: ALICE.accessKeyId, roleArn: null, externalId: null, createdAt: now, updatedAt: now,
  };
  const unused = () => Promise.reject(new Error('a sync exports and rotates nothing'));
  return createAwsKeyService({
    repo: storage,
    keys: { exportMaterial: unused, rotate: unused },
    clock: { now: () => Date.now() },
    syncLease: { leases: storage.cluster, holder, ttlMs: 600 },
    async open() {
      return { connection, session: byokSessionOf(createAwsClients(connection, { secretAccessKey: ALICE.secretAccessKey }, { maxAttempts: 1 })) };
    },
  });
}

for (const kind of ['sqlite', 'postgres'] as const) {
  test(`${kind}: two handles on one database; the second is refused while the first holds the lease, and syncs once the first (gone) let it expire`, { timeout: 120_000 }, async () => {
    const open = async (): Promise<Storage> => {
      if (kind === 'sqlite') return openSqliteStorage({ path: join(tmp, 'lease.db') });
      pg ??= await startPostgres();
      return openPostgresStorage({ url: pg.url });
    };
    const a = await open();
    const b = await open();
    try {
      gate.hold();
      const first = syncService(a, 'handle A').sync('lease');
      const firstDone = first.then(
        () => 'completed',
        (e: unknown) => (e instanceof Error ? e.message : String(e)),
      );
      await gate.parked();
      const second = syncService(b, 'handle B');
      await assert.rejects(second.sync('lease'), (e: unknown) => isKeyholdError(e, 'Conflict') && /already running, held by handle A, sync [0-9a-f]{8}/.test(e.message));
      // The first holder's process is gone: it can neither renew nor release its lease.
      await a.close();
      gate.release();
      await firstDone;
      const report = await eventually(
        () =>
          second.sync('lease').catch((e: unknown) => {
            if (isKeyholdError(e, 'Conflict')) return undefined; // not expired yet
            throw e;
          }),
        'the lease of the gone holder expired',
        60_000,
      );
      assert.deepEqual([report.complete, report.seen], [true, (await b.listAwsKeys()).length]);
      assert.ok(report.seen >= KEYS);
      // Released at the end: the next sync is not refused.
      assert.equal((await second.sync('lease')).complete, true);
    } finally {
      gate.release();
      await b.close();
    }
  });
}
