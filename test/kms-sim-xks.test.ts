/**
 * The simulator toward an external key store, against a scripted XKS proxy over real HTTPS:
 * custom key store lifecycle and validation, the health probe and its error mapping, the
 * asynchronous connect, CreateKey through GetKeyMetadata, double encryption with CDIV,
 * requestMetadata, and every proxy failure mapped as KMS maps it.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConnectCustomKeyStoreCommand,
  CreateCustomKeyStoreCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteCustomKeyStoreCommand,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisconnectCustomKeyStoreCommand,
  EnableKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GenerateRandomCommand,
  GetKeyRotationStatusCommand,
  GetParametersForImportCommand,
  ReEncryptCommand,
  ScheduleKeyDeletionCommand,
  UpdateCustomKeyStoreCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { ALICE, MALLORY, VIA_S3, errorName, eventually, movableClock, startSimulator, type TestSimulator } from './kms-sim-support.js';
import { startScriptedProxy, type ScriptedProxy } from './kms-sim-scripted-proxy.js';

let proxy: ScriptedProxy;
let t: TestSimulator;
let kms: KMSClient;
const clock = movableClock();
let storeCounter = 0;

before(async () => {
  proxy = await startScriptedProxy();
  t = await startSimulator({ proxyCa: proxy.caPem, clock });
  kms = t.kms();
});
after(async () => {
  await t.close();
  await proxy.close();
});
beforeEach(() => {
  proxy.script = undefined;
  proxy.ekmStatus = 'ACTIVE';
});

function storeInput(overrides: Record<string, unknown> = {}) {
  storeCounter++;
  return {
    CustomKeyStoreName: `store-${storeCounter}`,
    CustomKeyStoreType: 'EXTERNAL_KEY_STORE' as const,
    XksProxyConnectivity: 'PUBLIC_ENDPOINT' as const,
    XksProxyUriEndpoint: proxy.endpoint,
    XksProxyUriPath: proxy.uriPath,
    XksProxyAuthenticationCredential: { AccessKeyId: proxy.accessKeyId, RawSecretAccessKey: proxy.secretAccessKey },
    ...overrides,
  };
}

async function describeStore(id: string, client = kms) {
  const r = await client.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: id }));
  return r.CustomKeyStores![0]!;
}

async function connected(id: string, client = kms): Promise<void> {
  await client.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
  const s = await eventually(async () => {
    const d = await describeStore(id, client);
    return d.ConnectionState === 'CONNECTING' ? undefined : d;
  }, 'connect to finish');
  assert.equal(s.ConnectionState, 'CONNECTED', `expected CONNECTED, got ${s.ConnectionState} ${s.ConnectionErrorCode ?? ''}`);
}

/** Removes every store of the test account (they hold no keys in these tests). */
async function cleanupStores(): Promise<void> {
  const all = await kms.send(new DescribeCustomKeyStoresCommand({}));
  for (const s of all.CustomKeyStores ?? []) {
    if (s.ConnectionState !== 'DISCONNECTED') await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: s.CustomKeyStoreId }));
    await kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: s.CustomKeyStoreId }));
  }
}

