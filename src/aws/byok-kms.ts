/**
 * The BYOK operations over the AWS SDK (ByokKmsPort): listing and reading native KMS keys
 * for a sync, creating keys, and importing key material. Every failure is thrown once, as
 * an AwsCallError with its classified reason.
 */
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  DeleteImportedKeyMaterialCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  PutKeyPolicyCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAliasCommand,
  DescribeKeyCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  ListAliasesCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  type KeySpec,
  type KeyUsageType,
  type KeyMetadata,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { fail } from '../base/index.js';
import { AwsCallError, awsSecretSealContext, isAwsCallError, type AwsConnection, type AwsConnectionRecord, type AwsKeyMetadata, type ByokKmsPort, type ByokSession, type Seal, type Storage } from '../domain/index.js';
import { createAwsClients, type AwsClients } from './clients.js';
import type { AwsProxySettings } from './http.js';
import { classifyAwsError } from './errors.js';

async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isAwsCallError(e)) throw e;
    throw new AwsCallError(classifyAwsError(e), what);
  }
}

const iso = (d: Date | undefined) => (d ? d.toISOString() : null);

function metadata(md: KeyMetadata | undefined): AwsKeyMetadata {
  return {
    keyId: md?.KeyId ?? '',
    arn: md?.Arn ?? '',
    accountId: md?.AWSAccountId ?? '',
    keySpec: md?.KeySpec ?? md?.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT',
    keyUsage: md?.KeyUsage ?? 'ENCRYPT_DECRYPT',
    origin: md?.Origin ?? 'AWS_KMS',
    keyManager: md?.KeyManager ?? 'CUSTOMER',
    keyState: md?.KeyState ?? 'Unknown',
    description: md?.Description ?? '',
    expirationModel: md?.ExpirationModel ?? null,
    validTo: iso(md?.ValidTo),
    multiRegion: md?.MultiRegion ?? false,
    customKeyStoreId: md?.CustomKeyStoreId ?? null,
    xksKeyId: md?.XksKeyConfiguration?.Id ?? null,
    createdAt: iso(md?.CreationDate),
    deletionDate: iso(md?.DeletionDate),
  };
}

