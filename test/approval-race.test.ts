import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../src/base/index.js';
import { createSoftwareBackend } from '../src/backends/index.js';
import {
  createAdminIdentityService,
  createApprovalActions,
  createApprovalRules,
  createApprovalService,
  createKeyService,
  createKeyStoreService,
  type Principal,
  type Storage,
} from '../src/domain/index.js';
import { createSoftwareSeal } from '../src/seal/index.js';
import { openSqliteStorage } from '../src/storage/index.js';

/**
 * Over HTTP with SQLite one request usually runs to the end before the next starts, so the
 * race between the last approvals is forced here: every storage call yields to the event
 * loop first, letting concurrent approvals interleave at every step.
 */
function yielding(storage: Storage): Storage {
  return new Proxy(storage, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function' || prop === 'changes') return v;
      return async (...args: unknown[]) => {
        await new Promise((r) => setImmediate(r));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

test('concurrent approvals past the quorum run the action exactly once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keyhold-race-'));
  const storage = await openSqliteStorage({ path: join(dir, 'db.sqlite') });
  try {
    const repo = yielding(storage);
    const seal = createSoftwareSeal(randomBytes(32), 'keyfile');
    const clock = systemClock;
    const keyStores = createKeyStoreService({ repo, seal, clock });
    const keys = createKeyService({ repo, backends: { software: createSoftwareBackend({ seal, meta: repo }) }, clock });
    const identity = createAdminIdentityService({ repo, clock, settings: { passwordHash: { ln: 10, r: 8, p: 1 } } });
    const actions = createApprovalActions({ keyStores, keys, identity, rules: createApprovalRules({ repo, clock }) });
    let runs = 0;
    const run = actions['credential.add'].run;
    actions['credential.add'].run = async (p, ctx) => {
      runs++;
      return run(p, ctx);
    };
    const approvals = createApprovalService({ repo, actions, seal, clock, defaultTtlMs: 3600_000 });
    const people: Principal[] = [];
    for (const name of ['p0', 'p1', 'p2', 'p3', 'p4', 'p5']) {
      const { user } = await identity.createUser({ username: name, role: 'custodian' });
      people.push({ user: { ...user, mustChangePassword: false }, via: 'session', credentialId: name });
    }
    await keyStores.create({ name: 'race', prefix: '/race' });
    await approvals.setRule('credential.add', { required: 2 }, people[0]!);

    for (let round = 0; round < 5; round++) {
      runs = 0;
      const live = (await keyStores.listCredentials('race')).filter((c) => c.revokedAt === null);
      for (const c of live.slice(1)) await keyStores.revokeCredential('race', c.accessKeyId);
      const s = await approvals.submit(people[0]!, 'credential.add', { keyStore: 'race' });
      assert.equal(s.status, 'pending');
      const id = s.status === 'pending' ? s.request.id : '';
      const results = await Promise.allSettled(people.slice(1).map((p) => approvals.approve(p, id)));
      for (const r of results) if (r.status === 'rejected') assert.match(String(r.reason), /is executing|is executed|already decided/);
      assert.equal(runs, 1, `round ${round}: the action ran ${runs} times`);
      const final = await approvals.get(id);
      assert.equal(final.status, 'executed');
      assert.equal((await keyStores.listCredentials('race')).filter((c) => c.revokedAt === null).length, 2);
    }
  } finally {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
