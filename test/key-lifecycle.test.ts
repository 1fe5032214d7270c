import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { DAY, startAdminHarness, type AdminHarness, type SignedInUser } from './support/admin-harness.js';
import { eventually } from './support/keyhold-harness.js';
import { xksClient, type XksClient, type XksResponse } from './support/xks-client.js';

/**
 * Key lifecycle end to end: expiry, scheduled destruction (and its cancellation), the
 * rotation schedule run by the server's scheduler, and version deletion, observed through
 * the XKS API that KMS calls. The server's clock is moved by hand; XKS requests are signed
 * with the same clock so SigV4's ±5 minutes still hold.
 */
let h: AdminHarness;
let custodian: SignedInUser;
let xks: XksClient;
type Body = Record<string, unknown>;

before(async () => {
  h = await startAdminHarness();
  custodian = await h.provision('custodian');
  xks = xksClient({ url: `https://localhost:${h.running.xksAddress.port}`, caPem: h.caPem, uriPath: h.init.demo!.uriPath, credential: h.init.demo!.credential });
});

after(async () => {
  xks?.close();
  await h?.dispose();
});

const api = <T = Body>(method: string, path: string, body?: unknown) => h.api.call<T>(method, `/api/v1${path}`, { token: custodian.apiKey, ...(body !== undefined ? { body } : {}) });
const at = () => ({ signingDate: new Date(h.clock.now()) });
const encrypt = (keyId: string) => xks.encrypt(keyId, { plaintext: Buffer.from('a data key') }, at());
const decrypt = (keyId: string, e: XksResponse) =>
  xks.decrypt(
    keyId,
    {
      ciphertext: String(e.body.ciphertext),
      initializationVector: String(e.body.initializationVector),
      authenticationTag: String(e.body.authenticationTag),
      ciphertextMetadata: String(e.body.ciphertextMetadata),
    },
    at(),
  );

async function createKey(body: Body): Promise<Body> {
  const r = await api('POST', '/keys', { keyStore: 'demo', ...body });
  assert.equal(r.status, 200, r.text);
  return r.body;
}

function sealedMaterial(keyId: string): Buffer[] {
  const db = new BetterSqlite3(h.dbPath, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT v.material_sealed AS m FROM key_versions v JOIN keys k ON k.id = v.key_id WHERE k.external_id = ?').all(keyId) as { m: Buffer }[];
    return rows.map((r) => Buffer.from(r.m));
  } finally {
    db.close();
  }
}

function databaseBytes(): Buffer {
  return Buffer.concat([h.dbPath, `${h.dbPath}-wal`].filter((p) => existsSync(p)).map((p) => readFileSync(p)));
}

test('after its expiry date a key refuses encrypt and still decrypts', async () => {
  await createKey({ keyId: 'exp-key', expiresAt: new Date(h.clock.now() + DAY).toISOString() });
  const before = await encrypt('exp-key');
  assert.equal(before.status, 200, before.text);
  h.clock.advance(2 * DAY);
  const refused = await encrypt('exp-key');
  assert.equal(refused.status, 400);
  assert.equal(refused.body.errorName, 'InvalidStateException');
  assert.match(String(refused.body.errorMessage), /expired/);
  const d = await decrypt('exp-key', before);
  assert.equal(d.status, 200, d.text);
  assert.equal(Buffer.from(String(d.body.plaintext), 'base64').toString(), 'a data key');
  assert.equal((await api<Body>('GET', '/keys/exp-key')).body.expired, true);
  // Moving the expiry out serves encrypt again.
  await api('PATCH', '/keys/exp-key', { expiresAt: new Date(h.clock.now() + 30 * DAY).toISOString() });
  assert.equal((await encrypt('exp-key')).status, 200);
});

test('a key pending deletion answers InvalidStateException; cancelling brings it back disabled', async () => {
  await createKey({ keyId: 'del-key' });
  const ct = await encrypt('del-key');
  await api('POST', '/keys/del-key/schedule-deletion', { pendingWindowInDays: 7 });
  await eventually(async () => assert.equal((await encrypt('del-key')).body.errorName, 'InvalidStateException'));
  assert.equal((await decrypt('del-key', ct)).body.errorName, 'InvalidStateException');
  assert.equal((await xks.metadata('del-key', at())).body.keyStatus, 'DISABLED');
  const cancelled = await api<Body>('POST', '/keys/del-key/cancel-deletion');
  assert.equal(cancelled.body.state, 'Disabled');
  await api('POST', '/keys/del-key/enable');
  await eventually(async () => assert.equal((await decrypt('del-key', ct)).status, 200));
});

