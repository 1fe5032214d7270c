/**
 * The domain's AwsGateway over the AWS SDK: each call goes through createAwsClients and
 * every failure is thrown once, as an AwsCallError with its classified reason.
 */
import {
  ConnectCustomKeyStoreCommand,
  CreateAliasCommand,
  CreateCustomKeyStoreCommand,
  CreateKeyCommand,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
  DisconnectCustomKeyStoreCommand,
  ListAliasesCommand,
  ListKeysCommand,
  UpdateCustomKeyStoreCommand,
  UpdateKeyDescriptionCommand,
  type KeyMetadata,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { AwsCallError, isAwsCallError, type AwsGateway, type AwsKmsKeyInfo, type AwsKmsPort, type AwsSession } from '../domain/index.js';
import { createAwsClients, type AwsClientOptions, type AwsClients } from './clients.js';
import { classifyAwsError } from './errors.js';

async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isAwsCallError(e)) throw e;
    throw new AwsCallError(classifyAwsError(e), what);
  }
}

function keyInfo(md: KeyMetadata | undefined): AwsKmsKeyInfo {
  return {
    keyId: md?.KeyId ?? '',
    arn: md?.Arn ?? '',
    keyState: md?.KeyState ?? 'Unknown',
    enabled: md?.Enabled ?? false,
    customKeyStoreId: md?.CustomKeyStoreId ?? null,
    xksKeyId: md?.XksKeyConfiguration?.Id ?? null,
  };
}

export function kmsPort(kms: KMSClient): AwsKmsPort {
  return {
    listKeys: (limit, marker) =>
      call('ListKeys', async () => {
        const r = await kms.send(new ListKeysCommand({ Limit: limit, ...(marker ? { Marker: marker } : {}) }));
        return { keyIds: (r.Keys ?? []).map((k) => k.KeyId ?? '').filter(Boolean), next: r.Truncated ? r.NextMarker : undefined };
      }),
    listAliases: (limit) => call('ListAliases', async () => ((await kms.send(new ListAliasesCommand({ Limit: limit }))).Aliases ?? []).map((a) => a.AliasName ?? '')),
    describeKey: (keyId) => call('DescribeKey', async () => keyInfo((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata)),
    updateKeyDescription: (keyId, description) =>
      call('UpdateKeyDescription', async () => {
        await kms.send(new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: description }));
      }),
    describeCustomKeyStores: (filter) =>
      call('DescribeCustomKeyStores', async () => {
        const r = await kms.send(
          new DescribeCustomKeyStoresCommand({ ...(filter.id ? { CustomKeyStoreId: filter.id } : {}), ...(filter.name ? { CustomKeyStoreName: filter.name } : {}) }),
        );
        return (r.CustomKeyStores ?? []).map((s) => ({
          id: s.CustomKeyStoreId ?? '',
          name: s.CustomKeyStoreName ?? '',
          connectionState: s.ConnectionState ?? 'UNKNOWN',
          connectionErrorCode: s.ConnectionErrorCode ?? null,
          endpoint: s.XksProxyConfiguration?.UriEndpoint ?? null,
          uriPath: s.XksProxyConfiguration?.UriPath ?? null,
          accessKeyId: s.XksProxyConfiguration?.AccessKeyId ?? null,
        }));
      }),
    createCustomKeyStore: (input) =>
      call('CreateCustomKeyStore', async () => {
        const r = await kms.send(
          new CreateCustomKeyStoreCommand({
            CustomKeyStoreName: input.name,
            CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
            XksProxyConnectivity: input.connectivity,
            XksProxyUriEndpoint: input.endpoint,
            XksProxyUriPath: input.uriPath,
            ...(input.vpcEndpointServiceName ? { XksProxyVpcEndpointServiceName: input.vpcEndpointServiceName } : {}),
            XksProxyAuthenticationCredential: { AccessKeyId: input.credential.accessKeyId, RawSecretAccessKey: input.credential.secretAccessKey },
          }),
        );
        return r.CustomKeyStoreId ?? '';
      }),
    connectCustomKeyStore: (id) =>
      call('ConnectCustomKeyStore', async () => {
        await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
      }),
    disconnectCustomKeyStore: (id) =>
      call('DisconnectCustomKeyStore', async () => {
        await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
      }),
    updateCustomKeyStoreCredential: (id, credential) =>
      call('UpdateCustomKeyStore', async () => {
        await kms.send(
          new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: id, XksProxyAuthenticationCredential: { AccessKeyId: credential.accessKeyId, RawSecretAccessKey: credential.secretAccessKey } }),
        );
      }),
    createXksKey: (input) =>
      call('CreateKey', async () => {
        const r = await kms.send(
          new CreateKeyCommand({
            Origin: 'EXTERNAL_KEY_STORE',
            CustomKeyStoreId: input.customKeyStoreId,
            XksKeyId: input.xksKeyId,
            KeySpec: 'SYMMETRIC_DEFAULT',
            KeyUsage: 'ENCRYPT_DECRYPT',
            Description: input.description,
            ...(input.policy ? { Policy: input.policy } : {}),
          }),
        );
        return keyInfo(r.KeyMetadata);
      }),
    createAlias: (alias, keyId) =>
      call('CreateAlias', async () => {
        await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
      }),
  };
}

export function sessionOf(clients: AwsClients): AwsSession {
  const ports = new Map<string, AwsKmsPort>();
  return {
    kms(region) {
      let p = ports.get(region);
      if (!p) {
        p = kmsPort(clients.kms(region));
        ports.set(region, p);
      }
      return p;
    },
    identity: () =>
      call('STS GetCallerIdentity', async () => {
        const r = await clients.sts().send(new GetCallerIdentityCommand({}));
        return { account: r.Account ?? '', arn: r.Arn ?? '' };
      }),
    close: () => clients.close(),
  };
}

/** The gateway the composition root hands to the domain services. */
export function createAwsGateway(opts: AwsClientOptions = {}): AwsGateway {
  return {
    open: (connection, secrets) => {
      try {
        return sessionOf(createAwsClients(connection, secrets, opts));
      } catch (e) {
        if (isAwsCallError(e)) throw e;
        throw new AwsCallError(classifyAwsError(e), `opening connection '${connection.name}'`);
      }
    },
  };
}
