/**
 * End to end: AWS SDK → KMS simulator → Keyhold over HTTPS, the way a user runs XKS.
 * Key store from Keyhold's exported configuration, connect, KMS keys for Keyhold keys,
 * data keys, ReEncrypt between two XKS keys, custody (disable/enable in Keyhold), the
 * encryption context, rotation in Keyhold, and disabling a whole key store in Keyhold.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand, ReEncryptCommand, type KeyMetadata } from '@aws-sdk/client-kms';
import { errorName, eventually } from './kms-sim-support.js';
import { connect, retryWhile, createStoreFromConfig, createXksKey, describeStore, failure, keyholdCallsFor, keyholdKey, keyholdKeyStore, keyholdXksLog, startE2E, type E2E } from './e2e-kms-support.js';

let e: E2E;
let storeId: string;
let orders: KeyMetadata;
let invoices: KeyMetadata;

before(async () => {
  e = await startE2E({ healthCheckIntervalMs: 200 });
});
after(() => e?.close());

const decrypt = (blob: Uint8Array | undefined, ec?: Record<string, string>) => e.kms.send(new DecryptCommand({ CiphertextBlob: blob, ...(ec ? { EncryptionContext: ec } : {}) }));

test('creates the key store from Keyhold exported configuration, connects, and links KMS keys to Keyhold keys', async () => {
  const config = await keyholdKeyStore(e.keyhold, 'payments');
  assert.equal(config.XksProxyUriPath, '/payments/kms/xks/v1');
  await keyholdKey(e.keyhold, 'orders-key', 'payments');
  await keyholdKey(e.keyhold, 'invoices-key', 'payments');
  // The running server learns about new key stores and keys within a second.
  storeId = await retryWhile('XksProxyInvalidConfigurationException', () => createStoreFromConfig(e.kms, e.keyhold, 'keyhold-payments', config));
  assert.equal((await describeStore(e.kms, storeId)).ConnectionState, 'DISCONNECTED');
  const s = await connect(e.kms, storeId);
  assert.equal(s.ConnectionState, 'CONNECTED', s.ConnectionErrorCode);
  orders = await retryWhile('XksKeyNotFoundException', () => createXksKey(e.kms, storeId, 'orders-key'));
  invoices = await retryWhile('XksKeyNotFoundException', () => createXksKey(e.kms, storeId, 'invoices-key'));
  assert.equal(orders.KeyState, 'Enabled');
  assert.deepEqual(orders.XksKeyConfiguration, { Id: 'orders-key' });
  assert.equal(await errorName(() => createXksKey(e.kms, storeId, 'orders-key')), 'XksKeyAlreadyInUseException');
  assert.equal(await errorName(() => createXksKey(e.kms, storeId, 'no-such-key')), 'XksKeyNotFoundException');
  // KMS probes health when the store is created, then when it connects. Refused probes
  // (while the server had not yet learned the new key store) and the periodic checks that
  // begin once connected may sit between them in the log: the order of the ok ones counts.
  const ops = await eventually(() => {
    const ok = keyholdXksLog(e.keyhold)
      .filter((l) => l.operation === 'health' && l.outcome === 'ok')
      .map((l) => String(l.kmsOperation));
    return ok.includes('ConnectCustomKeyStore') ? ok : undefined;
  }, 'the health probes in the Keyhold log');
  const created = ops.indexOf('CreateCustomKeyStore');
  assert.ok(created >= 0, `a CreateCustomKeyStore probe succeeded: ${ops.join(', ')}`);
  assert.ok(created < ops.indexOf('ConnectCustomKeyStore'), `created before connected: ${ops.join(', ')}`);
});

test('GenerateDataKey, Decrypt and ReEncrypt between two XKS keys; each kmsRequestId is in the Keyhold log', async () => {
  const ec = { app: 'orders', env: 'test' };
  const dk = await e.kms.send(new GenerateDataKeyCommand({ KeyId: orders.KeyId, KeySpec: 'AES_256', EncryptionContext: ec }));
  assert.equal(dk.Plaintext!.length, 32);
  const dec = await decrypt(dk.CiphertextBlob, ec);
  assert.deepEqual(Buffer.from(dec.Plaintext!), Buffer.from(dk.Plaintext!));
  assert.equal(dec.KeyId, orders.Arn);
  const re = await e.kms.send(new ReEncryptCommand({ CiphertextBlob: dk.CiphertextBlob, SourceEncryptionContext: ec, DestinationKeyId: invoices.Arn, DestinationEncryptionContext: { app: 'invoices' } }));
  assert.equal(re.SourceKeyId, orders.Arn);
  assert.equal(re.KeyId, invoices.Arn);
  const back = await decrypt(re.CiphertextBlob, { app: 'invoices' });
  assert.deepEqual(Buffer.from(back.Plaintext!), Buffer.from(dk.Plaintext!));
  assert.equal(back.KeyId, invoices.Arn);

  const byRequest = async (id: string | undefined, n: number) => (await keyholdCallsFor(e.keyhold, id, n)).map((l) => [l.operation, l.kmsOperation, l.key, l.outcome]);
  assert.deepEqual(await byRequest(dk.$metadata.requestId, 1), [['encrypt', 'GenerateDataKey', 'orders-key', 'ok']]);
  assert.deepEqual(await byRequest(re.$metadata.requestId, 2), [
    ['decrypt', 'ReEncrypt', 'orders-key', 'ok'],
    ['encrypt', 'ReEncrypt', 'invoices-key', 'ok'],
  ]);
  const simEntry = e.t.sim.requestLog.byRequestId(re.$metadata.requestId!)!;
  assert.deepEqual(simEntry.proxyCalls.map((c) => [c.xksOperation, c.outcome]), [['Decrypt', 'ok'], ['Encrypt', 'ok']]);
  assert.ok(!e.keyhold.output().includes(Buffer.from(dk.Plaintext!).toString('base64')), 'Keyhold never logs the data key');
});

test('disabling the key in Keyhold makes Decrypt fail with KMSInvalidStateException; enabling it restores it', async () => {
  const enc = await e.kms.send(new EncryptCommand({ KeyId: orders.Arn, Plaintext: Buffer.from('custody proof') }));
  await e.keyhold.json(['key', 'disable', 'orders-key']);
  await eventually(async () => ((await errorName(() => decrypt(enc.CiphertextBlob))) === 'KMSInvalidStateException' ? true : undefined), 'Decrypt to fail after the Keyhold key is disabled');
  assert.equal((await e.kms.send(new DescribeKeyCommand({ KeyId: orders.KeyId }))).KeyMetadata!.KeyState, 'Enabled', 'the KMS key state does not change');
  const refused = await failure(() => e.kms.send(new EncryptCommand({ KeyId: orders.KeyId, Plaintext: Buffer.from('x') })));
  assert.equal(refused.name, 'KMSInvalidStateException');
  assert.equal((await keyholdCallsFor(e.keyhold, refused.requestId))[0]!.outcome, 'InvalidStateException');
  await e.keyhold.json(['key', 'enable', 'orders-key']);
  const dec = await eventually(() => decrypt(enc.CiphertextBlob), 'Decrypt to work again after the Keyhold key is enabled');
  assert.equal(Buffer.from(dec.Plaintext!).toString(), 'custody proof');
});

test('a different encryption context fails; rotating the Keyhold key keeps old ciphertexts decryptable', async () => {
  const ec = { order: '42' };
  const old = await e.kms.send(new EncryptCommand({ KeyId: orders.KeyId, Plaintext: Buffer.from('before rotation'), EncryptionContext: ec }));
  const wrongContext = await failure(() => decrypt(old.CiphertextBlob, { order: '43' }));
  assert.equal(wrongContext.name, 'KMSInvalidStateException');
  assert.equal((await keyholdCallsFor(e.keyhold, wrongContext.requestId))[0]!.outcome, 'InvalidCiphertextException');
  assert.equal(await errorName(() => decrypt(old.CiphertextBlob)), 'KMSInvalidStateException');
  const rotated = await e.keyhold.json<{ currentVersion: number }>(['key', 'rotate', 'orders-key']);
  assert.equal(rotated.currentVersion, 2);
  // New encryptions use version 2 once the server has seen the change.
  await eventually(async () => {
    const probe = await e.kms.send(new EncryptCommand({ KeyId: orders.KeyId, Plaintext: Buffer.from('probe') }));
    return (await keyholdCallsFor(e.keyhold, probe.$metadata.requestId))[0]!.keyVersion === 2 ? true : undefined;
  }, 'encryptions to use key version 2');
  const fresh = await e.kms.send(new EncryptCommand({ KeyId: orders.KeyId, Plaintext: Buffer.from('after rotation'), EncryptionContext: ec }));
  assert.equal(Buffer.from((await decrypt(old.CiphertextBlob, ec)).Plaintext!).toString(), 'before rotation');
  assert.equal(Buffer.from((await decrypt(fresh.CiphertextBlob, ec)).Plaintext!).toString(), 'after rotation');
});

test('disabling the key store in Keyhold fails every key in it; enabling it restores them', async () => {
  const a = await e.kms.send(new EncryptCommand({ KeyId: orders.KeyId, Plaintext: Buffer.from('a') }));
  const b = await e.kms.send(new EncryptCommand({ KeyId: invoices.KeyId, Plaintext: Buffer.from('b') }));
  await e.keyhold.json(['keystore', 'disable', 'payments']);
  await eventually(async () => ((await errorName(() => decrypt(a.CiphertextBlob))) === 'KMSInvalidStateException' ? true : undefined), 'the store to be disabled');
  assert.equal(await errorName(() => decrypt(b.CiphertextBlob)), 'KMSInvalidStateException');
  assert.equal(await errorName(() => e.kms.send(new GenerateDataKeyCommand({ KeyId: invoices.KeyId, NumberOfBytes: 16 }))), 'KMSInvalidStateException');
  await e.keyhold.json(['keystore', 'enable', 'payments']);
  await eventually(() => decrypt(a.CiphertextBlob), 'the store to be enabled again');
  assert.equal(Buffer.from((await decrypt(b.CiphertextBlob)).Plaintext!).toString(), 'b');
});

test('the periodic KmsHealthCheck reaches Keyhold while the store is connected', async () => {
  // The same kmsRequestId on both sides: the simulator's log and Keyhold's.
  await eventually(() => {
    const ids = new Set(keyholdXksLog(e.keyhold).filter((l) => l.operation === 'health' && l.kmsOperation === 'KmsHealthCheck' && l.outcome === 'ok').map((l) => l.kmsRequestId));
    return e.t.sim.requestLog.entries().some((x) => x.eventName === 'KmsHealthCheck' && !x.errorCode && ids.has(x.requestId)) ? true : undefined;
  }, 'a KmsHealthCheck in both logs');
});
