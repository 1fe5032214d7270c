import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../src/base/index.js';
import { createSoftwareBackend } from '../src/backends/index.js';
import { createHealthService, type EkmEntry } from '../src/domain/index.js';
import { createSoftwareSeal } from '../src/seal/index.js';
import { openSqliteStorage } from '../src/storage/index.js';

test('in a cluster, health names EKMs per node, adds the other live nodes, reports the live fleet, and reads UNAVAILABLE at once when custody is lost', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keyhold-health-'));
  const storage = await openSqliteStorage({ path: join(dir, 'k.db') });
  try {
    const backend = createSoftwareBackend({ seal: createSoftwareSeal(randomBytes(32), 'keyfile'), meta: storage });
    await backend.ensureHealthKey();
    let custody = true;
    let fleet = 2;
    const others: EkmEntry[] = [{ id: 'node-b/software', model: 'Keyhold software keys', healthStatus: 'ACTIVE' }];
    const health = createHealthService({
      backends: [backend],
      storagePing: () => storage.ping(),
      fleetSize: () => fleet,
      clock: systemClock,
      cluster: { nodeId: 'node-a', otherEkms: () => others, custodyOk: () => custody },
    });
    const r = await health.report();
    assert.equal(r.xksProxyFleetSize, 2);
    assert.deepEqual(r.ekmFleetDetails.map((e) => [e.id, e.healthStatus]), [['node-a/software', 'ACTIVE'], ['node-b/software', 'ACTIVE']]);
    // Custody lost: the cached check is not rerun, yet this node's EKMs read UNAVAILABLE now.
    custody = false;
    fleet = 1;
    const lost = await health.report();
    assert.equal(lost.checkedAt, r.checkedAt, 'the cached deep check');
    assert.equal(lost.xksProxyFleetSize, 1);
    assert.deepEqual(lost.ekmFleetDetails.map((e) => [e.id, e.healthStatus]), [['node-a/software', 'UNAVAILABLE'], ['node-b/software', 'ACTIVE']]);
    custody = true;
    assert.equal((await health.report()).ekmFleetDetails[0]!.healthStatus, 'ACTIVE', 'back by itself');
  } finally {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