export function byokKmsPort(kms: KMSClient): ByokKmsPort {
  return {
    listKeys: (limit, marker) =>
      call('ListKeys', async () => {
        const r = await kms.send(new ListKeysCommand({ Limit: limit, ...(marker ? { Marker: marker } : {}) }));
        return { keys: (r.Keys ?? []).filter((k) => k.KeyId).map((k) => ({ keyId: k.KeyId!, arn: k.KeyArn ?? '' })), next: r.Truncated ? r.NextMarker : undefined };
      }),
    listAliases: (limit, marker) =>
      call('ListAliases', async () => {
        const r = await kms.send(new ListAliasesCommand({ Limit: limit, ...(marker ? { Marker: marker } : {}) }));
        return { aliases: (r.Aliases ?? []).filter((a) => a.AliasName).map((a) => ({ name: a.AliasName!, targetKeyId: a.TargetKeyId ?? null })), next: r.Truncated ? r.NextMarker : undefined };
      }),
    describeKey: (keyId) => call('DescribeKey', async () => metadata((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata)),
    listResourceTags: (keyId, marker) =>
      call('ListResourceTags', async () => {
        const r = await kms.send(new ListResourceTagsCommand({ KeyId: keyId, Limit: 50, ...(marker ? { Marker: marker } : {}) }));
        return { tags: Object.fromEntries((r.Tags ?? []).map((t) => [t.TagKey ?? '', t.TagValue ?? ''])), next: r.Truncated ? r.NextMarker : undefined };
      }),
    getKeyPolicy: (keyId) => call('GetKeyPolicy', async () => (await kms.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }))).Policy ?? ''),
    getKeyRotationStatus: (keyId) =>
      call('GetKeyRotationStatus', async () => {
        const r = await kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }));
        return { enabled: r.KeyRotationEnabled ?? false, periodDays: r.RotationPeriodInDays ?? null };
      }),
    createKey: (input) =>
      call('CreateKey', async () => {
        const r = await kms.send(
          new CreateKeyCommand({
            Origin: input.origin,
            KeySpec: input.keySpec as KeySpec,
            KeyUsage: input.keyUsage as KeyUsageType,
            Description: input.description,
            ...(Object.keys(input.tags).length ? { Tags: Object.entries(input.tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })) } : {}),
            ...(input.multiRegion ? { MultiRegion: true } : {}),
            ...(input.policy !== undefined ? { Policy: input.policy } : {}),
          }),
        );
        return metadata(r.KeyMetadata);
      }),
    getParametersForImport: (keyId, algorithm, wrappingKeySpec) =>
      call('GetParametersForImport', async () => {
        const r = await kms.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: algorithm, WrappingKeySpec: wrappingKeySpec }));
        return { publicKey: Buffer.from(r.PublicKey ?? []), importToken: Buffer.from(r.ImportToken ?? []), validTo: iso(r.ParametersValidTo) ?? '' };
      }),
    importKeyMaterial: (input) =>
      call('ImportKeyMaterial', async () => {
        const r = await kms.send(
          new ImportKeyMaterialCommand({
            KeyId: input.keyId,
            ImportToken: input.importToken,
            EncryptedKeyMaterial: input.encryptedKeyMaterial,
            ExpirationModel: input.expirationModel,
            ...(input.validTo ? { ValidTo: new Date(input.validTo) } : {}),
            ...(input.importType ? { ImportType: input.importType } : {}),
            ...(input.keyMaterialId ? { KeyMaterialId: input.keyMaterialId } : {}),
          }),
        );
        return { keyMaterialId: r.KeyMaterialId ?? null };
      }),
    createAlias: (name, keyId) =>
      call('CreateAlias', async () => {
        await kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: keyId }));
      }),
    deleteImportedKeyMaterial: (keyId, keyMaterialId) =>
      call('DeleteImportedKeyMaterial', async () => {
        await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId, ...(keyMaterialId ? { KeyMaterialId: keyMaterialId } : {}) }));
      }),
    rotateKeyOnDemand: (keyId) =>
      call('RotateKeyOnDemand', async () => {
        await kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
      }),
    updateAlias: (name, keyId) =>
      call('UpdateAlias', async () => {
        await kms.send(new UpdateAliasCommand({ AliasName: name, TargetKeyId: keyId }));
      }),
    deleteAlias: (name) =>
      call('DeleteAlias', async () => {
        await kms.send(new DeleteAliasCommand({ AliasName: name }));
      }),
    aliasesOf: (keyId) =>
      call('ListAliases', async () => {
        const out: string[] = [];
        let marker: string | undefined;
        do {
          const r = await kms.send(new ListAliasesCommand({ KeyId: keyId, Limit: 100, ...(marker ? { Marker: marker } : {}) }));
          out.push(...(r.Aliases ?? []).map((a) => a.AliasName ?? '').filter(Boolean));
          marker = r.Truncated ? r.NextMarker : undefined;
        } while (marker);
        return out;
      }),
    enableKey: (keyId) =>
      call('EnableKey', async () => {
        await kms.send(new EnableKeyCommand({ KeyId: keyId }));
      }),
    disableKey: (keyId) =>
      call('DisableKey', async () => {
        await kms.send(new DisableKeyCommand({ KeyId: keyId }));
      }),
    scheduleKeyDeletion: (keyId, days) =>
      call('ScheduleKeyDeletion', async () => ({ deletionDate: iso((await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: days }))).DeletionDate) })),
    cancelKeyDeletion: (keyId) =>
      call('CancelKeyDeletion', async () => {
        await kms.send(new CancelKeyDeletionCommand({ KeyId: keyId }));
      }),
    tagResource: (keyId, tags) =>
      call('TagResource', async () => {
        await kms.send(new TagResourceCommand({ KeyId: keyId, Tags: Object.entries(tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })) }));
      }),
    untagResource: (keyId, keys) =>
      call('UntagResource', async () => {
        await kms.send(new UntagResourceCommand({ KeyId: keyId, TagKeys: keys }));
      }),
    putKeyPolicy: (keyId, policy) =>
      call('PutKeyPolicy', async () => {
        await kms.send(new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default', Policy: policy }));
      }),
    enableKeyRotation: (keyId, periodDays) =>
      call('EnableKeyRotation', async () => {
        await kms.send(new EnableKeyRotationCommand({ KeyId: keyId, ...(periodDays !== undefined ? { RotationPeriodInDays: periodDays } : {}) }));
      }),
    disableKeyRotation: (keyId) =>
      call('DisableKeyRotation', async () => {
        await kms.send(new DisableKeyRotationCommand({ KeyId: keyId }));
      }),
  };
}

export function byokSessionOf(clients: AwsClients): ByokSession {
  const ports = new Map<string, ByokKmsPort>();
  return {
    kms(region) {
      let p = ports.get(region);
      if (!p) {
        p = byokKmsPort(clients.kms(region));
        ports.set(region, p);
      }
      return p;
    },
    close: () => clients.close(),
  };
}

/**
 * The AWS key service's `open`: a BYOK session on a connection's credentials. The secret
 * access key is unsealed only here, only in memory, and the unsealed buffer is wiped once the
 * SDK's credentials hold it.
 */
export function createByokSessionOpener(deps: { storage: Pick<Storage, 'getAwsConnection'>; seal: Seal; proxy: AwsProxySettings }): (name: string) => Promise<{ connection: AwsConnection; session: ByokSession }> {
  return async (name) => {
    const rec = (await deps.storage.getAwsConnection(name)) ?? fail('NotFound', `AWS connection '${name}' does not exist`);
    let secretAccessKey: string | null = null;
    if (rec.sealedSecret) {
      const buf = await deps.seal.unseal(rec.sealedSecret, awsSecretSealContext(rec.id));
      secretAccessKey = buf.toString('utf8');
      buf.fill(0);
    }
    const { sealedSecret: _s, ...connection } = rec satisfies AwsConnectionRecord;
    return { connection, session: byokSessionOf(createAwsClients(connection, { secretAccessKey }, { proxy: deps.proxy })) };
  };
}
