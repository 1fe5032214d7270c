/**
 * Bring your own key workflows and their failure cases, in a real Keyhold server (in this
 * process, clock moved by hand) against the KMS simulator through the real AWS SDK:
 * - `aws key rotate KEY --to-local LOCAL`: a native key's aliases move to a new imported key
 *   holding the local key's material, recorded as a link; refusals create nothing in AWS;
 * - `aws key delete-material` and `aws key reimport` (the link's version; KMS takes only the
 *   same material back);
 * - scheduled rotation of a linked key by the lifecycle scheduler, carried to AWS, audited,
 *   a failing link retried on the next pass;
 * - throttling during sync (the simulator's request quotas), a key deleted between ListKeys
 *   and DescribeKey, an expired import token, a wrong wrapping algorithm.
 * Time in the simulator is the test's clock: backoff "sleeps" move it, so throttling and
 * token expiry are deterministic.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  ListKeysCommand,
  ScheduleKeyDeletionCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { byokSessionOf, createAwsClients } from '../src/aws/index.js';
import { createAwsKeyService, type AwsKeyService, type ByokKmsPort, type ByokSession } from '../src/domain/index.js';
import type { AppContext } from '../src/app/context.js';
import { ACCOUNT, ALICE, REGION, errorName, startSimulator, type TestSimulator } from './kms-sim-support.js';
import { DAY, manualClock, startAdminHarness, type AdminHarness, type ManualClock } from './support/admin-harness.js';

let h: AdminHarness;
let ctx: AppContext;
let sim: TestSimulator;
let kms: KMSClient;
const ACTOR = 'test-operator';

async function addConnection(name: string, endpoint: string): Promise<void> {
  await ctx.awsConnections.create({ name, region: REGION, endpoint, accountId: ACCOUNT, credentials: { source: 'static', accessKeyId: ALICE.accessKeyId, secretAccessKey: ALICE.secretAccessKey } });
}

/**
 * An AWS key service on the server's storage and keys whose sessions have no SDK retries
 * (Keyhold's own backoff is what is measured), whose backoff moves `simClock` instead of
 * waiting, and whose KMS port the test may wrap to make something happen between two calls.
 */
function serviceWith(simClock: ManualClock, wrap: (p: ByokKmsPort) => ByokKmsPort = (p) => p): AwsKeyService {
  return createAwsKeyService({
    repo: ctx.storage,
    keys: ctx.keys,
    clock: h.clock,
    backoffMs: 100,
    sleep: async (ms) => simClock.advance(ms),
    async open(name) {
      const rec = (await ctx.storage.getAwsConnection(name))!;
      const { sealedSecret: _s, ...connection } = rec;
      const base = byokSessionOf(createAwsClients(connection, { secretAccessKey: ALICE.secretAccessKey }, { maxAttempts: 1 }));
      const session: ByokSession = { kms: (r) => wrap(base.kms(r)), close: () => base.close() };
      return { connection, session };
    },
  });
}

const keyCount = async (client: KMSClient) => (await client.send(new ListKeysCommand({ Limit: 1000 }))).Keys!.length;

before(async () => {
  h = await startAdminHarness();
  ctx = h.running.context;
  // The simulator keeps the server's time: material validity and deletion windows follow it.
  sim = await startSimulator({ clock: h.clock, importParametersIntervalMs: 0 });
  kms = sim.kms();
  await addConnection('sim', sim.url);
});

after(async () => {
  await sim?.close();
  await h?.dispose();
});