test('after the waiting period the scheduler destroys the key: material gone, KeyNotFound', async () => {
  await createKey({ keyId: 'doomed' });
  const ct = await encrypt('doomed');
  const material = sealedMaterial('doomed');
  assert.equal(material.length, 1);
  assert.ok(databaseBytes().includes(material[0]!), 'the sealed material is in the database before');
  await api('POST', '/keys/doomed/schedule-deletion', { pendingWindowInDays: 7 });
  h.clock.advance(7 * DAY - 60_000);
  assert.deepEqual((await h.running.scheduler.runOnce()).destroyed, [], 'not before the deletion date');
  h.clock.advance(61_000);
  const run = await h.running.scheduler.runOnce();
  assert.deepEqual(run.destroyed, ['doomed']);
  assert.equal((await api('GET', '/keys/doomed')).status, 404);
  await eventually(async () => assert.equal((await decrypt('doomed', ct)).body.errorName, 'KeyNotFoundException'));
  assert.equal(sealedMaterial('doomed').length, 0);
  assert.ok(!databaseBytes().includes(material[0]!), 'no copy of the sealed material is left in the database or its WAL');
  const rec = h.records.find((r) => r.action === 'keys.destroy' && r.target === 'doomed');
  assert.equal(rec?.actor.via, 'system');
});

test('the rotation schedule rotates due keys; disabled keys wait until enabled', async () => {
  await createKey({ keyId: 'rot-key', rotationPeriodDays: 30 });
  await createKey({ keyId: 'rot-off', rotationPeriodDays: 1 });
  await api('POST', '/keys/rot-off/disable');
  const old = await encrypt('rot-key');
  h.clock.advance(29 * DAY);
  let run = await h.running.scheduler.runOnce();
  assert.ok(!run.rotated.includes('rot-key'));
  h.clock.advance(2 * DAY);
  run = await h.running.scheduler.runOnce();
  assert.ok(run.rotated.includes('rot-key'));
  assert.ok(!run.rotated.includes('rot-off'), 'a disabled key is not rotated');
  const k = (await api<Body>('GET', '/keys/rot-key')).body;
  assert.equal(k.currentVersion, 2);
  assert.equal(Date.parse(String(k.nextRotationAt)) - h.clock.now(), 30 * DAY, 'the next rotation counts from this one');
  assert.equal((await h.running.scheduler.runOnce()).rotated.includes('rot-key'), false, 'once per period');
  await eventually(async () => {
    const fresh = await encrypt('rot-key');
    assert.equal(Buffer.from(String(fresh.body.ciphertextMetadata), 'base64').at(-1), 2, 'new encryptions use version 2');
  });
  assert.equal((await decrypt('rot-key', old)).status, 200, 'version 1 still decrypts');
  await api('POST', '/keys/rot-off/enable');
  assert.ok((await h.running.scheduler.runOnce()).rotated.includes('rot-off'), 'rotated once enabled again');
  assert.ok(h.records.some((r) => r.action === 'keys.rotate.scheduled' && r.target === 'rot-key' && r.actor.via === 'system'));
});

test('deleting an old version destroys its material; its ciphertexts no longer decrypt', async () => {
  await createKey({ keyId: 'ver-key' });
  const v1 = await encrypt('ver-key');
  await api('POST', '/keys/ver-key/rotate');
  const material = sealedMaterial('ver-key');
  assert.equal(material.length, 2);
  const r = await api('DELETE', '/keys/ver-key/versions/1');
  assert.equal(r.status, 200, r.text);
  await eventually(async () => assert.equal((await decrypt('ver-key', v1)).body.errorName, 'InvalidCiphertextException'));
  assert.equal((await encrypt('ver-key')).status, 200, 'the current version keeps working');
  const left = sealedMaterial('ver-key');
  assert.equal(left.length, 1);
  assert.ok(!databaseBytes().includes(material.find((m) => !m.equals(left[0]!))!), 'version 1 is gone from the file');
});