describe('custom key store lifecycle', () => {
  beforeEach(cleanupStores);

  test('creates a DISCONNECTED store after a health probe, and describes it without the secret', async () => {
    const before = proxy.requests.length;
    const { CustomKeyStoreId } = await kms.send(new CreateCustomKeyStoreCommand(storeInput()));
    assert.match(CustomKeyStoreId!, /^cks-[0-9a-f]{17}$/);
    const probe = proxy.requests.slice(before);
    assert.equal(probe.length, 1);
    assert.equal(probe[0]!.operation, 'health');
    assert.equal((probe[0]!.body.requestMetadata as Record<string, string>).kmsOperation, 'CreateCustomKeyStore');
    assert.match(probe[0]!.authorization, new RegExp(`^AWS4-HMAC-SHA256 Credential=${proxy.accessKeyId}/\\d{8}/eu-west-1/kms-xks-proxy/aws4_request, SignedHeaders=`));
    const d = await describeStore(CustomKeyStoreId!);
    assert.equal(d.ConnectionState, 'DISCONNECTED');
    assert.equal(d.CustomKeyStoreType, 'EXTERNAL_KEY_STORE');
    assert.equal(d.ConnectionErrorCode, undefined);
    assert.ok(d.CreationDate instanceof Date);
    assert.deepEqual(d.XksProxyConfiguration, { Connectivity: 'PUBLIC_ENDPOINT', AccessKeyId: proxy.accessKeyId, UriEndpoint: proxy.endpoint, UriPath: proxy.uriPath });
    assert.ok(!JSON.stringify(d).includes(proxy.secretAccessKey));
    await kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId }));
  });

  test('validates parameters like KMS', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ XksProxyUriEndpoint: 'http://localhost:1' }, 'ValidationException'],
      [{ XksProxyUriEndpoint: 'https://localhost/path' }, 'ValidationException'],
      [{ XksProxyUriPath: '/kms/xks/v1/extra' }, 'ValidationException'],
      [{ XksProxyUriPath: '/a.b/kms/xks/v1' }, 'ValidationException'],
      [{ XksProxyAuthenticationCredential: { AccessKeyId: 'lowercase0123456789abc', RawSecretAccessKey: proxy.secretAccessKey } }, 'ValidationException'],
      [{ XksProxyAuthenticationCredential: { AccessKeyId: proxy.accessKeyId, RawSecretAccessKey: 'short' } }, 'ValidationException'],
      [{ XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE' }, 'ValidationException'],
      [{ XksProxyVpcEndpointServiceName: 'com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0' }, 'ValidationException'],
      [{ CustomKeyStoreType: undefined }, 'UnsupportedOperationException'],
      [{ XksProxyUriPath: undefined }, 'ValidationException'],
      [{ CustomKeyStoreName: '' }, 'ValidationException'],
    ];
    const before = proxy.requests.length;
    for (const [overrides, expected] of cases) {
      assert.equal(await errorName(() => kms.send(new CreateCustomKeyStoreCommand(storeInput(overrides) as never))), expected, JSON.stringify(overrides));
    }
    assert.equal(proxy.requests.length, before, 'invalid input never reaches the proxy');
    assert.equal((await kms.send(new DescribeCustomKeyStoresCommand({}))).CustomKeyStores!.length, 0);
  });

  test('enforces unique names and unique endpoint+path', async () => {
    const input = storeInput();
    const { CustomKeyStoreId } = await kms.send(new CreateCustomKeyStoreCommand(input));
    assert.equal(await errorName(() => kms.send(new CreateCustomKeyStoreCommand({ ...storeInput(), CustomKeyStoreName: input.CustomKeyStoreName }))), 'CustomKeyStoreNameInUseException');
    assert.equal(await errorName(() => kms.send(new CreateCustomKeyStoreCommand(storeInput()))), 'XksProxyUriInUseException');
    await kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId }));
  });

  test('maps a failing health probe at create to the KMS exception, and saves nothing', async () => {
    const cases: [() => void, string][] = [
      [() => (proxy.script = () => ({ status: 401, body: { errorName: 'AuthenticationFailedException' } })), 'XksProxyIncorrectAuthenticationCredentialException'],
      [() => (proxy.script = () => ({ status: 404, body: { errorName: 'InvalidUriPathException' } })), 'XksProxyInvalidConfigurationException'],
      [() => (proxy.script = () => ({ status: 500, body: { errorName: 'InternalException' } })), 'XksProxyInvalidResponseException'],
      [() => (proxy.script = () => ({ status: 200, raw: 'not json' })), 'XksProxyInvalidResponseException'],
      [() => (proxy.script = () => ({ status: 200, body: { xksProxyFleetSize: 0 } })), 'XksProxyInvalidResponseException'],
      [() => (proxy.script = () => ({ status: 503, body: { errorName: 'DependencyTimeoutException' } })), 'XksProxyUriUnreachableException'],
      [() => (proxy.script = () => ({ status: 429, body: { errorName: 'ThrottlingException' } })), 'XksProxyUriUnreachableException'],
      [() => (proxy.ekmStatus = 'UNAVAILABLE'), 'XksProxyUriUnreachableException'],
    ];
    for (const [arrange, expected] of cases) {
      proxy.script = undefined;
      proxy.ekmStatus = 'ACTIVE';
      arrange();
      assert.equal(await errorName(() => kms.send(new CreateCustomKeyStoreCommand(storeInput()))), expected);
    }
    proxy.ekmStatus = 'DEGRADED'; // still serving
    const { CustomKeyStoreId } = await kms.send(new CreateCustomKeyStoreCommand(storeInput()));
    assert.equal((await kms.send(new DescribeCustomKeyStoresCommand({}))).CustomKeyStores!.length, 1);
    await kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId }));
  });

  test('a wrong secret is XksProxyIncorrectAuthenticationCredentialException (real SigV4 failure)', async () => {
    const bad = storeInput({ XksProxyAuthenticationCredential: { AccessKeyId: proxy.accessKeyId, RawSecretAccessKey: 'A'.repeat(44) } });
    assert.equal(await errorName(() => kms.send(new CreateCustomKeyStoreCommand(bad))), 'XksProxyIncorrectAuthenticationCredentialException');
  });

  test('an unreachable endpoint and an untrusted certificate are XksProxyUriUnreachableException', async () => {
    assert.equal(await errorName(() => kms.send(new CreateCustomKeyStoreCommand(storeInput({ XksProxyUriEndpoint: 'https://localhost:1' })))), 'XksProxyUriUnreachableException');
    const noCa = await startSimulator();
    try {
      assert.equal(await errorName(() => noCa.kms().send(new CreateCustomKeyStoreCommand(storeInput()))), 'XksProxyUriUnreachableException');
      const log = noCa.sim.requestLog.entries().at(-1)!;
      assert.match(log.proxyCalls[0]!.outcome, /^tls:/);
    } finally {
      await noCa.close();
    }
  });

  test('connect is asynchronous and follows the state machine', async () => {
    const { CustomKeyStoreId: id } = await kms.send(new CreateCustomKeyStoreCommand(storeInput()));
    assert.equal(await errorName(() => kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }))), 'CustomKeyStoreInvalidStateException');
    await connected(id!);
    const connectProbe = proxy.requests.at(-1)!;
    assert.equal((connectProbe.body.requestMetadata as Record<string, string>).kmsOperation, 'ConnectCustomKeyStore');
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id })); // already connected: accepted
    assert.equal((await describeStore(id!)).ConnectionState, 'CONNECTED');
    assert.equal(await errorName(() => kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id }))), 'CustomKeyStoreInvalidStateException');
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    assert.equal((await describeStore(id!)).ConnectionState, 'DISCONNECTED');

    proxy.script = () => ({ status: 401, body: { errorName: 'AuthenticationFailedException' } });
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    const failed = await eventually(async () => {
      const d = await describeStore(id!);
      return d.ConnectionState === 'FAILED' ? d : undefined;
    }, 'FAILED');
    assert.equal(failed.ConnectionErrorCode, 'INVALID_CREDENTIALS');
    proxy.script = undefined;
    assert.equal(await errorName(() => kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }))), 'CustomKeyStoreInvalidStateException');
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    const d = await describeStore(id!);
    assert.equal(d.ConnectionState, 'DISCONNECTED');
    assert.equal(d.ConnectionErrorCode, undefined);
    await kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    assert.equal(await errorName(() => describeStore(id!)), 'CustomKeyStoreNotFoundException');
  });

  test('maps connect failures to ConnectionErrorCode', async () => {
    const { CustomKeyStoreId: id } = await kms.send(new CreateCustomKeyStoreCommand(storeInput()));
    const cases: [() => void, string][] = [
      [() => (proxy.script = () => ({ status: 404, body: { errorName: 'InvalidUriPathException' } })), 'XKS_PROXY_INVALID_CONFIGURATION'],
      [() => (proxy.script = () => ({ status: 403, body: { errorName: 'AccessDeniedException' } })), 'XKS_PROXY_ACCESS_DENIED'],
      [() => (proxy.script = () => ({ status: 400, body: { errorName: 'ValidationException' } })), 'XKS_PROXY_INVALID_RESPONSE'],
      [() => (proxy.script = () => ({ status: 200, raw: '{}' })), 'XKS_PROXY_INVALID_RESPONSE'],
      [() => (proxy.ekmStatus = 'UNAVAILABLE'), 'XKS_PROXY_NOT_REACHABLE'],
      [() => (proxy.script = () => ({ delayMs: 400 })), 'XKS_PROXY_TIMED_OUT'],
    ];
    for (const [arrange, expected] of cases) {
      proxy.script = undefined;
      proxy.ekmStatus = 'ACTIVE';
      arrange();
      await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
      const d = await eventually(async () => {
        const s = await describeStore(id!);
        return s.ConnectionState === 'FAILED' ? s : undefined;
      }, `FAILED with ${expected}`);
      assert.equal(d.ConnectionErrorCode, expected);
      await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    }
    await kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id }));
  });

  test('a VPC store is not probed at create, only at connect', async () => {
    const before = proxy.requests.length;
    const { CustomKeyStoreId: id } = await kms.send(
      new CreateCustomKeyStoreCommand(storeInput({ XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE', XksProxyVpcEndpointServiceName: 'com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0' })),
    );
    assert.equal(proxy.requests.length, before);
    await connected(id!);
    assert.equal(proxy.requests.length, before + 1);
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    await kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id }));
  });

  test('update tests new settings first, allows credential and path changes while connected, and refuses endpoint changes', async () => {
    const { CustomKeyStoreId: id } = await kms.send(new CreateCustomKeyStoreCommand(storeInput()));
    await connected(id!);
    assert.equal(
      await errorName(() => kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: id, XksProxyUriEndpoint: 'https://other.example.com' }))),
      'CustomKeyStoreInvalidStateException',
    );
    // A wrong new secret is refused and the old one stays in use.
    assert.equal(
      await errorName(() =>
        kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: id, XksProxyAuthenticationCredential: { AccessKeyId: proxy.accessKeyId, RawSecretAccessKey: 'B'.repeat(44) } })),
      ),
      'XksProxyIncorrectAuthenticationCredentialException',
    );
    const refused = t.sim.requestLog.entries().at(-1)!;
    assert.deepEqual(refused.proxyCalls.map((c) => [c.xksOperation, c.kmsOperation, c.outcome]), [['GetHealthStatus', 'UpdateCustomKeyStore', 'AuthenticationFailedException']]);
    await kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: id, NewCustomKeyStoreName: 'renamed-while-connected' }));
    const d = await describeStore(id!);
    assert.equal(d.CustomKeyStoreName, 'renamed-while-connected');
    assert.equal(d.ConnectionState, 'CONNECTED');
    // Rotate the proxy secret: the proxy accepts the new one, then KMS is told.
    const oldSecret = proxy.secretAccessKey;
    proxy.secretAccessKey = 'C'.repeat(44);
    await kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: id, XksProxyAuthenticationCredential: { AccessKeyId: proxy.accessKeyId, RawSecretAccessKey: proxy.secretAccessKey } }));
    assert.equal((proxy.requests.at(-1)!.body.requestMetadata as Record<string, string>).kmsOperation, 'UpdateCustomKeyStore');
    proxy.secretAccessKey = oldSecret;
    await kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: id, XksProxyAuthenticationCredential: { AccessKeyId: proxy.accessKeyId, RawSecretAccessKey: oldSecret } }));
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    assert.equal(
      await errorName(() => kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: id, XksProxyUriPath: '/elsewhere/kms/xks/v1' }))),
      'XksProxyInvalidConfigurationException',
    );
    assert.equal((await describeStore(id!)).XksProxyConfiguration!.UriPath, proxy.uriPath);
    await kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id }));
  });

  test('describes with paging and rejects a foreign marker', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { CustomKeyStoreId } = await kms.send(
        new CreateCustomKeyStoreCommand(storeInput({ XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE', XksProxyUriPath: `/p${i}/kms/xks/v1`, XksProxyVpcEndpointServiceName: `com.amazonaws.vpce.eu-west-1.vpce-svc-0${i}` })),
      );
      ids.push(CustomKeyStoreId!);
    }
    const seen: string[] = [];
    let marker: string | undefined;
    do {
      const page = await kms.send(new DescribeCustomKeyStoresCommand({ Limit: 2, ...(marker ? { Marker: marker } : {}) }));
      assert.ok(page.CustomKeyStores!.length <= 2);
      seen.push(...page.CustomKeyStores!.map((s) => s.CustomKeyStoreId!));
      assert.equal(page.NextMarker === undefined, !page.Truncated);
      marker = page.NextMarker;
    } while (marker);
    assert.deepEqual([...seen].sort(), [...ids].sort());
    assert.equal(await errorName(() => kms.send(new DescribeCustomKeyStoresCommand({ Marker: 'garbage' }))), 'InvalidMarkerException');
    for (const id of ids) await kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id }));
  });
});

