/**
 * What a BYOK manager needs from KMS beyond symmetric keys, in the simulator through the
 * real AWS SDK: every key spec Keyhold creates (RSA, ECC, HMAC) with GetPublicKey, Sign,
 * Verify, GenerateMac, VerifyMac and RSA encryption, each checked independently with
 * node:crypto; imported asymmetric and HMAC material; multi-Region keys with ReplicateKey;
 * grants; the AWS-managed `alias/aws/*` aliases; and the key policy lockout check.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createCipheriv, createHash, createHmac, createPublicKey, generateKeyPairSync, publicEncrypt, randomBytes, verify } from 'node:crypto';
import {
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateMacCommand,
  GetParametersForImportCommand,
  GetPublicKeyCommand,
  ImportKeyMaterialCommand,
  ListAliasesCommand,
  ListGrantsCommand,
  ListKeysCommand,
  ListRetirableGrantsCommand,
  PutKeyPolicyCommand,
  ReplicateKeyCommand,
  RetireGrantCommand,
  RevokeGrantCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  TagResourceCommand,
  UpdateAliasCommand,
  VerifyCommand,
  VerifyMacCommand,
  paginateListGrants,
  type KeySpec,
  type KMSClient,
  type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { ACCOUNT, ALICE, REGION, errorName, movableClock, startSimulator, type TestSimulator } from './kms-sim-support.js';

const DAY = 86_400_000;
const OTHER_REGION = 'us-east-1';
let t: TestSimulator;
let kms: KMSClient;
const clock = movableClock();

before(async () => {
  t = await startSimulator({ clock });
  kms = t.kms();
});
after(() => t.close());

const create = async (input: Record<string, unknown>, client = kms) => (await client.send(new CreateKeyCommand(input))).KeyMetadata!;

/** Wraps material with RSA_AES_KEY_WRAP_SHA_256 as AWS documents it, independently of the simulator. */
async function importMaterial(client: KMSClient, keyId: string, material: Buffer): Promise<void> {
  const p = await client.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256', WrappingKeySpec: 'RSA_4096' }));
  const pub = createPublicKey({ key: Buffer.from(p.PublicKey!), format: 'der', type: 'spki' });
  const aesKey = randomBytes(32);
  const c = createCipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('A65959A6', 'hex'));
  const wrapped = Buffer.concat([publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, aesKey), c.update(material), c.final()]);
  await client.send(new ImportKeyMaterialCommand({ KeyId: keyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }));
}

function pssOrPkcs1(algorithm: string) {
  if (algorithm.startsWith('RSASSA_PSS')) return { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(algorithm.slice(-3)) / 8 };
  if (algorithm.startsWith('RSASSA_PKCS1')) return { padding: constants.RSA_PKCS1_PADDING };
  return { dsaEncoding: 'der' as const };
}

