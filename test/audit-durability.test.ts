import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { eventually, startKeyhold } from './support/keyhold-harness.js';
import { demoXksClient } from './support/xks-client.js';

test('a call whose record cannot be written is refused with InternalException', async () => {
  const h = await startKeyhold();
  try {
    const c = demoXksClient(h);
    assert.equal((await c.encrypt('demo-key', { plaintext: Buffer.from('before') })).status, 200);
    // The audit table disappears under the running server.
    const db = new BetterSqlite3(join(h.dataDir, 'keyhold.db'));
    db.exec('DROP TABLE audit_log');
    db.close();
    const r = await c.encrypt('demo-key', { plaintext: Buffer.from('after') });
    assert.equal(r.status, 500);
    assert.deepEqual(r.body, { errorName: 'InternalException', errorMessage: 'the call could not be recorded' }, 'no ciphertext leaves without its record');
    c.close();
    await eventually(async () => assert.match(h.output(), /could not record the call; refusing to answer it/));
  } finally {
    await h.dispose();
  }
});

test('audit off is loud at start and records no XKS calls (admin actions still are)', async () => {
  const h = await startKeyhold({ env: { KEYHOLD_AUDIT_ENABLED: 'false' } });
  try {
    assert.match(h.output(), /AUDIT IS OFF/);
    const c = demoXksClient(h);
    assert.equal((await c.encrypt('demo-key', { plaintext: Buffer.from('unrecorded'), md: { kmsRequestId: 'off-1' } })).status, 200);
    c.close();
    await h.json(['key', 'create', 'still-audited', '--keystore', 'demo']);
    const out = await h.cli(['audit', 'export']);
    assert.equal(out.code, 0);
    assert.ok(!out.stdout.includes('"kind":"xks"'));
    assert.ok(out.stdout.includes('"target":"still-audited"'));
  } finally {
    await h.dispose();
  }
});

test('non-durable mode warns at start and still records the calls', async () => {
  const h = await startKeyhold({ env: { KEYHOLD_AUDIT_DURABLE: 'false' } });
  try {
    assert.match(h.output(), /do not wait for their audit records/);
    const c = demoXksClient(h);
    assert.equal((await c.encrypt('demo-key', { plaintext: Buffer.from('queued'), md: { kmsRequestId: 'nd-1' } })).status, 200);
    c.close();
    await h.stop(); // a clean stop commits what is queued
    const out = await h.cli(['audit', 'export']);
    assert.ok(out.stdout.includes('"kmsRequestId":"nd-1"'));
  } finally {
    await h.dispose();
  }
});
