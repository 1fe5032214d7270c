/**
 * BYOK import into EXTERNAL-origin keys: wrapping with RSA-OAEP and RSA + AES key wrap,
 * import tokens, the expiration model, deletion and re-import of the same material, and
 * on-demand rotation to new imported material.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createCipheriv, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import {
  CancelKeyDeletionCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  ListKeyRotationsCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  type GetParametersForImportCommandOutput,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { errorName, movableClock, startSimulator, type TestSimulator } from './kms-sim-support.js';

const DAY = 86_400_000;
let t: TestSimulator;
let kms: KMSClient;
const clock = movableClock();

before(async () => {
  t = await startSimulator({ clock });
  kms = t.kms();
});
after(() => t.close());

type Algorithm = 'RSAES_OAEP_SHA_256' | 'RSAES_OAEP_SHA_1' | 'RSA_AES_KEY_WRAP_SHA_256' | 'RSA_AES_KEY_WRAP_SHA_1';

async function params(keyId: string, algorithm: Algorithm = 'RSAES_OAEP_SHA_256', spec: 'RSA_2048' | 'RSA_3072' | 'RSA_4096' = 'RSA_2048') {
  return kms.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: algorithm, WrappingKeySpec: spec }));
}

/** Wraps material the way AWS documents it for each algorithm (independently of the simulator). */
function wrap(p: GetParametersForImportCommandOutput, material: Buffer, algorithm: Algorithm = 'RSAES_OAEP_SHA_256'): Buffer {
  const key = createPublicKey({ key: Buffer.from(p.PublicKey!), format: 'der', type: 'spki' });
  const oaepHash = algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256';
  if (algorithm.startsWith('RSAES_OAEP')) return publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, material);
  const aesKey = randomBytes(32);
  const wrappedKey = publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, aesKey);
  const c = createCipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('A65959A6', 'hex'));
  return Buffer.concat([wrappedKey, c.update(material), c.final()]);
}

async function importInto(keyId: string, material: Buffer, extra: Record<string, unknown> = { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }, algorithm: Algorithm = 'RSAES_OAEP_SHA_256') {
  const p = await params(keyId, algorithm);
  return kms.send(new ImportKeyMaterialCommand({ KeyId: keyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrap(p, material, algorithm), ...extra }));
}