describe('key specs', () => {
  const signing: [KeySpec, SigningAlgorithmSpec, string, number | string][] = [
    ['RSA_2048', 'RSASSA_PSS_SHA_256', 'rsa', 2048],
    ['RSA_3072', 'RSASSA_PKCS1_V1_5_SHA_384', 'rsa', 3072],
    ['RSA_4096', 'RSASSA_PSS_SHA_512', 'rsa', 4096],
    ['ECC_NIST_P256', 'ECDSA_SHA_256', 'ec', 'prime256v1'],
    ['ECC_NIST_P384', 'ECDSA_SHA_384', 'ec', 'secp384r1'],
    ['ECC_NIST_P521', 'ECDSA_SHA_512', 'ec', 'secp521r1'],
    ['ECC_SECG_P256K1', 'ECDSA_SHA_256', 'ec', 'secp256k1'],
  ];
  for (const [spec, algorithm, type, size] of signing) {
    test(`${spec} SIGN_VERIFY: public key, and signatures that node:crypto verifies`, async () => {
      const k = await create({ KeySpec: spec, KeyUsage: 'SIGN_VERIFY', Description: spec });
      assert.equal(k.KeySpec, spec);
      assert.equal(k.CustomerMasterKeySpec, spec);
      assert.equal(k.KeyUsage, 'SIGN_VERIFY');
      assert.ok(k.SigningAlgorithms!.includes(algorithm));
      assert.equal(k.EncryptionAlgorithms, undefined);
      assert.equal(k.CurrentKeyMaterialId, undefined, 'only symmetric keys name their material');
      const pk = await kms.send(new GetPublicKeyCommand({ KeyId: k.KeyId }));
      assert.equal(pk.KeySpec, spec);
      assert.equal(pk.KeyUsage, 'SIGN_VERIFY');
      const pub = createPublicKey({ key: Buffer.from(pk.PublicKey!), format: 'der', type: 'spki' });
      assert.equal(pub.asymmetricKeyType, type);
      if (type === 'rsa') assert.equal(pub.asymmetricKeyDetails!.modulusLength, size);
      else assert.equal(pub.asymmetricKeyDetails!.namedCurve, size);
      const message = Buffer.from(`signed by ${spec}`);
      const sig = await kms.send(new SignCommand({ KeyId: k.KeyId, Message: message, MessageType: 'RAW', SigningAlgorithm: algorithm }));
      assert.equal(sig.KeyId, k.Arn);
      const hash = `sha${algorithm.slice(-3)}`;
      assert.ok(verify(hash, message, { key: pub, ...pssOrPkcs1(algorithm) }, Buffer.from(sig.Signature!)), 'node:crypto verifies the signature');
      const ok = await kms.send(new VerifyCommand({ KeyId: k.KeyId, Message: message, Signature: sig.Signature, SigningAlgorithm: algorithm }));
      assert.equal(ok.SignatureValid, true);
      assert.equal(await errorName(() => kms.send(new VerifyCommand({ KeyId: k.KeyId, Message: Buffer.from('other'), Signature: sig.Signature, SigningAlgorithm: algorithm }))), 'KMSInvalidSignatureException');
      assert.equal(await errorName(() => kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('x') }))), 'InvalidKeyUsageException');
      assert.equal(await errorName(() => kms.send(new EnableKeyRotationCommand({ KeyId: k.KeyId }))), 'UnsupportedOperationException');
      const wrongAlg = type === 'rsa' ? 'ECDSA_SHA_256' : 'RSASSA_PSS_SHA_256';
      assert.equal(await errorName(() => kms.send(new SignCommand({ KeyId: k.KeyId, Message: message, SigningAlgorithm: wrongAlg }))), 'InvalidKeyUsageException');
    });
  }

  test('RSA ENCRYPT_DECRYPT: node:crypto encrypts with the public key, KMS decrypts with the KeyId', async () => {
    const k = await create({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    assert.deepEqual(k.EncryptionAlgorithms, ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']);
    const pk = await kms.send(new GetPublicKeyCommand({ KeyId: k.KeyId }));
    const pub = createPublicKey({ key: Buffer.from(pk.PublicKey!), format: 'der', type: 'spki' });
    const ct = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from('for the RSA key'));
    const pt = await kms.send(new DecryptCommand({ KeyId: k.KeyId, CiphertextBlob: ct, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    assert.equal(Buffer.from(pt.Plaintext!).toString(), 'for the RSA key');
    const viaKms = await kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('round trip'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' }));
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ KeyId: k.KeyId, CiphertextBlob: viaKms.CiphertextBlob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' }))).Plaintext!).toString(), 'round trip');
    assert.equal(await errorName(() => kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('x') }))), 'InvalidKeyUsageException', 'an RSA key needs an RSA algorithm');
    assert.equal(await errorName(() => kms.send(new DecryptCommand({ KeyId: k.KeyId, CiphertextBlob: randomBytes(256), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))), 'InvalidCiphertextException');
    assert.equal(await errorName(() => kms.send(new GenerateDataKeyCommand({ KeyId: k.KeyId, KeySpec: 'AES_256' }))), 'InvalidKeyUsageException');
    assert.equal(await errorName(() => kms.send(new SignCommand({ KeyId: k.KeyId, Message: Buffer.from('m'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' }))), 'InvalidKeyUsageException');
  });

  test('HMAC keys: GenerateMac/VerifyMac, and imported HMAC material gives the MAC node:crypto computes', async () => {
    for (const [spec, algorithm] of [['HMAC_224', 'HMAC_SHA_224'], ['HMAC_256', 'HMAC_SHA_256'], ['HMAC_384', 'HMAC_SHA_384'], ['HMAC_512', 'HMAC_SHA_512']] as const) {
      const k = await create({ KeySpec: spec, KeyUsage: 'GENERATE_VERIFY_MAC' });
      assert.deepEqual(k.MacAlgorithms, [algorithm]);
      const mac = await kms.send(new GenerateMacCommand({ KeyId: k.KeyId, Message: Buffer.from('m'), MacAlgorithm: algorithm }));
      assert.equal((await kms.send(new VerifyMacCommand({ KeyId: k.KeyId, Message: Buffer.from('m'), MacAlgorithm: algorithm, Mac: mac.Mac }))).MacValid, true);
      assert.equal(await errorName(() => kms.send(new VerifyMacCommand({ KeyId: k.KeyId, Message: Buffer.from('n'), MacAlgorithm: algorithm, Mac: mac.Mac }))), 'KMSInvalidMacException');
      assert.equal(await errorName(() => kms.send(new GetPublicKeyCommand({ KeyId: k.KeyId }))), 'UnsupportedOperationException');
    }
    const ext = await create({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC', Origin: 'EXTERNAL' });
    assert.equal(ext.KeyState, 'PendingImport');
    await assert.rejects(importMaterial(kms, ext.KeyId!, randomBytes(31)), { name: 'IncorrectKeyMaterialException' });
    const material = randomBytes(32);
    await importMaterial(kms, ext.KeyId!, material);
    const mac = await kms.send(new GenerateMacCommand({ KeyId: ext.KeyId, Message: Buffer.from('payload'), MacAlgorithm: 'HMAC_SHA_256' }));
    assert.deepEqual(Buffer.from(mac.Mac!), createHmac('sha256', material).update('payload').digest());
    const hmac = await create({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    assert.equal(await errorName(() => kms.send(new GenerateMacCommand({ KeyId: hmac.KeyId, Message: Buffer.from('m'), MacAlgorithm: 'HMAC_SHA_512' }))), 'InvalidKeyUsageException');
    assert.equal(await errorName(() => kms.send(new EncryptCommand({ KeyId: hmac.KeyId, Plaintext: Buffer.from('x') }))), 'InvalidKeyUsageException');
  });

  test('imported RSA and ECC private keys sign; a key of the wrong spec is refused', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const k = await create({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY', Origin: 'EXTERNAL' });
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    await assert.rejects(importMaterial(kms, k.KeyId!, ec.privateKey.export({ type: 'pkcs8', format: 'der' })), { name: 'IncorrectKeyMaterialException' });
    await importMaterial(kms, k.KeyId!, rsa.privateKey.export({ type: 'pkcs8', format: 'der' }));
    const sig = await kms.send(new SignCommand({ KeyId: k.KeyId, Message: Buffer.from('byok'), SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' }));
    assert.ok(verify('sha256', Buffer.from('byok'), rsa.publicKey, Buffer.from(sig.Signature!)), 'signed with the imported private key');
    const p = await create({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', Origin: 'EXTERNAL' });
    await importMaterial(kms, p.KeyId!, ec.privateKey.export({ type: 'pkcs8', format: 'der' }));
    const pk = await kms.send(new GetPublicKeyCommand({ KeyId: p.KeyId }));
    assert.deepEqual(Buffer.from(pk.PublicKey!), ec.publicKey.export({ type: 'spki', format: 'der' }));
  });

  test('aliases move only between keys of the same type and usage', async () => {
    const a = await create({});
    const b = await create({});
    const h = await create({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/typed', TargetKeyId: a.KeyId }));
    assert.equal(await errorName(() => kms.send(new UpdateAliasCommand({ AliasName: 'alias/typed', TargetKeyId: h.KeyId }))), 'ValidationException');
    await kms.send(new UpdateAliasCommand({ AliasName: 'alias/typed', TargetKeyId: b.KeyId }));
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: 'alias/typed' }))).KeyMetadata!.KeyId, b.KeyId);
  });
});

describe('multi-Region keys', () => {
  test('ReplicateKey: same id and material in another Region; the replica decrypts what the primary encrypted', async () => {
    const primary = await create({ MultiRegion: true, Description: 'mrk', Tags: [{ TagKey: 'a', TagValue: 'b' }] });
    const ct = await kms.send(new EncryptCommand({ KeyId: primary.KeyId, Plaintext: Buffer.from('everywhere') }));
    const r = await kms.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: OTHER_REGION, Tags: [{ TagKey: 'replica', TagValue: 'yes' }] }));
    const replica = r.ReplicaKeyMetadata!;
    assert.equal(replica.KeyId, primary.KeyId);
    assert.equal(replica.Arn, `arn:aws:kms:${OTHER_REGION}:${ACCOUNT}:key/${primary.KeyId}`);
    assert.equal(replica.MultiRegionConfiguration!.MultiRegionKeyType, 'REPLICA');
    assert.equal(replica.MultiRegionConfiguration!.PrimaryKey!.Region, REGION);
    assert.deepEqual(r.ReplicaTags, [{ TagKey: 'replica', TagValue: 'yes' }]);
    const east = t.kms(ALICE, OTHER_REGION);
    const pt = await east.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob }));
    assert.equal(Buffer.from(pt.Plaintext!).toString(), 'everywhere');
    assert.equal(pt.KeyId, replica.Arn);
    const described = (await kms.send(new DescribeKeyCommand({ KeyId: primary.KeyId }))).KeyMetadata!;
    assert.equal(described.MultiRegionConfiguration!.MultiRegionKeyType, 'PRIMARY');
    assert.deepEqual(described.MultiRegionConfiguration!.ReplicaKeys, [{ Arn: replica.Arn, Region: OTHER_REGION }]);
    assert.equal(await errorName(() => kms.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: OTHER_REGION }))), 'AlreadyExistsException');
    assert.equal(await errorName(() => east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'eu-central-1' }))), 'UnsupportedOperationException', 'a replica is not replicated');
    const single = await create({});
    assert.equal(await errorName(() => kms.send(new ReplicateKeyCommand({ KeyId: single.KeyId, ReplicaRegion: OTHER_REGION }))), 'UnsupportedOperationException');
    assert.equal(await errorName(() => kms.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: REGION }))), 'ValidationException');
  });

  test('a replica of an imported key waits for the same material', async () => {
    const primary = await create({ MultiRegion: true, Origin: 'EXTERNAL' });
    const material = randomBytes(32);
    await importMaterial(kms, primary.KeyId!, material);
    const ct = await kms.send(new EncryptCommand({ KeyId: primary.KeyId, Plaintext: Buffer.from('imported everywhere') }));
    const r = await kms.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: OTHER_REGION }));
    assert.equal(r.ReplicaKeyMetadata!.KeyState, 'PendingImport');
    const east = t.kms(ALICE, OTHER_REGION);
    assert.equal(await errorName(() => east.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob }))), 'KMSInvalidStateException');
    await assert.rejects(importMaterial(east, primary.KeyId!, randomBytes(32)), { name: 'IncorrectKeyMaterialException' });
    await importMaterial(east, primary.KeyId!, material);
    assert.equal(Buffer.from((await east.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob }))).Plaintext!).toString(), 'imported everywhere');
  });
});

