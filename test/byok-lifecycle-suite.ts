/**
 * AWS key creation and lifecycle through the real CLI, run the same way on the KMS
 * simulator and on moto (`python3 -m moto.server`): every key spec, aliases (add, move,
 * remove), tags, enable/disable, deletion and its cancellation, native rotation with the
 * alias moved, policy put with the diff shown first, and a sync of a few hundred keys.
 * What moto does not model faithfully (key states on crypto, imports, paging limits) is
 * covered against the simulator in byok-aws.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { ACCOUNT, ALICE, REGION, kmsClient, startMoto, startSimulator, type Moto, type TestSimulator } from './kms-sim-support.js';
import { startKeyhold, type KeyholdHarness } from './support/keyhold-harness.js';

type Target = 'sim' | 'moto';

/** The suite on one target; each target is its own test file, so the two run side by side. */
export function lifecycleSuite(target: Target): void {
let h: KeyholdHarness;
let emulator: TestSimulator | Moto;
let tmp: string;
const clients: KMSClient[] = [];

before(async () => {
  [emulator, h] = await Promise.all([target === 'sim' ? startSimulator() : startMoto(), startKeyhold({ demo: false })]);
  tmp = mkdtempSync(join(tmpdir(), 'keyhold-byok-life-'));
  const secretFile = join(tmp, 'secret');
  writeFileSync(secretFile, ALICE.secretAccessKey, { mode: 0o600 });
  await h.json(['aws', 'connection', 'add', target, '--region', REGION, '--endpoint', emulator.url, '--access-key-id', ALICE.accessKeyId, '--secret-access-key-file', secretFile, '--account-id', ACCOUNT]);
});

after(async () => {
  for (const c of clients) c.destroy();
  await Promise.all([h?.dispose(), emulator?.close()]);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

type Rec = { arn: string; keyId: string; keySpec: string; keyUsage: string; state: string; aliases: string[]; tags: Record<string, string>; rotation: { enabled: boolean } | null };

  describe(`on ${target}`, () => {
    let kms: KMSClient;
    before(() => {
      kms = kmsClient(emulator.url, ALICE, REGION);
      clients.push(kms);
    });

    test('aws key create: every spec, with aliases and tags', async () => {
      const specs: [string, string][] = [
        ['SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT'],
        ['RSA_2048', 'SIGN_VERIFY'],
        ['RSA_3072', 'ENCRYPT_DECRYPT'],
        ['RSA_4096', 'SIGN_VERIFY'],
        ['ECC_NIST_P256', 'SIGN_VERIFY'],
        ['ECC_NIST_P384', 'SIGN_VERIFY'],
        ['ECC_NIST_P521', 'SIGN_VERIFY'],
        ['ECC_SECG_P256K1', 'SIGN_VERIFY'],
        ['HMAC_256', 'GENERATE_VERIFY_MAC'],
      ];
      for (const [spec, usage] of specs) {
        // RSA keys default to ENCRYPT_DECRYPT (as in KMS); signing is asked for.
        const explicit = spec.startsWith('RSA_') && usage === 'SIGN_VERIFY' ? ['--usage', usage] : [];
        const k = await h.json<Rec>(['aws', 'key', 'create', '--connection', target, '--spec', spec, ...explicit, '--alias', `alias/${target}-${spec.toLowerCase()}`, '--tag', `spec=${spec}`]);
        assert.equal(k.keySpec, spec);
        assert.equal(k.keyUsage, usage, spec);
        assert.deepEqual(k.aliases, [`alias/${target}-${spec.toLowerCase()}`]);
        assert.deepEqual(k.tags, { spec });
        const md = (await kms.send(new DescribeKeyCommand({ KeyId: k.arn }))).KeyMetadata!;
        assert.equal(md.KeySpec, spec);
        assert.equal(md.KeyUsage, usage);
      }
      const bad = await h.cli(['aws', 'key', 'create', '--connection', target, '--spec', 'HMAC_256', '--usage', 'ENCRYPT_DECRYPT']);
      assert.equal(bad.code, 2, bad.stderr);
      assert.equal((await h.cli(['aws', 'key', 'create', '--connection', target, '--spec', 'DES'])).code, 2);
    });

    test('lifecycle: disable/enable, tags, alias add/move/remove, rotation, schedule and cancel deletion, forget refused', async () => {
      const a = await h.json<Rec>(['aws', 'key', 'create', '--connection', target, '--alias', `alias/${target}-app`, '--description', 'app key']);
      assert.equal((await h.json<Rec>(['aws', 'key', 'disable', a.arn])).state, 'Disabled');
      assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: a.arn }))).KeyMetadata!.KeyState, 'Disabled');
      assert.equal((await h.json<Rec>(['aws', 'key', 'enable', `alias/${target}-app`])).state, 'Enabled');
      const tagged = await h.json<Rec>(['aws', 'key', 'tag', a.arn, '--set', 'team=ops', 'env=prod']);
      assert.deepEqual(tagged.tags, { env: 'prod', team: 'ops' });
      assert.deepEqual((await h.json<Rec>(['aws', 'key', 'tag', a.arn, '--remove', 'env'])).tags, { team: 'ops' });
      const b = await h.json<Rec>(['aws', 'key', 'create', '--connection', target]);
      const moved = await h.json<Rec>(['aws', 'key', 'alias', 'add', b.arn, `alias/${target}-app`]);
      assert.deepEqual(moved.aliases, [`alias/${target}-app`], 'an alias of another key moves');
      assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: `alias/${target}-app` }))).KeyMetadata!.Arn, b.arn);
      assert.deepEqual((await h.json<Rec>(['aws', 'key', 'alias', 'remove', b.arn, `alias/${target}-app`])).aliases, []);
      assert.equal((await h.json<Rec>(['aws', 'key', 'rotation', a.arn, '--on', '--period-days', '180'])).rotation!.enabled, true);
      assert.equal((await h.json<Rec>(['aws', 'key', 'rotation', a.arn, '--off'])).rotation!.enabled, false);
      const pending = await h.json<Rec & { deletionDate: string }>(['aws', 'key', 'schedule-deletion', b.arn, '--days', '7']);
      assert.equal(pending.state, 'PendingDeletion');
      assert.ok(pending.deletionDate);
      assert.equal((await h.json<Rec>(['aws', 'key', 'cancel-deletion', b.arn])).state, 'Disabled');
      assert.equal((await h.cli(['aws', 'key', 'schedule-deletion', b.arn, '--days', '6'])).code, 2, 'the 7-30 day window is checked here (moto would accept 6)');
      assert.equal((await h.cli(['aws', 'key', 'forget', a.arn])).code, 1, 'forget only once AWS is deleting the key');
    });

    test('aws key rotate: a new key of the same spec, tags and policy; aliases moved; old ciphertexts still decrypt', async () => {
      const old = await h.json<Rec>(['aws', 'key', 'create', '--connection', target, '--alias', `alias/${target}-rot`, '--tag', 'owner=payments']);
      const ct = await kms.send(new EncryptCommand({ KeyId: `alias/${target}-rot`, Plaintext: Buffer.from('before rotation') }));
      const r = await h.json<{ old: Rec; new: Rec; movedAliases: string[] }>(['aws', 'key', 'rotate', `alias/${target}-rot`]);
      assert.notEqual(r.new.arn, r.old.arn);
      assert.deepEqual(r.movedAliases, [`alias/${target}-rot`]);
      assert.deepEqual(r.new.aliases, [`alias/${target}-rot`]);
      assert.deepEqual(r.new.tags, { owner: 'payments' });
      assert.equal(r.old.state, 'Enabled', 'the old key stays enabled for decryption');
      assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: `alias/${target}-rot` }))).KeyMetadata!.Arn, r.new.arn);
      assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob }))).Plaintext!).toString(), 'before rotation');
      assert.equal(old.arn, r.old.arn);
      const disabling = await h.json<{ old: Rec }>(['aws', 'key', 'rotate', `alias/${target}-rot`, '--disable-old']);
      assert.equal(disabling.old.state, 'Disabled');
    });

    test('policy put: validated, the diff shown, applied only with --yes', async () => {
      const k = await h.json<Rec>(['aws', 'key', 'create', '--connection', target]);
      const file = join(tmp, `${target}-policy.json`);
      const policy = { Version: '2012-10-17', Statement: [{ Sid: 'root', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }, { Sid: 'app', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/app` }, Action: 'kms:Decrypt', Resource: '*' }] };
      writeFileSync(file, JSON.stringify(policy));
      const dry = await h.cli(['aws', 'key', 'policy', 'put', k.arn, '--file', file]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /^\+ .*role\/app/m);
      assert.match(dry.stdout, /Not applied/);
      const applied = await h.json<{ applied: boolean }>(['aws', 'key', 'policy', 'put', k.arn, '--file', file, '--yes']);
      assert.equal(applied.applied, true);
      const got = await h.json<{ policy: string }>(['aws', 'key', 'policy', 'get', k.arn]);
      assert.deepEqual(JSON.parse(got.policy), policy);
      writeFileSync(file, '{"Statement": [');
      assert.equal((await h.cli(['aws', 'key', 'policy', 'put', k.arn, '--file', file, '--yes'])).code, 2, 'not JSON: refused before AWS sees it');
    });

    test('aws sync of a few hundred keys', { timeout: 300_000 }, async () => {
      for (let i = 0; i < 300; i += 50) await Promise.all(Array.from({ length: 50 }, () => kms.send(new CreateKeyCommand({ Description: `bulk ${target}` }))));
      const r = await h.json<{ seen: number; added: number }>(['aws', 'sync', target]);
      const rows = await h.json<Rec[]>(['aws', 'key', 'list', '--connection', target]);
      assert.equal(rows.length, r.seen);
      assert.ok(r.seen >= 300 + 9 + 5, `${r.seen} keys`);
      const again = await h.json<{ added: number; updated: number }>(['aws', 'sync', target]);
      assert.equal(again.added, 0);
      assert.equal(again.updated, 0);
    });
  });
}
