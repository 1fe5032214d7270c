/** KeyMetadata as CreateKey and DescribeKey return it (kms-semantics §2.4). */
import { wireTime } from './context.js';
import { currentMaterial, effectiveState } from './key-state.js';
import { algorithmFields } from './key-specs.js';
import { keyArn } from './key-resolution.js';
import type { KmsKey, RegionState } from './model.js';

export function keyMetadata(rs: RegionState, key: KmsKey): Record<string, unknown> {
  const state = effectiveState(rs, key);
  const md: Record<string, unknown> = {
    AWSAccountId: key.accountId,
    KeyId: key.id,
    Arn: key.arn,
    CreationDate: wireTime(key.createdAt),
    Enabled: state === 'Enabled',
    Description: key.description,
    KeyUsage: key.keyUsage,
    KeyState: state,
    Origin: key.origin,
    KeyManager: key.keyManager,
    CustomerMasterKeySpec: key.keySpec,
    KeySpec: key.keySpec,
    ...algorithmFields(key.keySpec, key.keyUsage),
    MultiRegion: key.multiRegion,
  };
  if (key.state === 'PendingDeletion' && key.deletionDate !== undefined) md.DeletionDate = wireTime(key.deletionDate);
  if (key.origin === 'EXTERNAL' && key.expirationModel !== undefined) {
    md.ExpirationModel = key.expirationModel;
    if (key.expirationModel === 'KEY_MATERIAL_EXPIRES') {
      const validTos = key.materials.map((m) => m.validTo).filter((v): v is number => v !== undefined);
      if (validTos.length > 0) md.ValidTo = wireTime(Math.min(...validTos));
    }
  }
  if (key.customKeyStoreId !== undefined) md.CustomKeyStoreId = key.customKeyStoreId;
  if (key.xksKeyId !== undefined) md.XksKeyConfiguration = { Id: key.xksKeyId };
  if (key.mrk) {
    const { primaryRegion, replicaRegions } = key.mrk;
    md.MultiRegionConfiguration = {
      MultiRegionKeyType: primaryRegion === key.region ? 'PRIMARY' : 'REPLICA',
      PrimaryKey: { Arn: keyArn(primaryRegion, key.accountId, key.id), Region: primaryRegion },
      ReplicaKeys: replicaRegions.map((r) => ({ Arn: keyArn(r, key.accountId, key.id), Region: r })),
    };
  }
  if (key.origin !== 'EXTERNAL_KEY_STORE' && key.keySpec === 'SYMMETRIC_DEFAULT') {
    const current = currentMaterial(key);
    if (current) md.CurrentKeyMaterialId = current.id;
  }
  return md;
}