describe('grants', () => {
  test('CreateGrant, ListGrants (paged, filtered), ListRetirableGrants, RetireGrant, RevokeGrant; grants go with their key', async () => {
    const k = await create({});
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const g = await kms.send(new CreateGrantCommand({ KeyId: k.KeyId, GranteePrincipal: `arn:aws:iam::${ACCOUNT}:role/app-${i}`, Operations: ['Encrypt', 'Decrypt'], RetiringPrincipal: `arn:aws:iam::${ACCOUNT}:role/ops`, Name: `g${i}` }));
      assert.match(g.GrantId!, /^[0-9a-f]{64}$/);
      ids.push(g.GrantId!);
    }
    const again = await kms.send(new CreateGrantCommand({ KeyId: k.KeyId, GranteePrincipal: `arn:aws:iam::${ACCOUNT}:role/app-0`, Operations: ['Encrypt', 'Decrypt'], RetiringPrincipal: `arn:aws:iam::${ACCOUNT}:role/ops`, Name: 'g0' }));
    assert.equal(again.GrantId, ids[0], 'a retried CreateGrant with the same name returns the same grant');
    const seen: string[] = [];
    for await (const page of paginateListGrants({ client: kms, pageSize: 3 }, { KeyId: k.KeyId })) {
      assert.ok(page.Grants!.length <= 3);
      for (const g of page.Grants!) {
        seen.push(g.GrantId!);
        assert.equal(g.KeyId, k.Arn);
        assert.equal(g.IssuingAccount, `arn:aws:iam::${ACCOUNT}:root`);
        assert.deepEqual(g.Operations, ['Encrypt', 'Decrypt']);
      }
    }
    assert.deepEqual(seen.sort(), [...ids].sort());
    const one = await kms.send(new ListGrantsCommand({ KeyId: k.KeyId, GranteePrincipal: `arn:aws:iam::${ACCOUNT}:role/app-3` }));
    assert.deepEqual(one.Grants!.map((g) => g.Name), ['g3']);
    const retirable = await kms.send(new ListRetirableGrantsCommand({ RetiringPrincipal: `arn:aws:iam::${ACCOUNT}:role/ops`, Limit: 100 }));
    assert.ok(ids.every((id) => retirable.Grants!.some((g) => g.GrantId === id)));
    await kms.send(new RevokeGrantCommand({ KeyId: k.KeyId, GrantId: ids[1] }));
    assert.equal(await errorName(() => kms.send(new RevokeGrantCommand({ KeyId: k.KeyId, GrantId: ids[1] }))), 'NotFoundException');
    assert.equal(await errorName(() => kms.send(new RevokeGrantCommand({ KeyId: k.KeyId, GrantId: 'not-a-grant' }))), 'InvalidGrantIdException');
    await kms.send(new RetireGrantCommand({ KeyId: k.KeyId, GrantId: ids[2] }));
    assert.equal((await kms.send(new ListGrantsCommand({ KeyId: k.KeyId }))).Grants!.length, 5);
    assert.equal(await errorName(() => kms.send(new CreateGrantCommand({ KeyId: k.KeyId, GranteePrincipal: 'arn:aws:iam::111122223333:role/x', Operations: ['Sign'] }))), 'ValidationException');
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k.KeyId, PendingWindowInDays: 7 }));
    assert.equal(await errorName(() => kms.send(new CreateGrantCommand({ KeyId: k.KeyId, GranteePrincipal: 'arn:aws:iam::111122223333:role/x', Operations: ['Encrypt'] }))), 'KMSInvalidStateException');
    clock.advance(8 * DAY);
    const after = await kms.send(new ListRetirableGrantsCommand({ RetiringPrincipal: `arn:aws:iam::${ACCOUNT}:role/ops`, Limit: 100 }));
    assert.ok(!after.Grants!.some((g) => ids.includes(g.GrantId!)), 'the grants went with their key');
  });
});

