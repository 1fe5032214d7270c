/**
 * Native (AWS_KMS-origin) keys in the simulator through the real AWS SDK: key lifecycle and
 * states, aliases, tags, key policy, paging, rotation, and the symmetric crypto operations.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  ListAliasesCommand,
  ListKeyPoliciesCommand,
  ListKeyRotationsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  PutKeyPolicyCommand,
  ReEncryptCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAliasCommand,
  UpdateKeyDescriptionCommand,
  paginateListAliases,
  paginateListKeys,
  paginateListResourceTags,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { ACCOUNT, BOB_OTHER_ACCOUNT, REGION, errorName, movableClock, startSimulator, type TestSimulator } from './kms-sim-support.js';

const DAY = 86_400_000;
let t: TestSimulator;
let kms: KMSClient;
const clock = movableClock();

before(async () => {
  t = await startSimulator({ clock });
  kms = t.kms();
});
after(() => t.close());

const newKey = async (input: Record<string, unknown> = {}) => (await kms.send(new CreateKeyCommand(input))).KeyMetadata!;
const state = async (keyId: string) => (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState;

describe('keys', () => {
  test('CreateKey returns the metadata KMS returns', async () => {
    const k = await newKey({ Description: 'orders', Tags: [{ TagKey: 'team', TagValue: 'payments' }] });
    assert.match(k.KeyId!, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(k.Arn, `arn:aws:kms:${REGION}:${ACCOUNT}:key/${k.KeyId}`);
    assert.equal(k.AWSAccountId, ACCOUNT);
    assert.equal(k.Enabled, true);
    assert.equal(k.KeyState, 'Enabled');
    assert.equal(k.KeyUsage, 'ENCRYPT_DECRYPT');
    assert.equal(k.KeySpec, 'SYMMETRIC_DEFAULT');
    assert.equal(k.Origin, 'AWS_KMS');
    assert.equal(k.KeyManager, 'CUSTOMER');
    assert.deepEqual(k.EncryptionAlgorithms, ['SYMMETRIC_DEFAULT']);
    assert.equal(k.Description, 'orders');
    assert.match(k.CurrentKeyMaterialId!, /^[0-9a-f]{64}$/);
    assert.ok(k.CreationDate instanceof Date && Math.abs(k.CreationDate.getTime() - clock.now()) < 60_000);
    const mrk = await newKey({ MultiRegion: true });
    assert.match(mrk.KeyId!, /^mrk-[0-9a-f]{32}$/);
    assert.equal(mrk.MultiRegionConfiguration!.MultiRegionKeyType, 'PRIMARY');
  });

  test('rejects what KMS rejects at CreateKey', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ KeyUsage: 'SIGN_VERIFY' }, 'ValidationException'],
      [{ KeySpec: 'SYMMETRIC_DEFAULT', CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT' }, 'ValidationException'],
      [{ KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY' }, 'UnsupportedOperationException'],
      [{ KeySpec: 'ECC_NIST_P256' }, 'ValidationException'],
      [{ KeySpec: 'HMAC_256', KeyUsage: 'SIGN_VERIFY' }, 'ValidationException'],
      [{ KeySpec: 'NOT_A_SPEC' }, 'ValidationException'],
      [{ Origin: 'AWS_CLOUDHSM' }, 'UnsupportedOperationException'],
      [{ Policy: 'not json' }, 'MalformedPolicyDocumentException'],
      [{ Policy: '{"Statement":[]}' }, 'MalformedPolicyDocumentException'],
      [{ Policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Sid: 'x'.repeat(33_000) }] }) }, 'LimitExceededException'],
      [{ Tags: [{ TagKey: 'aws:reserved', TagValue: 'x' }] }, 'TagException'],
      [{ Description: 'x'.repeat(8193) }, 'ValidationException'],
      [{ CustomKeyStoreId: 'cks-1234567890abcdef0' }, 'ValidationException'],
    ];
    const before = (await kms.send(new ListKeysCommand({ Limit: 1000 }))).Keys!.length;
    for (const [input, expected] of cases) assert.equal(await errorName(() => kms.send(new CreateKeyCommand(input as never))), expected, JSON.stringify(input).slice(0, 80));
    assert.equal((await kms.send(new ListKeysCommand({ Limit: 1000 }))).Keys!.length, before, 'a refused CreateKey creates nothing');
  });

  test('finds keys by id, ARN, alias and alias ARN where KMS allows it', async () => {
    const k = await newKey();
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/find-me', TargetKeyId: k.KeyId }));
    for (const ref of [k.KeyId!, k.Arn!, 'alias/find-me', `arn:aws:kms:${REGION}:${ACCOUNT}:alias/find-me`]) {
      assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: ref }))).KeyMetadata!.KeyId, k.KeyId, ref);
    }
    assert.equal(await errorName(() => kms.send(new DisableKeyCommand({ KeyId: 'alias/find-me' }))), 'NotFoundException', 'management calls take no alias');
    assert.equal(await errorName(() => kms.send(new DescribeKeyCommand({ KeyId: `arn:aws:kms:us-east-2:${ACCOUNT}:key/${k.KeyId}` }))), 'NotFoundException');
    assert.equal(await errorName(() => kms.send(new DescribeKeyCommand({ KeyId: '00000000-0000-0000-0000-000000000000' }))), 'NotFoundException');
    assert.equal(await errorName(() => kms.send(new DescribeKeyCommand({ KeyId: 'not-a-key' }))), 'NotFoundException');
    // Accounts and Regions are separate.
    assert.equal(await errorName(() => t.kms(BOB_OTHER_ACCOUNT).send(new DescribeKeyCommand({ KeyId: k.KeyId }))), 'NotFoundException');
    assert.equal(await errorName(() => t.kms(undefined, 'us-west-2').send(new DescribeKeyCommand({ KeyId: k.KeyId }))), 'NotFoundException');
  });

  test('enable, disable, and the states that forbid them', async () => {
    const k = await newKey();
    await kms.send(new DisableKeyCommand({ KeyId: k.KeyId }));
    const d = (await kms.send(new DescribeKeyCommand({ KeyId: k.KeyId }))).KeyMetadata!;
    assert.equal(d.KeyState, 'Disabled');
    assert.equal(d.Enabled, false);
    assert.equal(await errorName(() => kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('x') }))), 'DisabledException');
    await kms.send(new EnableKeyCommand({ KeyId: k.KeyId }));
    assert.equal(await state(k.KeyId!), 'Enabled');
    const pending = await newKey({ Origin: 'EXTERNAL' });
    assert.equal(pending.KeyState, 'PendingImport');
    assert.equal(pending.CurrentKeyMaterialId, undefined);
    assert.equal(await errorName(() => kms.send(new EnableKeyCommand({ KeyId: pending.KeyId }))), 'KMSInvalidStateException');
  });

  test('schedules deletion with a 7-30 day window, cancels to Disabled, and deletes when the window ends', async () => {
    const k = await newKey();
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/doomed', TargetKeyId: k.KeyId }));
    for (const days of [6, 31]) assert.equal(await errorName(() => kms.send(new ScheduleKeyDeletionCommand({ KeyId: k.KeyId, PendingWindowInDays: days }))), 'ValidationException');
    assert.equal(await errorName(() => kms.send(new CancelKeyDeletionCommand({ KeyId: k.KeyId }))), 'KMSInvalidStateException');
    const s = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k.KeyId }));
    assert.equal(s.KeyState, 'PendingDeletion');
    assert.equal(s.PendingWindowInDays, 30);
    assert.equal(s.KeyId, k.Arn);
    assert.ok(Math.abs(s.DeletionDate!.getTime() - (clock.now() + 30 * DAY)) < 60_000);
    const d = (await kms.send(new DescribeKeyCommand({ KeyId: k.KeyId }))).KeyMetadata!;
    assert.equal(d.DeletionDate!.getTime(), s.DeletionDate!.getTime());
    for (const forbidden of [
      () => kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('x') })),
      () => kms.send(new EnableKeyCommand({ KeyId: k.KeyId })),
      () => kms.send(new DisableKeyCommand({ KeyId: k.KeyId })),
      () => kms.send(new TagResourceCommand({ KeyId: k.KeyId, Tags: [{ TagKey: 'a', TagValue: 'b' }] })),
      () => kms.send(new UpdateKeyDescriptionCommand({ KeyId: k.KeyId, Description: 'x' })),
      () => kms.send(new ScheduleKeyDeletionCommand({ KeyId: k.KeyId })),
      () => kms.send(new CreateAliasCommand({ AliasName: 'alias/to-pending', TargetKeyId: k.KeyId })),
    ]) {
      assert.equal(await errorName(forbidden), 'KMSInvalidStateException');
    }
    await kms.send(new GetKeyPolicyCommand({ KeyId: k.KeyId })); // still allowed
    const c = await kms.send(new CancelKeyDeletionCommand({ KeyId: k.KeyId }));
    assert.equal(c.KeyId, k.Arn);
    assert.equal(await state(k.KeyId!), 'Disabled');
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k.KeyId, PendingWindowInDays: 7 }));
    clock.advance(6 * DAY);
    assert.equal(await state(k.KeyId!), 'PendingDeletion');
    clock.advance(2 * DAY);
    assert.equal(await errorName(() => kms.send(new DescribeKeyCommand({ KeyId: k.KeyId }))), 'NotFoundException');
    assert.equal(await errorName(() => kms.send(new DescribeKeyCommand({ KeyId: 'alias/doomed' }))), 'NotFoundException');
    const aliases = (await kms.send(new ListAliasesCommand({}))).Aliases!;
    assert.ok(!aliases.some((a) => a.AliasName === 'alias/doomed'), 'aliases go with their key');
  });

  test('UpdateKeyDescription', async () => {
    const k = await newKey({ Description: 'old' });
    await kms.send(new UpdateKeyDescriptionCommand({ KeyId: k.Arn, Description: 'new' }));
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: k.KeyId }))).KeyMetadata!.Description, 'new');
  });
});

describe('aliases, tags, policy and paging', () => {
  test('aliases: names, reserved prefix, uniqueness, update and delete', async () => {
    const a = await newKey();
    const b = await newKey();
    assert.equal(await errorName(() => kms.send(new CreateAliasCommand({ AliasName: 'no-prefix', TargetKeyId: a.KeyId }))), 'ValidationException');
    assert.equal(await errorName(() => kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/s3', TargetKeyId: a.KeyId }))), 'NotAuthorizedException');
    assert.equal(await errorName(() => kms.send(new CreateAliasCommand({ AliasName: 'alias/bad name', TargetKeyId: a.KeyId }))), 'ValidationException');
    assert.equal(await errorName(() => kms.send(new CreateAliasCommand({ AliasName: 'alias/x', TargetKeyId: '00000000-0000-0000-0000-000000000000' }))), 'NotFoundException');
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: a.KeyId }));
    assert.equal(await errorName(() => kms.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: b.KeyId }))), 'AlreadyExistsException');
    assert.equal(await errorName(() => kms.send(new CreateAliasCommand({ AliasName: 'alias/app2', TargetKeyId: 'alias/app' }))), 'NotFoundException', 'a target is a key, not an alias');
    const ct = await kms.send(new EncryptCommand({ KeyId: 'alias/app', Plaintext: Buffer.from('v1') }));
    assert.equal(ct.KeyId, a.Arn);
    await kms.send(new UpdateAliasCommand({ AliasName: 'alias/app', TargetKeyId: b.Arn }));
    assert.equal((await kms.send(new EncryptCommand({ KeyId: 'alias/app', Plaintext: Buffer.from('v2') }))).KeyId, b.Arn);
    // After an alias move, old ciphertexts decrypt without KeyId or with the old key, not via the alias.
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob }))).Plaintext!).toString(), 'v1');
    assert.equal(await errorName(() => kms.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob, KeyId: 'alias/app' }))), 'IncorrectKeyException');
    const listed = (await kms.send(new ListAliasesCommand({ KeyId: b.KeyId }))).Aliases!;
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.AliasArn, `arn:aws:kms:${REGION}:${ACCOUNT}:alias/app`);
    assert.equal(listed[0]!.TargetKeyId, b.KeyId);
    assert.ok(listed[0]!.CreationDate instanceof Date && listed[0]!.LastUpdatedDate instanceof Date);
    await kms.send(new DeleteAliasCommand({ AliasName: 'alias/app' }));
    assert.equal(await errorName(() => kms.send(new DeleteAliasCommand({ AliasName: 'alias/app' }))), 'NotFoundException');
    assert.equal(await errorName(() => kms.send(new UpdateAliasCommand({ AliasName: 'alias/app', TargetKeyId: a.KeyId }))), 'NotFoundException');
  });

  test('tags: add, overwrite, remove, reserved prefix, limit, paging', async () => {
    const k = await newKey({ Tags: [{ TagKey: 'env', TagValue: 'dev' }] });
    await kms.send(new TagResourceCommand({ KeyId: k.KeyId, Tags: [{ TagKey: 'env', TagValue: 'prod' }, { TagKey: 'owner', TagValue: 'ops' }] }));
    assert.deepEqual((await kms.send(new ListResourceTagsCommand({ KeyId: k.KeyId }))).Tags, [
      { TagKey: 'env', TagValue: 'prod' },
      { TagKey: 'owner', TagValue: 'ops' },
    ]);
    await kms.send(new UntagResourceCommand({ KeyId: k.KeyId, TagKeys: ['owner', 'absent'] }));
    assert.equal(await errorName(() => kms.send(new TagResourceCommand({ KeyId: k.KeyId, Tags: [{ TagKey: 'aws:x', TagValue: 'y' }] }))), 'TagException');
    const many = Array.from({ length: 49 }, (_, i) => ({ TagKey: `k${String(i).padStart(2, '0')}`, TagValue: `${i}` }));
    await kms.send(new TagResourceCommand({ KeyId: k.KeyId, Tags: many }));
    assert.equal(await errorName(() => kms.send(new TagResourceCommand({ KeyId: k.KeyId, Tags: [{ TagKey: 'one-too-many', TagValue: '' }] }))), 'LimitExceededException');
    assert.equal(await errorName(() => kms.send(new ListResourceTagsCommand({ KeyId: k.KeyId, Limit: 51 }))), 'ValidationException');
    const seen: string[] = [];
    for await (const page of paginateListResourceTags({ client: kms, pageSize: 7 }, { KeyId: k.KeyId })) {
      assert.ok(page.Tags!.length <= 7);
      seen.push(...page.Tags!.map((x) => x.TagKey!));
    }
    assert.equal(seen.length, 50);
    assert.equal(new Set(seen).size, 50);
  });

  test('key policy: default policy, put, get, names', async () => {
    const k = await newKey();
    const p = await kms.send(new GetKeyPolicyCommand({ KeyId: k.KeyId }));
    assert.equal(p.PolicyName, 'default');
    const doc = JSON.parse(p.Policy!) as { Statement: { Principal: { AWS: string }; Action: string }[] };
    assert.equal(doc.Statement[0]!.Principal.AWS, `arn:aws:iam::${ACCOUNT}:root`);
    assert.equal(doc.Statement[0]!.Action, 'kms:*');
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/admin` }, Action: 'kms:*', Resource: '*' }] });
    // The policy names only role/admin, not the caller: KMS's lockout check refuses it unless bypassed.
    assert.equal(await errorName(() => kms.send(new PutKeyPolicyCommand({ KeyId: k.KeyId, PolicyName: 'default', Policy: policy }))), 'MalformedPolicyDocumentException');
    await kms.send(new PutKeyPolicyCommand({ KeyId: k.KeyId, PolicyName: 'default', Policy: policy, BypassPolicyLockoutSafetyCheck: true }));
    assert.equal((await kms.send(new GetKeyPolicyCommand({ KeyId: k.KeyId, PolicyName: 'default' }))).Policy, policy);
    assert.equal(await errorName(() => kms.send(new GetKeyPolicyCommand({ KeyId: k.KeyId, PolicyName: 'other' }))), 'NotFoundException');
    assert.equal(await errorName(() => kms.send(new PutKeyPolicyCommand({ KeyId: k.KeyId, Policy: '{' }))), 'MalformedPolicyDocumentException');
    assert.deepEqual((await kms.send(new ListKeyPoliciesCommand({ KeyId: k.KeyId }))).PolicyNames, ['default']);
  });

  test('ListKeys and ListAliases page with Limit/Marker and never repeat or skip', async () => {
    const mine = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const k = await newKey();
      mine.add(k.KeyId!);
      await kms.send(new CreateAliasCommand({ AliasName: `alias/page-${String(i).padStart(2, '0')}`, TargetKeyId: k.KeyId }));
    }
    const keys: string[] = [];
    let pages = 0;
    for await (const page of paginateListKeys({ client: kms, pageSize: 5 }, {})) {
      pages++;
      assert.ok(page.Keys!.length <= 5);
      for (const k of page.Keys!) {
        keys.push(k.KeyId!);
        assert.equal(k.KeyArn, `arn:aws:kms:${REGION}:${ACCOUNT}:key/${k.KeyId}`);
      }
    }
    assert.equal(new Set(keys).size, keys.length);
    for (const id of mine) assert.ok(keys.includes(id));
    assert.ok(pages >= 3);
    const aliases: string[] = [];
    for await (const page of paginateListAliases({ client: kms, pageSize: 4 }, {})) aliases.push(...page.Aliases!.map((a) => a.AliasName!));
    assert.equal(aliases.filter((a) => a.startsWith('alias/page-')).length, 12);
    assert.equal(await errorName(() => kms.send(new ListKeysCommand({ Marker: 'bm90LW91cnM' }))), 'InvalidMarkerException');
    assert.equal(await errorName(() => kms.send(new ListKeysCommand({ Limit: 0 }))), 'ValidationException');
    const first = await kms.send(new ListKeysCommand({ Limit: 1 }));
    assert.equal(first.Truncated, true);
    assert.equal(typeof first.NextMarker, 'string');
  });
});

describe('symmetric cryptography', () => {
  let key: string;
  before(async () => {
    key = (await newKey()).KeyId!;
  });

  test('Encrypt/Decrypt bind the encryption context and the key', async () => {
    const ec = { b: '2', a: '1' };
    const enc = await kms.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('secret'), EncryptionContext: ec }));
    assert.equal(enc.EncryptionAlgorithm, 'SYMMETRIC_DEFAULT');
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { a: '1', b: '2' } }));
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'secret', 'context order does not matter');
    assert.match(dec.KeyMaterialId!, /^[0-9a-f]{64}$/);
    const wrongContexts: Record<string, string>[] = [{ a: '1' }, { a: '1', b: '3' }, { A: '1', b: '2' }, {}];
    for (const wrong of wrongContexts) {
      assert.equal(await errorName(() => kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: wrong }))), 'InvalidCiphertextException', JSON.stringify(wrong));
    }
    const tampered = Buffer.from(enc.CiphertextBlob!);
    tampered[tampered.length - 1]! ^= 1;
    assert.equal(await errorName(() => kms.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: ec }))), 'InvalidCiphertextException');
    assert.equal(await errorName(() => kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from('garbage') }))), 'InvalidCiphertextException');
    const other = (await newKey()).KeyId!;
    assert.equal(await errorName(() => kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyId: other }))), 'IncorrectKeyException');
    assert.equal(await errorName(() => t.kms(BOB_OTHER_ACCOUNT).send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec }))), 'InvalidCiphertextException');
  });

  test('validates sizes and parameter combinations', async () => {
    assert.equal(await errorName(() => kms.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.alloc(4097) }))), 'ValidationException');
    assert.equal(await errorName(() => kms.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.alloc(0) }))), 'ValidationException');
    await kms.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.alloc(4096, 1) }));
    assert.equal(await errorName(() => kms.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))), 'InvalidKeyUsageException');
    assert.equal(await errorName(() => kms.send(new GenerateDataKeyCommand({ KeyId: key, KeySpec: 'AES_256', NumberOfBytes: 32 }))), 'ValidationException');
    assert.equal(await errorName(() => kms.send(new GenerateDataKeyCommand({ KeyId: key, NumberOfBytes: 1025 }))), 'ValidationException');
    assert.equal(await errorName(() => kms.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('x'), DryRun: true }))), 'DryRunOperationException');
  });

  test('GenerateDataKey and ReEncrypt', async () => {
    const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: key, KeySpec: 'AES_128' }));
    assert.equal(dk.Plaintext!.length, 16);
    const other = await newKey();
    const re = await kms.send(new ReEncryptCommand({ CiphertextBlob: dk.CiphertextBlob, DestinationKeyId: other.KeyId, DestinationEncryptionContext: { v: '2' } }));
    assert.equal(re.KeyId, other.Arn);
    assert.match(re.SourceKeyMaterialId!, /^[0-9a-f]{64}$/);
    assert.equal(re.DestinationKeyMaterialId, other.CurrentKeyMaterialId);
    const back = await kms.send(new DecryptCommand({ CiphertextBlob: re.CiphertextBlob, EncryptionContext: { v: '2' } }));
    assert.deepEqual(Buffer.from(back.Plaintext!), Buffer.from(dk.Plaintext!));
  });

  test('rotation keeps old ciphertexts decryptable', async () => {
    const k = await newKey();
    const before = await kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('before') }));
    assert.equal((await kms.send(new GetKeyRotationStatusCommand({ KeyId: k.KeyId }))).KeyRotationEnabled, false);
    await kms.send(new EnableKeyRotationCommand({ KeyId: k.KeyId, RotationPeriodInDays: 90 }));
    const s = await kms.send(new GetKeyRotationStatusCommand({ KeyId: k.KeyId }));
    assert.equal(s.RotationPeriodInDays, 90);
    assert.ok(s.NextRotationDate instanceof Date);
    assert.equal(await errorName(() => kms.send(new EnableKeyRotationCommand({ KeyId: k.KeyId, RotationPeriodInDays: 10 }))), 'ValidationException');
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: k.KeyId }));
    const rotated = (await kms.send(new DescribeKeyCommand({ KeyId: k.KeyId }))).KeyMetadata!;
    assert.notEqual(rotated.CurrentKeyMaterialId, k.CurrentKeyMaterialId);
    clock.advance(91 * DAY); // automatic rotation falls due
    const auto = (await kms.send(new DescribeKeyCommand({ KeyId: k.KeyId }))).KeyMetadata!;
    assert.notEqual(auto.CurrentKeyMaterialId, rotated.CurrentKeyMaterialId);
    const rotations = (await kms.send(new ListKeyRotationsCommand({ KeyId: k.KeyId }))).Rotations!;
    assert.deepEqual(rotations.map((r) => r.RotationType), ['ON_DEMAND', 'AUTOMATIC']);
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: before.CiphertextBlob }))).Plaintext!).toString(), 'before');
    await kms.send(new DisableKeyRotationCommand({ KeyId: k.KeyId }));
    await kms.send(new DisableKeyCommand({ KeyId: k.KeyId }));
    assert.equal(await errorName(() => kms.send(new EnableKeyRotationCommand({ KeyId: k.KeyId }))), 'DisabledException');
  });
});