describe('aws key rotate --to-local', () => {
  test('moves the aliases to a new imported key with the local material; the old key keeps decrypting; recorded as a link', async () => {
    const old = (await kms.send(new CreateKeyCommand({ Description: 'payments', Tags: [{ TagKey: 'team', TagValue: 'payments' }] }))).KeyMetadata!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/payments', TargetKeyId: old.KeyId }));
    const ct = await kms.send(new EncryptCommand({ KeyId: 'alias/payments', Plaintext: Buffer.from('under the native key') }));
    await ctx.awsKeys.sync('sim');
    await ctx.keys.create({ externalId: 'own-1', keyStore: 'demo', exportable: true });

    const r = await ctx.awsKeys.rotateToLocal('alias/payments', 'own-1', { actor: ACTOR });
    assert.equal(r.old.arn, old.Arn);
    assert.deepEqual(r.movedAliases, ['alias/payments']);
    assert.equal(r.new.origin, 'EXTERNAL');
    assert.equal(r.new.state, 'Enabled');
    assert.deepEqual(r.new.aliases, ['alias/payments']);
    assert.deepEqual(r.new.tags, { 'keyhold:key': 'own-1', 'keyhold:version': '1', team: 'payments' });
    assert.equal(r.new.description, 'payments');
    assert.equal(r.old.state, 'Enabled', 'the old key stays enabled for decryption');
    assert.equal(r.link.localVersion, 1);
    assert.equal(r.link.copiedBy, ACTOR);
    const now = (await kms.send(new DescribeKeyCommand({ KeyId: 'alias/payments' }))).KeyMetadata!;
    assert.equal(now.Arn, r.new.arn);
    assert.equal(now.Origin, 'EXTERNAL');
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob }))).Plaintext!).toString(), 'under the native key');
    const links = await ctx.awsKeys.links('own-1');
    assert.deepEqual(links.copies.map((c) => c.awsKeyArn), [r.new.arn]);

    const other = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/other', TargetKeyId: other.KeyId }));
    await ctx.awsKeys.sync('sim');
    await ctx.keys.create({ externalId: 'own-2', keyStore: 'demo', exportable: true });
    const validTo = new Date(h.clock.now() + 30 * DAY).toISOString();
    const d = await ctx.awsKeys.rotateToLocal(other.Arn!, 'own-2', { actor: ACTOR, disableOld: true, validTo });
    assert.equal(d.old.state, 'Disabled');
    assert.equal(d.new.expirationModel, 'KEY_MATERIAL_EXPIRES');
    assert.equal(d.link.validTo, validTo);
  });

  test('refusals come before anything is made in AWS', async () => {
    await ctx.keys.create({ externalId: 'xks-only', keyStore: 'demo' });
    const rsa = (await kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!;
    const target = (await kms.send(new CreateKeyCommand({ Description: 'target' }))).KeyMetadata!;
    await ctx.awsKeys.sync('sim');
    const before = await keyCount(kms);
    const imported = (await ctx.awsKeys.links('own-1')).copies[0]!.awsKeyArn;
    const cases: [() => Promise<unknown>, RegExp][] = [
      [() => ctx.awsKeys.rotateToLocal(target.Arn!, 'xks-only', { actor: ACTOR }), /not exportable/],
      [() => ctx.awsKeys.rotateToLocal(target.Arn!, 'no-such-key', { actor: ACTOR }), /does not exist/],
      [() => ctx.awsKeys.rotateToLocal(rsa.Arn!, 'own-1', { actor: ACTOR }), /RSA_2048 SIGN_VERIFY: Keyhold keys are AES-256/],
      [() => ctx.awsKeys.rotateToLocal(imported, 'own-1', { actor: ACTOR }), /origin EXTERNAL/],
      [() => ctx.awsKeys.rotateToLocal(target.Arn!, 'own-1', { actor: ACTOR, validTo: 'tomorrow' }), /ISO 8601/],
    ];
    for (const [fn, message] of cases) await assert.rejects(fn, message);
    assert.equal(await keyCount(kms), before, 'nothing was created in AWS');
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: target.KeyId }))).KeyMetadata!.KeyState, 'Enabled');
  });
});