describe('keys in an external key store', () => {
  let storeId: string;
  const md = (i: number) => proxy.requests[i]!.body.requestMetadata as Record<string, string>;

  before(async () => {
    await cleanupStores();
    storeId = (await kms.send(new CreateCustomKeyStoreCommand(storeInput()))).CustomKeyStoreId!;
    for (const id of ['ext-a', 'ext-b', 'ext-c', 'ext-disabled', 'ext-encrypt-only', 'ext-aes128', 'ext-gone', 'ext-via', 'ext-failures', 'ext-slow', 'ext-states']) proxy.addKey(id);
    proxy.keys.get('ext-disabled')!.enabled = false;
    proxy.keys.get('ext-encrypt-only')!.usage = ['ENCRYPT'];
    proxy.keys.get('ext-aes128')!.spec = 'AES_128';
  });

  const createXksKey = (xksKeyId: string, client = kms) =>
    client.send(new CreateKeyCommand({ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: storeId, XksKeyId: xksKeyId, Description: `over ${xksKeyId}` }));

  test('CreateKey needs a connected store and valid parameters', async () => {
    assert.equal(await errorName(() => createXksKey('ext-a')), 'CustomKeyStoreInvalidStateException');
    await connected(storeId);
    const bad: [Record<string, unknown>, string][] = [
      [{ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: storeId }, 'ValidationException'],
      [{ Origin: 'EXTERNAL_KEY_STORE', XksKeyId: 'ext-a' }, 'ValidationException'],
      [{ XksKeyId: 'ext-a' }, 'ValidationException'],
      [{ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: 'cks-00000000000000000', XksKeyId: 'ext-a' }, 'CustomKeyStoreNotFoundException'],
      [{ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: storeId, XksKeyId: 'ext-a', MultiRegion: true }, 'UnsupportedOperationException'],
      [{ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: storeId, XksKeyId: 'ext-a', KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' }, 'UnsupportedOperationException'],
      [{ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: storeId, XksKeyId: 'bad/id' }, 'ValidationException'],
    ];
    const before = proxy.requests.length;
    for (const [input, expected] of bad) assert.equal(await errorName(() => kms.send(new CreateKeyCommand(input as never))), expected, JSON.stringify(input));
    assert.equal(proxy.requests.length, before);
  });

  test('CreateKey maps what GetKeyMetadata says about the external key', async () => {
    assert.equal(await errorName(() => createXksKey('ext-missing')), 'XksKeyNotFoundException');
    assert.equal(await errorName(() => createXksKey('ext-disabled')), 'XksKeyInvalidConfigurationException');
    assert.equal(await errorName(() => createXksKey('ext-encrypt-only')), 'XksKeyInvalidConfigurationException');
    assert.equal(await errorName(() => createXksKey('ext-aes128')), 'XksKeyInvalidConfigurationException');
    for (const [status, name] of [[403, 'AccessDeniedException'], [500, 'InternalException'], [501, 'UnsupportedOperationException'], [400, 'ValidationException']] as const) {
      proxy.script = () => ({ status, body: { errorName: name } });
      assert.equal(await errorName(() => createXksKey('ext-a')), 'CustomKeyStoreInvalidStateException', name);
    }
    proxy.script = () => ({ status: 400, body: { errorName: 'InvalidStateException' } });
    assert.equal(await errorName(() => createXksKey('ext-a')), 'XksKeyInvalidConfigurationException');
  });

  test('CreateKey links a KMS key to the external key', async () => {
    const before = proxy.requests.length;
    const r = await createXksKey('ext-a');
    const k = r.KeyMetadata!;
    assert.equal(k.Origin, 'EXTERNAL_KEY_STORE');
    assert.equal(k.KeyState, 'Enabled');
    assert.equal(k.CustomKeyStoreId, storeId);
    assert.deepEqual(k.XksKeyConfiguration, { Id: 'ext-a' });
    assert.equal(k.KeySpec, 'SYMMETRIC_DEFAULT');
    assert.equal(k.CurrentKeyMaterialId, undefined);
    assert.equal(proxy.requests.length, before + 1);
    const call = proxy.requests[before]!;
    assert.equal(call.operation, 'metadata');
    assert.equal(call.keyId, 'ext-a');
    assert.deepEqual(md(before), { awsPrincipalArn: ALICE.principalArn, kmsKeyArn: k.Arn, kmsOperation: 'CreateKey', kmsRequestId: r.$metadata.requestId });
    assert.equal(await errorName(() => createXksKey('ext-a')), 'XksKeyAlreadyInUseException');
    assert.equal(proxy.requests.length, before + 1, 'XksKeyAlreadyInUse is decided without the proxy');
  });

  test('Encrypt and Decrypt double-encrypt through the proxy with full requestMetadata and a CDIV', async () => {
    const keyId = (await createXksKey('ext-b')).KeyMetadata!.KeyId!;
    const plaintext = Buffer.from('card number 4111 1111 1111 1111');
    const ec = { tenant: 'acme', purpose: 'test' };
    const before = proxy.requests.length;
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionContext: ec }));
    const call = proxy.requests[before]!;
    assert.equal(call.operation, 'encrypt');
    assert.equal(call.keyId, 'ext-b');
    assert.equal(call.body.encryptionAlgorithm, 'AES_GCM');
    assert.equal(call.body.ciphertextDataIntegrityValueAlgorithm, 'SHA_256');
    const sent = Buffer.from(call.body.plaintext as string, 'base64');
    assert.equal(sent.length, plaintext.length + 28, 'the proxy sees the inner ciphertext (nonce + ct + tag), not the plaintext');
    assert.ok(!sent.includes(plaintext));
    assert.ok(Buffer.from(call.body.additionalAuthenticatedData as string, 'base64').length > 0);
    assert.deepEqual(md(before), { awsPrincipalArn: ALICE.principalArn, kmsKeyArn: enc.KeyId, kmsOperation: 'Encrypt', kmsRequestId: enc.$metadata.requestId });
    const logged = t.sim.requestLog.byRequestId(enc.$metadata.requestId!)!;
    assert.equal(logged.eventName, 'Encrypt');
    assert.equal(logged.keyArn, enc.KeyId);
    assert.equal(logged.customKeyStoreId, storeId);
    assert.equal(logged.xksKeyId, 'ext-b');
    assert.deepEqual(logged.proxyCalls.map((c) => [c.xksOperation, c.kmsOperation, c.outcome, c.attempts]), [['Encrypt', 'Encrypt', 'ok', 1]]);

    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec }));
    assert.deepEqual(Buffer.from(dec.Plaintext!), plaintext);
    assert.equal(dec.KeyId, enc.KeyId);
    assert.equal(dec.KeyMaterialId, undefined);
    const dcall = proxy.requests.at(-1)!;
    assert.equal(dcall.operation, 'decrypt');
    assert.equal(dcall.body.ciphertextMetadata, Buffer.from([7]).toString('base64'), 'ciphertextMetadata is returned unchanged');
    assert.deepEqual(md(proxy.requests.length - 1), { awsPrincipalArn: ALICE.principalArn, kmsKeyArn: enc.KeyId, kmsOperation: 'Decrypt', kmsRequestId: dec.$metadata.requestId });

    assert.equal(await errorName(() => kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { tenant: 'other', purpose: 'test' } }))), 'KMSInvalidStateException');
    assert.equal(proxy.requests.at(-1)!.operation, 'decrypt', 'the wrong context is caught by the proxy (different AAD)');
    assert.equal(await errorName(() => kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))), 'KMSInvalidStateException');
  });

  test('GenerateDataKey, GenerateDataKeyWithoutPlaintext and ReEncrypt between two XKS keys', async () => {
    const a = (await createXksKey('ext-c')).KeyMetadata!;
    const b = (await kms.send(new DescribeKeyCommand({ KeyId: (await t.kms().send(new CreateKeyCommand({ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: storeId, XksKeyId: 'ext-gone' }))).KeyMetadata!.KeyId! }))).KeyMetadata!;
    const before = proxy.requests.length;
    const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: a.Arn, KeySpec: 'AES_256', EncryptionContext: { f: '1' } }));
    assert.equal(dk.Plaintext!.length, 32);
    assert.equal(md(before).kmsOperation, 'GenerateDataKey');
    const dk2 = await kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: a.KeyId, NumberOfBytes: 64 }));
    assert.ok(!("Plaintext" in dk2));
    assert.equal(md(before + 1).kmsOperation, 'GenerateDataKeyWithoutPlaintext');

    const re = await kms.send(new ReEncryptCommand({ CiphertextBlob: dk.CiphertextBlob, SourceEncryptionContext: { f: '1' }, DestinationKeyId: b.Arn, DestinationEncryptionContext: { f: '2' } }));
    assert.equal(re.SourceKeyId, a.Arn);
    assert.equal(re.KeyId, b.Arn);
    const calls = proxy.requests.slice(before + 2);
    assert.deepEqual(calls.map((c) => [c.operation, c.keyId, (c.body.requestMetadata as Record<string, string>).kmsOperation]), [
      ['decrypt', 'ext-c', 'ReEncrypt'],
      ['encrypt', 'ext-gone', 'ReEncrypt'],
    ]);
    const back = await kms.send(new DecryptCommand({ CiphertextBlob: re.CiphertextBlob, EncryptionContext: { f: '2' } }));
    assert.deepEqual(Buffer.from(back.Plaintext!), Buffer.from(dk.Plaintext!));
    assert.equal(back.KeyId, b.Arn);
    assert.equal(await errorName(() => kms.send(new DecryptCommand({ CiphertextBlob: re.CiphertextBlob, KeyId: a.KeyId, EncryptionContext: { f: '2' } }))), 'IncorrectKeyException');
  });

  test('passes via-service and VPC endpoint context in requestMetadata', async () => {
    const via = t.kms(VIA_S3);
    const keyArn = (await kms.send(new DescribeKeyCommand({ KeyId: (await createXksKey('ext-via')).KeyMetadata!.KeyId! }))).KeyMetadata!.Arn;
    await via.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('x') }));
    assert.deepEqual(proxy.requests.at(-1)!.body.requestMetadata, {
      awsPrincipalArn: VIA_S3.principalArn,
      kmsKeyArn: keyArn,
      kmsOperation: 'Encrypt',
      kmsRequestId: t.sim.requestLog.entries().at(-1)!.requestId,
      kmsViaService: VIA_S3.viaService,
      awsSourceVpc: VIA_S3.sourceVpc,
      awsSourceVpce: VIA_S3.sourceVpce,
    });
  });

  test('every proxy failure on a cryptographic operation is KMSInvalidStateException', async () => {
    const keyId = (await createXksKey('ext-failures')).KeyMetadata!.KeyId!;
    const enc = () => kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('abc') }));
    const good = await enc();
    const dec = () => kms.send(new DecryptCommand({ CiphertextBlob: good.CiphertextBlob }));
    const replies: [string, Parameters<NonNullable<ScriptedProxy['script']>>[0]['operation'] | 'any', ReturnType<NonNullable<ScriptedProxy['script']>>][] = [
      ['access denied', 'any', { status: 403, body: { errorName: 'AccessDeniedException' } }],
      ['internal', 'any', { status: 500, body: { errorName: 'InternalException' } }],
      ['throttled', 'any', { status: 429, body: { errorName: 'ThrottlingException' } }],
      ['auth failed', 'any', { status: 401, body: { errorName: 'AuthenticationFailedException' } }],
      ['key not found', 'any', { status: 404, body: { errorName: 'KeyNotFoundException' } }],
      ['not JSON', 'any', { status: 200, raw: '<html>' }],
      ['error without body', 'any', { status: 502, raw: '' }],
      ['CDIV mismatch', 'encrypt', { mutate: (b) => void (b.ciphertextDataIntegrityValue = Buffer.alloc(32).toString('base64')) }],
      ['no CDIV', 'encrypt', { mutate: (b) => void delete b.ciphertextDataIntegrityValue }],
      ['metadata over 20 bytes', 'encrypt', { mutate: (b) => void (b.ciphertextMetadata = Buffer.alloc(21).toString('base64')) }],
      ['short ciphertext', 'encrypt', { mutate: (b) => void (b.ciphertext = Buffer.alloc(3).toString('base64')) }],
      ['8-byte IV', 'encrypt', { mutate: (b) => void (b.initializationVector = Buffer.alloc(8).toString('base64')) }],
      ['wrong plaintext length', 'decrypt', { mutate: (b) => void (b.plaintext = Buffer.alloc(5).toString('base64')) }],
      ['plaintext that does not open the inner layer', 'decrypt', { mutate: (b) => void (b.plaintext = Buffer.alloc(Buffer.from(b.plaintext as string, 'base64').length).toString('base64')) }],
    ];
    for (const [what, onlyFor, reply] of replies) {
      proxy.script = (r) => (onlyFor === 'any' || r.operation === onlyFor ? reply : undefined);
      if (onlyFor !== 'decrypt') assert.equal(await errorName(enc), 'KMSInvalidStateException', `encrypt: ${what}`);
      if (onlyFor !== 'encrypt') assert.equal(await errorName(dec), 'KMSInvalidStateException', `decrypt: ${what}`);
    }
    proxy.script = undefined;
    proxy.keys.get('ext-failures')!.enabled = false; // disabled in the external key manager
    assert.equal(await errorName(enc), 'KMSInvalidStateException');
    proxy.keys.get('ext-failures')!.enabled = true;
    assert.deepEqual(Buffer.from((await dec()).Plaintext!), Buffer.from('abc'));
  });

  test('a proxy call times out after 250 ms and is retried once', async () => {
    const keyId = (await createXksKey('ext-slow')).KeyMetadata!.KeyId!;
    let encrypts = 0;
    proxy.script = (r) => (r.operation === 'encrypt' && encrypts++ === 0 ? { delayMs: 600 } : undefined);
    const ok = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('slow once') }));
    assert.deepEqual(t.sim.requestLog.byRequestId(ok.$metadata.requestId!)!.proxyCalls.map((c) => [c.outcome, c.attempts]), [['ok', 2]]);
    proxy.script = (r) => (r.operation === 'encrypt' ? { delayMs: 600 } : undefined);
    const before = proxy.requests.length;
    assert.equal(await errorName(() => kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('always slow') }))), 'KMSInvalidStateException');
    const entry = t.sim.requestLog.entries().at(-1)!;
    assert.deepEqual(entry.proxyCalls.map((c) => [c.outcome, c.attempts]), [['timeout', 2]]);
    await eventually(() => (proxy.requests.length - before === 2 ? true : undefined), 'both attempts to reach the proxy');
  });

  test('key states: Disabled, Unavailable while disconnected, deferred enable/disable, pending deletion', async () => {
    const k = (await createXksKey('ext-states')).KeyMetadata!;
    const enc = () => kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('s') }));
    await kms.send(new DisableKeyCommand({ KeyId: k.KeyId }));
    const before = proxy.requests.length;
    assert.equal(await errorName(enc), 'DisabledException');
    assert.equal(proxy.requests.length, before, 'a disabled KMS key never reaches the proxy');
    await kms.send(new EnableKeyCommand({ KeyId: k.KeyId }));
    await enc();

    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: k.KeyId }))).KeyMetadata!.KeyState, 'Unavailable');
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: k.KeyId }))).KeyMetadata!.Enabled, false);
    assert.equal(await errorName(enc), 'KMSInvalidStateException');
    await kms.send(new DisableKeyCommand({ KeyId: k.KeyId })); // accepted, takes effect on reconnect
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: k.KeyId }))).KeyMetadata!.KeyState, 'Unavailable');
    await connected(storeId);
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: k.KeyId }))).KeyMetadata!.KeyState, 'Disabled');
    await kms.send(new EnableKeyCommand({ KeyId: k.KeyId }));

    assert.equal(await errorName(() => kms.send(new GetKeyRotationStatusCommand({ KeyId: k.KeyId }))), 'UnsupportedOperationException');
    assert.equal(await errorName(() => kms.send(new GetParametersForImportCommand({ KeyId: k.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }))), 'UnsupportedOperationException');
    assert.equal(await errorName(() => kms.send(new GenerateRandomCommand({ NumberOfBytes: 8, CustomKeyStoreId: storeId }))), 'UnsupportedOperationException');
    assert.equal((await kms.send(new GenerateRandomCommand({ NumberOfBytes: 8 }))).Plaintext!.length, 8);

    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k.KeyId, PendingWindowInDays: 7 }));
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: k.KeyId }))).KeyMetadata!.KeyState, 'PendingDeletion', 'pending deletion is shown even while disconnected');
    await connected(storeId);
  });

  test('a store with keys cannot be deleted until every key is gone', async () => {
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    assert.equal(await errorName(() => kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: storeId }))), 'CustomKeyStoreHasCMKsException');
    const { ListKeysCommand } = await import('@aws-sdk/client-kms');
    for (const k of (await kms.send(new ListKeysCommand({}))).Keys ?? []) {
      const d = (await kms.send(new DescribeKeyCommand({ KeyId: k.KeyId }))).KeyMetadata!;
      if (d.CustomKeyStoreId === storeId && d.KeyState !== 'PendingDeletion') await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k.KeyId, PendingWindowInDays: 7 }));
    }
    assert.equal(await errorName(() => kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: storeId }))), 'CustomKeyStoreHasCMKsException', 'keys pending deletion still count');
    clock.advance(8 * 86_400_000);
    await kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
  });
});