const describe_ = async (keyId: string) => (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
const newExternalKey = async () => (await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata!;

describe('import parameters', () => {
  test('returns an RSA public key, a token and a 24-hour validity for EXTERNAL keys only', async () => {
    const k = await newExternalKey();
    assert.equal(k.KeyState, 'PendingImport');
    assert.equal(k.ExpirationModel, undefined);
    const p = await params(k.KeyId!, 'RSAES_OAEP_SHA_256', 'RSA_3072');
    assert.equal(p.KeyId, k.Arn);
    const pub = createPublicKey({ key: Buffer.from(p.PublicKey!), format: 'der', type: 'spki' });
    assert.equal(pub.asymmetricKeyType, 'rsa');
    assert.equal(pub.asymmetricKeyDetails!.modulusLength, 3072);
    assert.ok(p.ImportToken!.length > 0);
    assert.ok(Math.abs(p.ParametersValidTo!.getTime() - (clock.now() + DAY)) < 60_000);
    const native = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    assert.equal(await errorName(() => params(native.KeyId!)), 'UnsupportedOperationException');
    assert.equal(await errorName(() => kms.send(new GetParametersForImportCommand({ KeyId: k.KeyId, WrappingAlgorithm: 'RSAES_PKCS1_V1_5', WrappingKeySpec: 'RSA_2048' }))), 'UnsupportedOperationException');
    assert.equal(await errorName(() => kms.send(new GetParametersForImportCommand({ KeyId: k.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_1024' as never }))), 'ValidationException');
  });

  test('is rate-limited when configured like KMS (one call per 4 s)', async () => {
    const limited = await startSimulator({ clock, importParametersIntervalMs: 4000 });
    try {
      const client = limited.kms();
      const k = (await client.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata!;
      const call = () => client.send(new GetParametersForImportCommand({ KeyId: k.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
      await call();
      assert.equal(await errorName(call), 'ThrottlingException');
      clock.advance(4000);
      await call();
    } finally {
      await limited.close();
    }
  });
});

describe('ImportKeyMaterial', () => {
  for (const algorithm of ['RSAES_OAEP_SHA_256', 'RSAES_OAEP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1'] as const) {
    test(`imports 32 bytes wrapped with ${algorithm}; the key then encrypts with that material`, async () => {
      const k = await newExternalKey();
      const material = randomBytes(32);
      const r = await importInto(k.KeyId!, material, { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }, algorithm);
      assert.equal(r.KeyId, k.Arn);
      assert.match(r.KeyMaterialId!, /^[0-9a-f]{64}$/);
      const d = await describe_(k.KeyId!);
      assert.equal(d.KeyState, 'Enabled');
      assert.equal(d.ExpirationModel, 'KEY_MATERIAL_DOES_NOT_EXPIRE');
      assert.equal(d.ValidTo, undefined);
      assert.equal(d.CurrentKeyMaterialId, r.KeyMaterialId);
      const enc = await kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('byok') }));
      assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))).Plaintext!).toString(), 'byok');
    });
  }

  test('refuses bad tokens, bad wrapping, wrong sizes and bad expiry settings, changing nothing', async () => {
    const k = await newExternalKey();
    const other = await newExternalKey();
    const material = randomBytes(32);
    const p = await params(k.KeyId!);
    const wrapped = wrap(p, material);
    const attempt = (input: Record<string, unknown>) =>
      kms.send(new ImportKeyMaterialCommand({ KeyId: k.KeyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ...input }));
    const otherParams = await params(other.KeyId!);
    assert.equal(await errorName(() => attempt({ ImportToken: otherParams.ImportToken })), 'InvalidImportTokenException');
    assert.equal(await errorName(() => attempt({ ImportToken: randomBytes(48) })), 'InvalidImportTokenException');
    assert.equal(await errorName(() => attempt({ EncryptedKeyMaterial: randomBytes(256) })), 'InvalidCiphertextException');
    assert.equal(await errorName(() => attempt({ EncryptedKeyMaterial: wrap(p, randomBytes(16)) })), 'IncorrectKeyMaterialException');
    assert.equal(await errorName(() => attempt({ ExpirationModel: undefined })), 'ValidationException', 'EXPIRES is the default and needs ValidTo');
    assert.equal(await errorName(() => attempt({ ValidTo: new Date(clock.now() + DAY) })), 'ValidationException', 'no ValidTo with DOES_NOT_EXPIRE');
    assert.equal(await errorName(() => attempt({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(clock.now() + 366 * DAY) })), 'ValidationException');
    assert.equal(await errorName(() => attempt({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(clock.now() - 1000) })), 'ValidationException');
    assert.equal((await describe_(k.KeyId!)).KeyState, 'PendingImport');
    await attempt({});
    assert.equal(await errorName(() => attempt({})), 'InvalidImportTokenException', 'a token is single-use');
    const late = await params(k.KeyId!);
    clock.advance(DAY + 1000);
    assert.equal(
      await errorName(() => kms.send(new ImportKeyMaterialCommand({ KeyId: k.KeyId, ImportToken: late.ImportToken, EncryptedKeyMaterial: wrap(late, material), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }))),
      'ExpiredImportTokenException',
    );
  });

  test('deleting material is immediate and reversible with the same material only', async () => {
    const k = await newExternalKey();
    const material = randomBytes(32);
    const first = await importInto(k.KeyId!, material);
    const enc = await kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('kept'), EncryptionContext: { a: 'b' } }));
    const del = await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: k.KeyId }));
    assert.equal(del.KeyMaterialId, first.KeyMaterialId);
    assert.equal((await describe_(k.KeyId!)).KeyState, 'PendingImport');
    assert.equal(await errorName(() => kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { a: 'b' } }))), 'KMSInvalidStateException');
    assert.equal(await errorName(() => kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('x') }))), 'KMSInvalidStateException');
    assert.equal(await errorName(() => importInto(k.KeyId!, randomBytes(32))), 'IncorrectKeyMaterialException');
    const again = await importInto(k.KeyId!, material);
    assert.equal(again.KeyMaterialId, first.KeyMaterialId);
    assert.equal((await describe_(k.KeyId!)).KeyState, 'Enabled');
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { a: 'b' } }))).Plaintext!).toString(), 'kept');
    const native = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    assert.equal(await errorName(() => kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: native.KeyId }))), 'UnsupportedOperationException');
  });

  test('material with an expiry date expires to PendingImport, and re-import can change the model', async () => {
    const k = await newExternalKey();
    const material = randomBytes(32);
    const validTo = new Date(clock.now() + 10 * DAY);
    await importInto(k.KeyId!, material, { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: validTo });
    const d = await describe_(k.KeyId!);
    assert.equal(d.ExpirationModel, 'KEY_MATERIAL_EXPIRES');
    assert.equal(Math.round(d.ValidTo!.getTime() / 1000), Math.round(validTo.getTime() / 1000));
    clock.advance(11 * DAY);
    assert.equal((await describe_(k.KeyId!)).KeyState, 'PendingImport');
    await importInto(k.KeyId!, material, { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' });
    const after = await describe_(k.KeyId!);
    assert.equal(after.KeyState, 'Enabled');
    assert.equal(after.ExpirationModel, 'KEY_MATERIAL_DOES_NOT_EXPIRE');
    assert.equal(after.ValidTo, undefined);
  });

  test('states around import: Disabled keys accept re-import, pending deletion refuses it, cancel returns to PendingImport without material', async () => {
    const k = await newExternalKey();
    const material = randomBytes(32);
    await importInto(k.KeyId!, material);
    await kms.send(new DisableKeyCommand({ KeyId: k.KeyId }));
    await importInto(k.KeyId!, material);
    assert.equal((await describe_(k.KeyId!)).KeyState, 'Disabled');
    const empty = await newExternalKey();
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: empty.KeyId, PendingWindowInDays: 7 }));
    assert.equal(await errorName(() => params(empty.KeyId!)), 'KMSInvalidStateException');
    await kms.send(new CancelKeyDeletionCommand({ KeyId: empty.KeyId }));
    assert.equal((await describe_(empty.KeyId!)).KeyState, 'PendingImport');
    assert.equal(await errorName(() => kms.send(new EnableKeyRotationCommand({ KeyId: k.KeyId }))), 'UnsupportedOperationException');
  });

  test('rotates on demand to new imported material; old ciphertexts still decrypt', async () => {
    const k = await newExternalKey();
    const first = await importInto(k.KeyId!, randomBytes(32));
    const old = await kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('old') }));
    assert.equal(await errorName(() => kms.send(new RotateKeyOnDemandCommand({ KeyId: k.KeyId }))), 'UnsupportedOperationException', 'nothing to rotate to yet');
    const second = await importInto(k.KeyId!, randomBytes(32), { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ImportType: 'NEW_KEY_MATERIAL', KeyMaterialDescription: 'second' });
    assert.notEqual(second.KeyMaterialId, first.KeyMaterialId);
    let rotations = (await kms.send(new ListKeyRotationsCommand({ KeyId: k.KeyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }))).Rotations!;
    assert.deepEqual(rotations.map((r) => [r.KeyMaterialId, r.KeyMaterialState, r.ImportState]), [
      [first.KeyMaterialId, 'CURRENT', 'IMPORTED'],
      [second.KeyMaterialId, 'PENDING_ROTATION', 'IMPORTED'],
    ]);
    assert.equal((await describe_(k.KeyId!)).CurrentKeyMaterialId, first.KeyMaterialId);
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: k.KeyId }));
    assert.equal((await describe_(k.KeyId!)).CurrentKeyMaterialId, second.KeyMaterialId);
    rotations = (await kms.send(new ListKeyRotationsCommand({ KeyId: k.KeyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }))).Rotations!;
    assert.deepEqual(rotations.map((r) => r.KeyMaterialState), ['NON_CURRENT', 'CURRENT']);
    const fresh = await kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('new') }));
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: old.CiphertextBlob }))).Plaintext!).toString(), 'old');
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: fresh.CiphertextBlob }));
    assert.equal(dec.KeyMaterialId, second.KeyMaterialId);
    // Every associated material must be present for the key to be usable.
    await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: k.KeyId, KeyMaterialId: first.KeyMaterialId }));
    assert.equal((await describe_(k.KeyId!)).KeyState, 'PendingImport');
  });
});