describe('aws key delete-material and reimport', () => {
  test('material deleted: PendingImport, unusable; reimported from the link\'s version (not the local key\'s current one): Enabled, old ciphertexts open', async () => {
    const arn = (await ctx.awsKeys.links('own-1')).copies[0]!.awsKeyArn;
    const ct = await kms.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('under imported material') }));
    const deleted = await ctx.awsKeys.deleteImportedMaterial(arn);
    assert.equal(deleted.state, 'PendingImport');
    assert.equal(await errorName(() => kms.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') }))), 'KMSInvalidStateException');
    // A local rotation after the copy: the link still says version 1, and KMS takes only that back.
    await ctx.keys.rotate('own-1');
    const r = await ctx.awsKeys.reimport(arn, { actor: ACTOR });
    assert.equal(r.localKey, 'own-1');
    assert.equal(r.localVersion, 1);
    assert.equal(r.key.state, 'Enabled');
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob }))).Plaintext!).toString(), 'under imported material');
    const copies = (await ctx.awsKeys.show(arn)).copies;
    assert.deepEqual(copies.map((c) => [c.localVersion, c.copiedBy]), [[1, ACTOR], [1, ACTOR]]);
    const importCalls = sim.sim.requestLog.entries().filter((e) => e.eventName === 'ImportKeyMaterial' && e.keyArn === arn);
    assert.equal(importCalls.at(-1)!.errorCode, undefined);
  });

  test('refused clearly, nothing changed: a native key, a key without a link, a passed expiry', async () => {
    const native = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const unlinked = (await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata!;
    await ctx.awsKeys.sync('sim');
    await assert.rejects(ctx.awsKeys.deleteImportedMaterial(native.Arn!), /origin AWS_KMS: only keys with imported material/);
    await assert.rejects(ctx.awsKeys.reimport(native.Arn!, { actor: ACTOR }), /origin AWS_KMS/);
    await assert.rejects(ctx.awsKeys.reimport(unlinked.Arn!, { actor: ACTOR }), /no link to a local key/);
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: native.KeyId }))).KeyMetadata!.KeyState, 'Enabled');
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: unlinked.KeyId }))).KeyMetadata!.KeyState, 'PendingImport');
    const imports = sim.sim.requestLog.entries().filter((e) => e.eventName === 'GetParametersForImport' && (e.keyArn === native.Arn || e.keyArn === unlinked.Arn));
    assert.equal(imports.length, 0, 'no import was attempted');

    // Material that expired: reimport needs a new --valid-to.
    const expiring = (await ctx.awsKeys.links('own-2')).copies[0]!.awsKeyArn;
    h.clock.advance(31 * DAY);
    await ctx.awsKeys.sync('sim');
    assert.equal((await ctx.awsKeys.show(expiring)).key.state, 'PendingImport');
    await assert.rejects(ctx.awsKeys.reimport(expiring, { actor: ACTOR }), /has passed: give --valid-to/);
    const r = await ctx.awsKeys.reimport(expiring, { actor: ACTOR, validTo: new Date(h.clock.now() + 10 * DAY).toISOString() });
    assert.equal(r.key.state, 'Enabled');
  });
});

