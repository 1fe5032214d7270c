/** KeyMetadata as CreateKey and DescribeKey return it (kms-semantics §2.4). */
import { wireTime } from './context.js';
import { currentMaterial, effectiveState } from './key-state.js';
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
    KeyUsage: 'ENCRYPT_DECRYPT',
    KeyState: state,
    Origin: key.origin,
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
    KeySpec: 'SYMMETRIC_DEFAULT',
    EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
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
  if (key.multiRegion) {
    md.MultiRegionConfiguration = { MultiRegionKeyType: 'PRIMARY', PrimaryKey: { Arn: key.arn, Region: key.region }, ReplicaKeys: [] };
  }
  if (key.origin !== 'EXTERNAL_KEY_STORE') {
    const current = currentMaterial(key);
    if (current) md.CurrentKeyMaterialId = current.id;
  }
  return md;
}