describe('AWS-managed keys', () => {
  test('alias/aws/* aliases are listed, some without a target; DescribeKey on one creates its read-only AWS-managed key', async () => {
    const client = t.kms(ALICE, 'ap-southeast-2');
    const aliases = (await client.send(new ListAliasesCommand({ Limit: 100 }))).Aliases!;
    const s3 = aliases.find((a) => a.AliasName === 'alias/aws/s3');
    assert.ok(s3, 'alias/aws/s3 is listed');
    assert.equal(s3.TargetKeyId, undefined);
    assert.equal(s3.AliasArn, `arn:aws:kms:ap-southeast-2:${ACCOUNT}:alias/aws/s3`);
    assert.equal(await errorName(() => client.send(new EncryptCommand({ KeyId: 'alias/aws/ebs', Plaintext: Buffer.from('x') }))), 'NotFoundException');
    const before = (await client.send(new ListKeysCommand({}))).Keys!.length;
    const k = (await client.send(new DescribeKeyCommand({ KeyId: 'alias/aws/s3' }))).KeyMetadata!;
    assert.equal(k.KeyManager, 'AWS');
    assert.equal(k.Origin, 'AWS_KMS');
    assert.equal((await client.send(new ListKeysCommand({}))).Keys!.length, before + 1);
    const listed = (await client.send(new ListAliasesCommand({ Limit: 100 }))).Aliases!;
    assert.equal(listed.find((a) => a.AliasName === 'alias/aws/s3')!.TargetKeyId, k.KeyId);
    assert.equal(listed.find((a) => a.AliasName === 'alias/aws/ebs')!.TargetKeyId, undefined, 'the others still have no key');
    assert.equal((await client.send(new DescribeKeyCommand({ KeyId: 'alias/aws/s3' }))).KeyMetadata!.KeyId, k.KeyId, 'a second DescribeKey creates nothing');
    const ct = await client.send(new EncryptCommand({ KeyId: 'alias/aws/s3', Plaintext: Buffer.from('aws managed') }));
    assert.equal(Buffer.from((await client.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob }))).Plaintext!).toString(), 'aws managed');
    for (const change of [
      () => client.send(new DisableKeyCommand({ KeyId: k.KeyId })),
      () => client.send(new ScheduleKeyDeletionCommand({ KeyId: k.KeyId })),
      () => client.send(new TagResourceCommand({ KeyId: k.KeyId, Tags: [{ TagKey: 'a', TagValue: 'b' }] })),
      () => client.send(new PutKeyPolicyCommand({ KeyId: k.KeyId, Policy: '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}' })),
    ]) {
      assert.equal(await errorName(change), 'AccessDeniedException');
    }
    assert.equal((await client.send(new DescribeKeyCommand({ KeyId: k.KeyId }))).KeyMetadata!.KeyState, 'Enabled');
  });
});