describe('scheduled rotation of linked keys', () => {
  test('the scheduler rotates the local key and carries it to the AWS key; a failing link is recorded, retried on the next pass, and never stops the scheduler', async () => {
    await ctx.keys.create({ externalId: 'sched-1', keyStore: 'demo', exportable: true, rotationPeriodDays: 30 });
    const copy = (await ctx.awsKeys.importLocal({ localKey: 'sched-1', connection: 'sim', alias: 'alias/sched-1', actor: ACTOR })).copies[0]!;
    const before = (await kms.send(new DescribeKeyCommand({ KeyId: copy.awsKeyArn }))).KeyMetadata!;
    const ct = await kms.send(new EncryptCommand({ KeyId: 'alias/sched-1', Plaintext: Buffer.from('version 1') }));

    // AWS is unreachable when the rotation falls due.
    await ctx.awsConnections.update('sim', { endpoint: 'http://127.0.0.1:9' });
    h.clock.advance(31 * DAY);
    const recorded = h.records.length;
    const first = await h.running.scheduler.runOnce();
    assert.ok(first.rotated.includes('sched-1'));
    const failed = first.links.filter((l) => l.awsKeyArn === copy.awsKeyArn);
    assert.equal(failed.length, 1);
    assert.ok(failed[0]!.error, 'the link failed');
    assert.equal(failed[0]!.retry, false);
    const audit = h.records.slice(recorded).filter((r) => r.action === 'aws.keys.rotate-linked.scheduled');
    assert.deepEqual(audit.map((r) => [r.target, r.outcome, r.actor.username]), [[copy.awsKeyArn, 'failed', 'system']]);

    const second = await h.running.scheduler.runOnce();
    assert.deepEqual(second.rotated, []);
    assert.equal(second.links.find((l) => l.awsKeyArn === copy.awsKeyArn)!.retry, true, 'retried on the next pass');
    assert.ok(second.links.find((l) => l.awsKeyArn === copy.awsKeyArn)!.error);

    await ctx.awsConnections.update('sim', { endpoint: sim.url });
    const third = await h.running.scheduler.runOnce();
    const done = third.links.find((l) => l.awsKeyArn === copy.awsKeyArn)!;
    assert.deepEqual([done.error, done.strategy, done.retry, done.version], [null, 'in-place', true, 2]);
    const okAudit = h.records.slice(recorded).filter((r) => r.action === 'aws.keys.rotate-linked.scheduled' && r.outcome === 'ok');
    assert.deepEqual(okAudit.map((r) => r.target), [copy.awsKeyArn]);
    const now = (await kms.send(new DescribeKeyCommand({ KeyId: copy.awsKeyArn }))).KeyMetadata!;
    assert.notEqual(now.CurrentKeyMaterialId, before.CurrentKeyMaterialId, 'new current material, same ARN');
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob }))).Plaintext!).toString(), 'version 1');
    assert.deepEqual((await ctx.awsKeys.links('sched-1')).copies.map((c) => c.localVersion), [1, 2]);
    assert.equal((await h.running.scheduler.runOnce()).links.length, 0, 'nothing left to carry');
  });
});

