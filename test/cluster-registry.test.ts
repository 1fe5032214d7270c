import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock, type Logger } from '../src/base/index.js';
import { createClusterMember, SCHEDULER_LEASE, type Storage } from '../src/domain/index.js';
import { openSqliteStorage } from '../src/storage/index.js';
import { openPostgresStorage } from '../src/storage/postgres.js';
import { startPostgres, type ThrowawayPostgres } from './support/postgres.js';
import { eventually } from './support/keyhold-harness.js';

const quiet: Logger = { info() {}, warn() {}, error() {}, debug() {}, child: () => quiet } as unknown as Logger;

let pg: ThrowawayPostgres;
let n = 0;
before(async () => {
  pg = await startPostgres();
});
after(async () => {
  await pg?.stop();
});

const dialects: [string, () => Promise<{ storage: Storage; dispose(): Promise<void> }>][] = [
  [
    'sqlite',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'keyhold-registry-'));
      const storage = await openSqliteStorage({ path: join(dir, 'k.db') });
      return { storage, dispose: async () => (await storage.close(), rmSync(dir, { recursive: true, force: true })) };
    },
  ],
  [
    'postgres',
    async () => {
      const storage = await openPostgresStorage({ url: await pg.createDatabase(`registry_${n++}`), poolSize: 4 });
      return { storage, dispose: () => storage.close() };
    },
  ],
];

for (const [name, open] of dialects) {
  describe(`cluster registry on ${name}`, () => {
    test('nodes heartbeat by the database clock and are listed with their age and EKM health', async () => {
      const { storage, dispose } = await open();
      try {
        const ekm = [{ id: 'a/software', model: 'm', healthStatus: 'ACTIVE' as const }];
        await storage.cluster.heartbeatNode({ id: 'a', address: '10.0.0.1:443', version: '1.0.0', startedAt: '2026-01-01T00:00:00.000Z', ekm });
        await storage.cluster.heartbeatNode({ id: 'b', address: '10.0.0.2:443', version: '1.1.0', startedAt: '2026-01-01T00:00:00.000Z', ekm: [] });
        await sleep(150);
        await storage.cluster.heartbeatNode({ id: 'b', address: '10.0.0.2:443', version: '1.1.0', startedAt: '2026-01-01T00:00:00.000Z', ekm: [] });
        const rows = await storage.cluster.listNodes();
        assert.deepEqual(rows.map((r) => [r.id, r.version, r.address]), [['a', '1.0.0', '10.0.0.1:443'], ['b', '1.1.0', '10.0.0.2:443']]);
        assert.deepEqual(rows[0]!.ekm, ekm);
        assert.ok(rows[0]!.ageMs >= 100, `a is older: ${rows[0]!.ageMs}`);
        assert.ok(rows[1]!.ageMs < rows[0]!.ageMs);
        await storage.cluster.removeNode('a');
        assert.deepEqual((await storage.cluster.listNodes()).map((r) => r.id), ['b']);
      } finally {
        await dispose();
      }
    });

    test('a lease has one holder: renewed by it, refused to others until it expires or is released; the fence grows on every handover', async () => {
      const { storage, dispose } = await open();
      try {
        const c = storage.cluster;
        assert.deepEqual(await c.acquireLease('job', 'a', 1500), { held: true, holder: 'a', fence: 1 });
        assert.deepEqual(await c.acquireLease('job', 'b', 1500), { held: false, holder: 'a', fence: 1 });
        assert.deepEqual(await c.acquireLease('job', 'a', 1500), { held: true, holder: 'a', fence: 1 }, 'a renewal keeps the fence');
        await sleep(1700);
        assert.deepEqual(await c.acquireLease('job', 'b', 1500), { held: true, holder: 'b', fence: 2 }, 'taken over once expired');
        assert.deepEqual(await c.acquireLease('job', 'a', 1500), { held: false, holder: 'b', fence: 2 });
        await c.releaseLease('job', 'a'); // not the holder: nothing happens
        assert.equal((await c.getLease('job'))!.holder, 'b');
        await c.releaseLease('job', 'b');
        assert.deepEqual(await c.acquireLease('job', 'a', 1500), { held: true, holder: 'a', fence: 3 }, 'a released lease is free at once');
      } finally {
        await dispose();
      }
    });

    test('competing members: never two owners at once, and a takeover when the owner stops', async () => {
      const { storage, dispose } = await open();
      // Scheduler passes run only while isOwner() (mayRun); the start/stop callbacks only
      // start and stop the timer, so the guarantee is checked on isOwner().
      const owners = new Set<string>();
      const member = (id: string) =>
        createClusterMember({
          repo: storage.cluster,
          clock: systemClock,
          log: quiet,
          self: { id, address: id, version: 't', startedAt: new Date().toISOString() },
          heartbeatMs: 50,
          leaseMs: 400,
          nodeTimeoutMs: 200,
          changesConnected: () => true,
          ekm: () => [],
          owner: {
            start: () => void owners.add(id),
            stop: async () => void owners.delete(id),
          },
        });
      const a = member('a');
      const b = member('b');
      try {
        await a.start();
        await b.start();
        const deadline = Date.now() + 2000;
        while (Date.now() < deadline) {
          await Promise.all([a.tick(), b.tick()]);
          assert.ok([a.isOwner(), b.isOwner()].filter(Boolean).length <= 1, 'never two owners');
          await sleep(10);
        }
        await eventually(async () => {
          await Promise.all([a.tick(), b.tick()]);
          assert.equal([a.isOwner(), b.isOwner()].filter(Boolean).length, 1);
        });
        assert.equal(a.fleetSize(), 2);
        const [first, second] = a.isOwner() ? [a, b] : [b, a];
        const fence = (await storage.cluster.getLease(SCHEDULER_LEASE))!.fence;
        await first.stop();
        assert.equal(first.isOwner(), false);
        await second.tick();
        assert.ok(second.isOwner(), 'the other member takes over at once after a clean stop');
        assert.ok((await storage.cluster.getLease(SCHEDULER_LEASE))!.fence > fence, 'a handover grows the fence');
        assert.deepEqual([...owners], [second === a ? 'a' : 'b']);
      } finally {
        await a.stop();
        await b.stop();
        await dispose();
      }
    });
  });
}