describe('key policy lockout check', () => {
  const doc = (statements: unknown[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
  const allow = (principal: unknown, action: unknown = 'kms:*') => ({ Effect: 'Allow', Principal: principal, Action: action, Resource: '*' });

  test('a policy that would lock the caller out is refused unless bypassed', async () => {
    const k = await create({});
    const refused = [
      doc([allow({ AWS: `arn:aws:iam::${ACCOUNT}:role/someone-else` })]),
      doc([allow({ AWS: ALICE.principalArn }, ['kms:Encrypt', 'kms:Decrypt'])]),
      doc([allow({ AWS: ALICE.principalArn }), { Effect: 'Deny', Principal: '*', Action: 'kms:Put*', Resource: '*' }]),
      doc([{ ...allow({ AWS: ALICE.principalArn }), Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } } }]),
      doc([{ Effect: 'Allow', Principal: { AWS: ALICE.principalArn }, Action: 'kms:*' }]), // no Resource: ineffective
    ];
    for (const policy of refused) {
      assert.equal(await errorName(() => kms.send(new PutKeyPolicyCommand({ KeyId: k.KeyId, Policy: policy }))), 'MalformedPolicyDocumentException', policy);
    }
    assert.equal(await errorName(() => kms.send(new CreateKeyCommand({ Policy: refused[0] }))), 'MalformedPolicyDocumentException');
    for (const policy of [
      doc([allow({ AWS: ALICE.principalArn }, 'kms:PutKeyPolicy')]),
      doc([allow({ AWS: `arn:aws:iam::${ACCOUNT}:root` })]),
      doc([allow({ AWS: ACCOUNT }, 'kms:Put*')]),
      doc([allow('*', '*')]),
      doc([{ Effect: 'Allow', Principal: { AWS: ALICE.principalArn }, NotAction: 'kms:ScheduleKeyDeletion', Resource: '*' }]),
    ]) {
      await kms.send(new PutKeyPolicyCommand({ KeyId: k.KeyId, Policy: policy }));
    }
    await kms.send(new PutKeyPolicyCommand({ KeyId: k.KeyId, Policy: refused[0], BypassPolicyLockoutSafetyCheck: true }));
    await create({ Policy: refused[0], BypassPolicyLockoutSafetyCheck: true });
  });
});

test('the digest of a RAW message is what KMS signs (sanity for the ECDSA path)', async () => {
  const k = await create({ KeySpec: 'ECC_NIST_P384', KeyUsage: 'SIGN_VERIFY' });
  const pub = createPublicKey({ key: Buffer.from((await kms.send(new GetPublicKeyCommand({ KeyId: k.KeyId }))).PublicKey!), format: 'der', type: 'spki' });
  const message = randomBytes(4096);
  const sig = await kms.send(new SignCommand({ KeyId: k.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_384' }));
  assert.ok(verify('sha384', message, pub, Buffer.from(sig.Signature!)));
  assert.ok(!verify('sha384', createHash('sha384').update(message).digest(), pub, Buffer.from(sig.Signature!)));
  assert.equal(await errorName(() => kms.send(new SignCommand({ KeyId: k.KeyId, Message: randomBytes(48), MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_384' }))), 'UnsupportedOperationException');
});