describe('failure cases', () => {
  test('throttling during sync: ListKeys and DescribeKey over their quotas are retried with backoff; the sync completes and reports its retries', async () => {
    const clock = manualClock();
    const t = await startSimulator({ clock, requestQuotas: { ListKeys: 1, DescribeKey: 5 } });
    try {
      const client = t.kms();
      for (let i = 0; i < 120; i += 20) await Promise.all(Array.from({ length: 20 }, () => client.send(new CreateKeyCommand({ Description: 'throttled' }))));
      await addConnection('throttled', t.url);
      const r = await serviceWith(clock).sync('throttled', { concurrency: 8 });
      assert.equal(r.seen, 120);
      assert.equal(r.pages, 2);
      const throttled = t.sim.requestLog.entries().filter((e) => e.errorCode === 'ThrottlingException');
      assert.ok(throttled.some((e) => e.eventName === 'DescribeKey'));
      assert.ok(r.retries > 0);
      assert.equal(r.retries, throttled.length, 'every throttled call was retried and counted');
      assert.equal((await ctx.awsKeys.list({ connection: 'throttled' })).length, 120);
    } finally {
      await t.close();
    }
  });

  test('a key deleted between ListKeys and DescribeKey is counted as vanished, not recorded', async () => {
    const clock = manualClock();
    const t = await startSimulator({ clock });
    try {
      const client = t.kms();
      const ids = await Promise.all(Array.from({ length: 5 }, async () => (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!));
      await addConnection('vanishing', t.url);
      let once = false;
      const service = serviceWith(clock, (p) => ({
        ...p,
        async listKeys(limit, marker) {
          const page = await p.listKeys(limit, marker);
          if (!once) {
            once = true; // AWS deletes one key after it was listed
            await client.send(new ScheduleKeyDeletionCommand({ KeyId: ids[2], PendingWindowInDays: 7 }));
            clock.advance(8 * DAY);
          }
          return page;
        },
      }));
      const r = await service.sync('vanishing');
      assert.equal(r.vanishedDuringSync, 1);
      assert.equal(r.seen, 4);
      const known = (await ctx.awsKeys.list({ connection: 'vanishing' })).map((k) => k.keyId);
      assert.equal(known.includes(ids[2]!), false);
      assert.equal(known.length, 4);
    } finally {
      await t.close();
    }
  });

  test('an import token that expired before use: fresh parameters once, then the import succeeds; expiring again is reported clearly', async () => {
    const clock = manualClock();
    // GetParametersForImport's KMS rate limit (one call per 4 s) is on: the fresh parameters wait for it.
    const t = await startSimulator({ clock, importParametersIntervalMs: 4000 });
    try {
      await addConnection('tokens', t.url);
      await ctx.keys.create({ externalId: 'tok-1', keyStore: 'demo', exportable: true });
      let expireNext = 1;
      const service = serviceWith(clock, (p) => ({
        ...p,
        async getParametersForImport(keyId, algorithm, spec) {
          const out = await p.getParametersForImport(keyId, algorithm, spec);
          if (expireNext-- > 0) clock.advance(25 * 3_600_000); // the token is 24 h old before it is used
          return out;
        },
      }));
      const r = await service.importLocal({ localKey: 'tok-1', connection: 'tokens', actor: ACTOR });
      const arn = r.copies[0]!.awsKeyArn;
      const log = t.sim.requestLog.entries().filter((e) => e.keyArn === arn);
      assert.deepEqual(log.filter((e) => e.eventName === 'ImportKeyMaterial').map((e) => e.errorCode ?? 'ok'), ['ExpiredImportTokenException', 'ok']);
      assert.equal(log.filter((e) => e.eventName === 'GetParametersForImport' && !e.errorCode).length, 2);
      assert.equal((await t.kms().send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata!.KeyState, 'Enabled');

      expireNext = 2;
      await assert.rejects(service.importLocal({ localKey: 'tok-1', connection: 'tokens', actor: ACTOR }), /expired again with fresh parameters.*clock.*scheduled for deletion in 7 days/);
      assert.equal((await ctx.awsKeys.links('tok-1')).copies.length, 1, 'the failed copy is not a link');
    } finally {
      await t.close();
    }
  });

  test('a wrong wrapping algorithm: KMS cannot unwrap (InvalidCiphertextException), reported; no link, no alias, the empty key scheduled for deletion', async () => {
    const clock = manualClock();
    const t = await startSimulator({ clock });
    try {
      await addConnection('wrapping', t.url);
      // Parameters issued for RSA-OAEP while Keyhold wraps for RSA + AES key wrap.
      const service = serviceWith(clock, (p) => ({ ...p, getParametersForImport: (keyId, _algorithm, spec) => p.getParametersForImport(keyId, 'RSAES_OAEP_SHA_256', spec) }));
      await assert.rejects(service.importLocal({ localKey: 'tok-1', connection: 'wrapping', alias: 'alias/wrapped', actor: ACTOR }), /InvalidCiphertextException.*scheduled for deletion/);
      const client = t.kms();
      const keys = (await client.send(new ListKeysCommand({}))).Keys!;
      assert.equal(keys.length, 1);
      assert.equal((await client.send(new DescribeKeyCommand({ KeyId: keys[0]!.KeyId }))).KeyMetadata!.KeyState, 'PendingDeletion');
      assert.equal(await errorName(() => client.send(new DescribeKeyCommand({ KeyId: 'alias/wrapped' }))), 'NotFoundException');
      assert.equal((await ctx.awsKeys.links('tok-1')).copies.filter((c) => c.awsKeyArn === keys[0]!.KeyArn).length, 0);
    } finally {
      await t.close();
    }
  });
});

describe('superseded links', () => {
  test('key rotate --linked with a new key: the old AWS key is marked superseded (by which key, when), skipped by later linked and scheduled rotations, still decrypts and can be reimported', async () => {
    await ctx.keys.create({ externalId: 'sup-1', keyStore: 'demo', exportable: true, rotationPeriodDays: 30 });
    const a = (await ctx.awsKeys.importLocal({ localKey: 'sup-1', connection: 'sim', alias: 'alias/sup-1', actor: ACTOR })).copies[0]!.awsKeyArn;
    const ct = await kms.send(new EncryptCommand({ KeyId: 'alias/sup-1', Plaintext: Buffer.from('under the first key') }));
    assert.equal((await ctx.awsKeys.show(a)).superseded, null);

    const r = await ctx.awsKeys.rotateLinked('sup-1', { strategy: 'new-key', actor: ACTOR });
    assert.equal(r.links.length, 1);
    const b = r.links[0]!.newArn!;
    assert.deepEqual([r.links[0]!.awsKeyArn, r.links[0]!.strategy, r.links[0]!.error], [a, 'new-key', null]);
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: 'alias/sup-1' }))).KeyMetadata!.Arn, b, 'the alias moved');

    const shownA = await ctx.awsKeys.show(a);
    assert.equal(shownA.superseded?.by, b);
    assert.equal(shownA.superseded?.actor, ACTOR);
    assert.equal(shownA.superseded?.at, new Date(h.clock.now()).toISOString());
    assert.equal((await ctx.awsKeys.show(b)).superseded, null);
    const links = await ctx.awsKeys.links('sup-1');
    assert.deepEqual(links.copies.map((c) => [c.awsKeyArn, c.localVersion, c.superseded?.by ?? null]), [[a, 1, b], [b, 2, null]]);
    // Through the admin API as well.
    const reader = await h.provision('auditor', 'sup-reader');
    const viaApi = await h.api.call<{ copies: { awsKeyArn: string; superseded: { by: string } | null }[] }>('GET', '/api/v1/keys/sup-1/links', { token: reader.apiKey });
    assert.equal(viaApi.status, 200, viaApi.text);
    assert.deepEqual(viaApi.body.copies.map((c) => c.superseded?.by ?? null), [b, null]);
    const detail = await h.api.call<{ superseded: { by: string } | null }>('GET', `/api/v1/aws/keys/${encodeURIComponent(a)}`, { token: reader.apiKey });
    assert.equal(detail.status, 200, detail.text);
    assert.equal(detail.body.superseded?.by, b);

    // A later linked rotation goes to the new key only.
    const again = await ctx.awsKeys.rotateLinked('sup-1', { actor: ACTOR });
    assert.deepEqual(again.links.map((l) => [l.awsKeyArn, l.strategy, l.error]), [[b, 'in-place', null]]);
    const materialOfA = (await kms.send(new DescribeKeyCommand({ KeyId: a }))).KeyMetadata!.CurrentKeyMaterialId;

    // So does the scheduler's.
    h.clock.advance(31 * DAY);
    const pass = await h.running.scheduler.runOnce();
    assert.ok(pass.rotated.includes('sup-1'));
    const mine = pass.links.filter((l) => l.localKey === 'sup-1');
    assert.deepEqual(mine.map((l) => [l.awsKeyArn, l.strategy, l.error]), [[b, 'in-place', null]]);
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: a }))).KeyMetadata!.CurrentKeyMaterialId, materialOfA, 'nothing new went into the superseded key');
    assert.deepEqual((await ctx.awsKeys.links('sup-1')).copies.filter((c) => c.awsKeyArn === a).map((c) => c.localVersion), [1]);

    // The superseded key still decrypts what it made, and takes its own material back.
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob }))).Plaintext!).toString(), 'under the first key');
    assert.equal((await ctx.awsKeys.deleteImportedMaterial(a)).state, 'PendingImport');
    const back = await ctx.awsKeys.reimport(a, { actor: ACTOR });
    assert.deepEqual([back.key.state, back.localVersion], ['Enabled', 1]);
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob }))).Plaintext!).toString(), 'under the first key');
    assert.equal((await ctx.awsKeys.show(a)).superseded?.by, b, 'still superseded after the reimport');
    assert.deepEqual((await ctx.awsKeys.rotateLinked('sup-1', { actor: ACTOR })).links.map((l) => l.awsKeyArn), [b]);
  });
});