describe('periodic health check', () => {
  test('sends KmsHealthCheck to connected stores on the configured interval, without changing their state', async () => {
    const fast = await startSimulator({ proxyCa: proxy.caPem, healthCheckIntervalMs: 40 });
    try {
      const client = fast.kms(MALLORY);
      const { CustomKeyStoreId: id } = await client.send(new CreateCustomKeyStoreCommand(storeInput()));
      await connected(id!, client);
      const health = () => proxy.requests.filter((r) => r.operation === 'health' && (r.body.requestMetadata as Record<string, string>).kmsOperation === 'KmsHealthCheck');
      const seen = health().length;
      await eventually(() => (health().length >= seen + 2 ? true : undefined), 'two periodic health checks');
      const entries = fast.sim.requestLog.entries().filter((e) => e.eventName === 'KmsHealthCheck');
      assert.ok(entries.length >= 2);
      assert.equal(entries[0]!.customKeyStoreId, id);
      assert.equal(entries[0]!.proxyCalls[0]!.outcome, 'ok');
      const kmsRequestIds = new Set(health().map((r) => (r.body.requestMetadata as Record<string, string>).kmsRequestId));
      assert.ok(entries.every((e) => kmsRequestIds.has(e.requestId)));
      proxy.ekmStatus = 'UNAVAILABLE';
      await eventually(() => fast.sim.requestLog.entries().find((e) => e.eventName === 'KmsHealthCheck' && e.errorCode === 'XKS_PROXY_NOT_REACHABLE'), 'a failed health check');
      assert.equal((await describeStore(id!, client)).ConnectionState, 'CONNECTED', 'CONNECTED does not mean healthy');
    } finally {
      proxy.ekmStatus = 'ACTIVE';
      await fast.close();
    }
  });
});
