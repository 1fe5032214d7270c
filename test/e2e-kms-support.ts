/**
 * Setup shared by the end-to-end tests: a real Keyhold server (test/support/keyhold-harness)
 * and the KMS simulator trusting its certificate, plus helpers that drive both.
 */
import assert from 'node:assert/strict';
import {
  ConnectCustomKeyStoreCommand,
  CreateCustomKeyStoreCommand,
  CreateKeyCommand,
  DescribeCustomKeyStoresCommand,
  DisconnectCustomKeyStoreCommand,
  type CustomKeyStoresListEntry,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { startKeyhold, type KeyholdHarness } from './support/keyhold-harness.js';
import { eventually, startSimulator, type TestSimulator } from './kms-sim-support.js';

export const E2E_REGION = 'eu-west-1';

export interface AwsConfigFile {
  XksProxyUriPath: string;
  XksProxyAuthenticationCredential: { AccessKeyId: string; RawSecretAccessKey: string };
}

export interface E2E {
  keyhold: KeyholdHarness;
  t: TestSimulator;
  kms: KMSClient;
  close(): Promise<void>;
}

export async function startE2E(simOptions: Parameters<typeof startSimulator>[0] = {}): Promise<E2E> {
  const keyhold = await startKeyhold({ demo: false });
  try {
    const t = await startSimulator({ proxyCa: keyhold.caPem, ...simOptions });
    return {
      keyhold,
      t,
      kms: t.kms(),
      async close() {
        await t.close();
        await keyhold.dispose();
      },
    };
  } catch (e) {
    await keyhold.dispose();
    throw e;
  }
}

/** Creates a Keyhold key store for the test Region and returns its AWS proxy configuration file. */
export async function keyholdKeyStore(keyhold: KeyholdHarness, name: string): Promise<AwsConfigFile> {
  await keyhold.json(['keystore', 'create', name, '--prefix', `/${name}`, '--region', E2E_REGION]);
  const r = await keyhold.cli(['keystore', 'aws-config', name]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as AwsConfigFile;
}

export async function keyholdKey(keyhold: KeyholdHarness, keyId: string, keyStore: string): Promise<void> {
  await keyhold.json(['key', 'create', keyId, '--keystore', keyStore]);
}

/** CreateCustomKeyStore from Keyhold's exported configuration, as a console user would. */
export async function createStoreFromConfig(kms: KMSClient, keyhold: KeyholdHarness, name: string, config: AwsConfigFile, connectivity: 'PUBLIC_ENDPOINT' | 'VPC_ENDPOINT_SERVICE' = 'PUBLIC_ENDPOINT') {
  const r = await kms.send(
    new CreateCustomKeyStoreCommand({
      CustomKeyStoreName: name,
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      XksProxyConnectivity: connectivity,
      XksProxyUriEndpoint: keyhold.url,
      XksProxyUriPath: config.XksProxyUriPath,
      XksProxyAuthenticationCredential: config.XksProxyAuthenticationCredential,
      ...(connectivity === 'VPC_ENDPOINT_SERVICE' ? { XksProxyVpcEndpointServiceName: `com.amazonaws.vpce.${E2E_REGION}.vpce-svc-0${name.replace(/[^0-9a-z]/g, '')}` } : {}),
    }),
  );
  return r.CustomKeyStoreId!;
}

export async function describeStore(kms: KMSClient, id: string): Promise<CustomKeyStoresListEntry> {
  return (await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: id }))).CustomKeyStores![0]!;
}

/** ConnectCustomKeyStore and wait until it is no longer CONNECTING. */
export async function connect(kms: KMSClient, id: string): Promise<CustomKeyStoresListEntry> {
  await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
  return eventually(async () => {
    const d = await describeStore(kms, id);
    return d.ConnectionState === 'CONNECTING' ? undefined : d;
  }, 'the connection attempt to finish');
}

export async function reconnect(kms: KMSClient, id: string): Promise<CustomKeyStoresListEntry> {
  const d = await describeStore(kms, id);
  if (d.ConnectionState !== 'DISCONNECTED') await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
  return connect(kms, id);
}

export async function createXksKey(kms: KMSClient, storeId: string, xksKeyId: string) {
  return (await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: storeId, XksKeyId: xksKeyId, Description: `Keyhold key ${xksKeyId}` }))).KeyMetadata!;
}

export interface KeyholdXksLine {
  kmsRequestId?: string;
  operation?: string;
  kmsOperation?: string;
  outcome?: string;
  key?: string;
  keyVersion?: number;
}

/** Keyhold's own log lines for XKS calls (one JSON object per line), as far as they have arrived. */
export function keyholdXksLog(keyhold: KeyholdHarness): KeyholdXksLine[] {
  return keyhold
    .output()
    .split('\n')
    .filter((l) => l.includes('"event":"xks"'))
    .map((l) => JSON.parse(l) as Record<string, string>);
}

/**
 * Retries `fn` while it fails with `transient` (a change made through the CLI that the
 * running server has not seen yet); any other outcome is returned or thrown.
 */
export async function retryWhile<T>(transient: string, fn: () => Promise<T>): Promise<T> {
  let result: T | undefined;
  await eventually(async () => {
    try {
      result = await fn();
      return true;
    } catch (err) {
      if ((err as Error).name === transient) return undefined;
      throw err;
    }
  }, `the server to stop answering ${transient}`);
  return result as T;
}

/** Keyhold's log lines for one KMS request id, once at least `count` of them have arrived. */
export async function keyholdCallsFor(keyhold: KeyholdHarness, kmsRequestId: string | undefined, count = 1): Promise<KeyholdXksLine[]> {
  assert.ok(kmsRequestId, 'a KMS request id');
  return eventually(() => {
    const lines = keyholdXksLog(keyhold).filter((l) => l.kmsRequestId === kmsRequestId);
    return lines.length >= count ? lines : undefined;
  }, `Keyhold to log ${count} call(s) for ${kmsRequestId}`);
}

/** Runs a call that must fail; returns the error name and the KMS request id. */
export async function failure(fn: () => Promise<unknown>): Promise<{ name: string; requestId: string | undefined }> {
  try {
    await fn();
  } catch (e) {
    return { name: (e as Error).name, requestId: (e as { $metadata?: { requestId?: string } }).$metadata?.requestId };
  }
  throw new Error('expected the call to fail');
}
