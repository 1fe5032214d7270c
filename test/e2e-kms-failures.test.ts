/**
 * End to end, AWS SDK → KMS simulator → Keyhold: credential rotation under traffic, and what
 * KMS reports when the proxy is down, the secret or path is wrong, the Region does not
 * match, or Keyhold's secondary authorization denies the caller.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateCustomKeyStoreCommand, DecryptCommand, DisconnectCustomKeyStoreCommand, EncryptCommand, GenerateDataKeyCommand, UpdateCustomKeyStoreCommand, type KeyMetadata } from '@aws-sdk/client-kms';
import { xksClient } from './support/xks-client.js';
import { ALICE, BOB_OTHER_ACCOUNT, MALLORY, errorName, eventually } from './kms-sim-support.js';
import { E2E_REGION, retryWhile, connect, createStoreFromConfig, createXksKey, describeStore, keyholdKey, keyholdKeyStore, failure, keyholdCallsFor, reconnect, startE2E, type AwsConfigFile, type E2E } from './e2e-kms-support.js';

let e: E2E;
let config: AwsConfigFile;
let storeId: string;
let key: KeyMetadata;
const tmp = mkdtempSync(join(tmpdir(), 'kms-e2e-'));

before(async () => {
  e = await startE2E();
  config = await keyholdKeyStore(e.keyhold, 'ledger');
  await keyholdKey(e.keyhold, 'ledger-key', 'ledger');
  storeId = await retryWhile('XksProxyInvalidConfigurationException', () => createStoreFromConfig(e.kms, e.keyhold, 'keyhold-ledger', config));
  assert.equal((await connect(e.kms, storeId)).ConnectionState, 'CONNECTED');
  key = await retryWhile('XksKeyNotFoundException', () => createXksKey(e.kms, storeId, 'ledger-key'));
});
after(async () => {
  await e?.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('rotates the proxy credential with traffic running and no failed request', async () => {
  const oldId = config.XksProxyAuthenticationCredential.AccessKeyId;
  let stop = false;
  let ok = 0;
  const failures: string[] = [];
  const loop = async (n: number) => {
    while (!stop) {
      try {
        const ec = { loop: String(n) };
        const dk = await e.kms.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, NumberOfBytes: 32, EncryptionContext: ec }));
        const dec = await e.kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec }));
        assert.deepEqual(Buffer.from(dec.Plaintext!), Buffer.from(dk.Plaintext!));
        ok++;
      } catch (err) {
        failures.push(`${(err as Error).name}: ${(err as Error).message}`);
      }
    }
  };
  const traffic = Promise.all([loop(1), loop(2)]);
  try {
    await eventually(() => (ok >= 5 ? true : undefined), 'traffic to run');
    // 1. Add a second credential in Keyhold.
    const added = await e.keyhold.json<{ accessKeyId: string; secretAccessKey: string }>(['keystore', 'credential', 'add', 'ledger']);
    // 2. Tell KMS; its health probe succeeds once the running server knows the new credential.
    await eventually(async () => {
      try {
        await e.kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: storeId, XksProxyAuthenticationCredential: { AccessKeyId: added.accessKeyId, RawSecretAccessKey: added.secretAccessKey } }));
        return true;
      } catch (err) {
        if ((err as Error).name === 'XksProxyIncorrectAuthenticationCredentialException') return undefined;
        throw err;
      }
    }, 'UpdateCustomKeyStore with the new credential');
    assert.equal((await describeStore(e.kms, storeId)).XksProxyConfiguration!.AccessKeyId, added.accessKeyId);
    // 3. Revoke the old credential, and wait until Keyhold refuses it.
    await e.keyhold.json(['keystore', 'credential', 'revoke', 'ledger', oldId]);
    const old = xksClient({ url: e.keyhold.url, caPem: e.keyhold.caPem, uriPath: config.XksProxyUriPath, region: E2E_REGION, credential: { accessKeyId: oldId, secretAccessKey: config.XksProxyAuthenticationCredential.RawSecretAccessKey } });
    try {
      await eventually(async () => ((await old.health()).status === 401 ? true : undefined), 'Keyhold to refuse the revoked credential');
    } finally {
      old.close();
    }
    const after = ok;
    await eventually(() => (ok >= after + 5 ? true : undefined), 'traffic to continue on the new credential');
  } finally {
    stop = true;
    await traffic;
  }
  assert.deepEqual(failures, []);
  assert.ok(ok >= 10);
});

test('a wrong secret: CreateCustomKeyStore refuses it, and a connect ends FAILED with INVALID_CREDENTIALS', async () => {
  // Another AWS account, so that its stores may use the same endpoint and path.
  const other = e.t.kms(BOB_OTHER_ACCOUNT);
  const live = (await e.keyhold.json<{ accessKeyId: string; live: boolean }[]>(['keystore', 'credential', 'list', 'ledger'])).find((c) => c.live)!;
  const bad: AwsConfigFile = { XksProxyUriPath: config.XksProxyUriPath, XksProxyAuthenticationCredential: { AccessKeyId: live.accessKeyId, RawSecretAccessKey: 'W'.repeat(44) } };
  assert.equal(await errorName(() => createStoreFromConfig(other, e.keyhold, 'wrong-secret', bad)), 'XksProxyIncorrectAuthenticationCredentialException');
  // A VPC store is first tested at connect.
  const vpc = await createStoreFromConfig(other, e.keyhold, 'wrongsecretvpc', bad, 'VPC_ENDPOINT_SERVICE');
  const s = await connect(other, vpc);
  assert.equal(s.ConnectionState, 'FAILED');
  assert.equal(s.ConnectionErrorCode, 'INVALID_CREDENTIALS');
});

test('a wrong path: CreateCustomKeyStore refuses it, and a connect ends FAILED with XKS_PROXY_INVALID_CONFIGURATION', async () => {
  const other = e.t.kms(BOB_OTHER_ACCOUNT); // its VPC stores share the endpoint
  const live = (await e.keyhold.json<{ accessKeyId: string; live: boolean }[]>(['keystore', 'credential', 'list', 'ledger'])).find((c) => c.live)!;
  const path: AwsConfigFile = { XksProxyUriPath: '/nowhere/kms/xks/v1', XksProxyAuthenticationCredential: { AccessKeyId: live.accessKeyId, RawSecretAccessKey: 'P'.repeat(44) } };
  assert.equal(await errorName(() => createStoreFromConfig(e.kms, e.keyhold, 'wrong-path', path)), 'XksProxyInvalidConfigurationException');
  const vpc = await createStoreFromConfig(other, e.keyhold, 'wrongpathvpc', path, 'VPC_ENDPOINT_SERVICE');
  const s = await connect(other, vpc);
  assert.equal(s.ConnectionState, 'FAILED');
  assert.equal(s.ConnectionErrorCode, 'XKS_PROXY_INVALID_CONFIGURATION');
});

test('a KMS Region the Keyhold key store does not serve is refused as an authentication failure', async () => {
  const fresh = await e.keyhold.json<{ accessKeyId: string; secretAccessKey: string; uriPath: string }>(['keystore', 'create', 'regional', '--prefix', '/regional', '--region', E2E_REGION]);
  const usEast = e.t.kms(ALICE, 'us-east-1');
  const input = {
    CustomKeyStoreName: 'regional',
    CustomKeyStoreType: 'EXTERNAL_KEY_STORE' as const,
    XksProxyConnectivity: 'PUBLIC_ENDPOINT' as const,
    XksProxyUriEndpoint: e.keyhold.url,
    XksProxyUriPath: fresh.uriPath,
    XksProxyAuthenticationCredential: { AccessKeyId: fresh.accessKeyId, RawSecretAccessKey: fresh.secretAccessKey },
  };
  await retryWhile('XksProxyInvalidConfigurationException', () => e.kms.send(new CreateCustomKeyStoreCommand(input))); // eu-west-1 is served
  assert.equal(await errorName(() => usEast.send(new CreateCustomKeyStoreCommand(input))), 'XksProxyIncorrectAuthenticationCredentialException');
});

test('a secondary-authorization rule that denies the caller: connect still succeeds, crypto fails with KMSInvalidStateException', async () => {
  const policyFile = join(tmp, 'deny-mallory.json');
  writeFileSync(policyFile, JSON.stringify({ default: 'allow', rules: [{ effect: 'deny', principals: [MALLORY.principalArn] }] }));
  await e.keyhold.json(['keystore', 'policy', 'set', 'ledger', '--file', policyFile]);
  const mallory = e.t.kms(MALLORY);
  const enc = await e.kms.send(new EncryptCommand({ KeyId: key.Arn, Plaintext: Buffer.from('ledger entry') }));
  await eventually(async () => ((await errorName(() => mallory.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })))) === 'KMSInvalidStateException' ? true : undefined), 'the policy to deny mallory');
  const denied = await failure(() => mallory.send(new EncryptCommand({ KeyId: key.Arn, Plaintext: Buffer.from('x') })));
  assert.equal(denied.name, 'KMSInvalidStateException');
  assert.equal((await keyholdCallsFor(e.keyhold, denied.requestId))[0]!.outcome, 'AccessDeniedException');
  assert.equal(Buffer.from((await e.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))).Plaintext!).toString(), 'ledger entry', 'alice is still allowed');
  // Health is never policy-checked: reconnecting works even when the policy denies everyone.
  const denyAll = join(tmp, 'deny-all.json');
  writeFileSync(denyAll, JSON.stringify({ default: 'deny', rules: [] }));
  await e.keyhold.json(['keystore', 'policy', 'set', 'ledger', '--file', denyAll]);
  await eventually(async () => ((await errorName(() => e.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })))) === 'KMSInvalidStateException' ? true : undefined), 'the policy to deny alice');
  const s = await reconnect(e.kms, storeId);
  assert.equal(s.ConnectionState, 'CONNECTED');
  assert.equal(await errorName(() => e.kms.send(new EncryptCommand({ KeyId: key.Arn, Plaintext: Buffer.from('x') }))), 'KMSInvalidStateException');
  await e.keyhold.json(['keystore', 'policy', 'clear', 'ledger']);
  await eventually(() => e.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })), 'the policy to be cleared');
});

test('Keyhold stopped: crypto fails with KMSInvalidStateException and a connect ends FAILED with XKS_PROXY_NOT_REACHABLE', async () => {
  const enc = await e.kms.send(new EncryptCommand({ KeyId: key.Arn, Plaintext: Buffer.from('survives a restart') }));
  await e.keyhold.stop();
  try {
    assert.equal(await errorName(() => e.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))), 'KMSInvalidStateException');
    const entry = e.t.sim.requestLog.entries().at(-1)!;
    assert.deepEqual(entry.proxyCalls.map((c) => [c.outcome, c.attempts]), [['network:ECONNREFUSED', 2]]);
    await e.kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    const s = await connect(e.kms, storeId);
    assert.equal(s.ConnectionState, 'FAILED');
    assert.equal(s.ConnectionErrorCode, 'XKS_PROXY_NOT_REACHABLE');
  } finally {
    await e.keyhold.start();
  }
  const s = await reconnect(e.kms, storeId);
  assert.equal(s.ConnectionState, 'CONNECTED');
  assert.equal(Buffer.from((await e.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))).Plaintext!).toString(), 'survives a restart');
});
