/**
 * KMS keys: CreateKey for the AWS_KMS, EXTERNAL and EXTERNAL_KEY_STORE origins, DescribeKey,
 * ListKeys, Enable/DisableKey, Schedule/CancelKeyDeletion, UpdateKeyDescription
 * (kms-semantics §2.4, §2.9, §5.3). Key specs: symmetric, RSA, the NIST and secp256k1
 * curves, and HMAC (key-specs.ts); keys in an external key store are symmetric only.
 */
import { z } from 'zod';
import { kmsError } from './errors.js';
import { op, wireTime, type Call, type Operation } from './context.js';
import { requireStore } from './custom-key-stores.js';
import { materialId } from './key-material.js';
import { keyMetadata } from './key-metadata.js';
import { checkLockout, checkPolicy, defaultKeyPolicy, policySchema } from './key-policy.js';
import { checkSpecUsage, generateMaterial, isSimulatedSpec, type SimKeySpec, type SimKeyUsage } from './key-specs.js';
import { describeAwsManagedAlias } from './aws-managed.js';
import { keyArn, newKeyId, resolveKey } from './key-resolution.js';
import { allMaterialImported, requireNotPendingDeletion } from './key-state.js';
import { paginate, pageFields } from './pagination.js';
import { createKeyProxyError } from './proxy-outcomes.js';
import { keyRequestMetadata, proxyCall } from './proxy-calls.js';
import { checkNewTags } from './tags.js';
import { grantTokens, int, oneOf, str, tagList } from './schemas.js';
import type { KmsKey, Origin } from './model.js';

const DAY_MS = 86_400_000;

const KEY_SPECS = [
  'SYMMETRIC_DEFAULT', 'RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1',
  'ECC_NIST_EDWARDS25519', 'HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512', 'SM2', 'ML_DSA_44', 'ML_DSA_65', 'ML_DSA_87',
  'ML_KEM_512', 'ML_KEM_768', 'ML_KEM_1024',
] as const;
const KEY_USAGES = ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT', 'ENCAPSULATE_DECAPSULATE'] as const;
const XKS_KEY_ID_RE = /^[a-zA-Z0-9-_.]+$/;

export const keyIdParam = () => str(1, 2048);

export interface NewKeyInput {
  Description?: string | undefined;
  Policy?: string | undefined;
  Tags?: { TagKey: string; TagValue: string }[] | undefined;
  MultiRegion?: boolean | undefined;
}

export function newKey(call: Call, id: string, origin: Origin, input: NewKeyInput, spec: SimKeySpec = 'SYMMETRIC_DEFAULT', usage: SimKeyUsage = 'ENCRYPT_DECRYPT'): KmsKey {
  const rs = call.rs;
  return {
    id,
    arn: keyArn(rs.region, rs.accountId, id),
    accountId: rs.accountId,
    region: rs.region,
    createdAt: call.sim.clock.now(),
    description: input.Description ?? '',
    origin,
    keySpec: spec,
    keyUsage: usage,
    keyManager: 'CUSTOMER',
    multiRegion: input.MultiRegion ?? false,
    mrk: input.MultiRegion ? { primaryRegion: rs.region, replicaRegions: [] } : undefined,
    state: 'Enabled',
    deletionDate: undefined,
    customKeyStoreId: undefined,
    xksKeyId: undefined,
    policy: input.Policy ?? defaultKeyPolicy(rs.accountId),
    tags: new Map((input.Tags ?? []).map((t) => [t.TagKey, t.TagValue])),
    materials: [],
    expirationModel: undefined,
    rotation: { enabled: false, periodDays: 365, nextRotation: undefined, onDemandCount: 0 },
  };
}

async function freshMaterial(keyId: string, spec: SimKeySpec = 'SYMMETRIC_DEFAULT') {
  const bytes = await generateMaterial(spec);
  return { id: materialId(keyId, bytes), bytes, state: 'CURRENT' as const };
}

const createKey = op(
  z.object({
    Policy: policySchema().optional(),
    Description: str(0, 8192).optional(),
    KeyUsage: oneOf(KEY_USAGES).optional(),
    CustomerMasterKeySpec: oneOf(KEY_SPECS).optional(),
    KeySpec: oneOf(KEY_SPECS).optional(),
    Origin: oneOf(['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE']).optional(),
    CustomKeyStoreId: str(1, 64).optional(),
    BypassPolicyLockoutSafetyCheck: z.boolean().optional(),
    Tags: tagList().optional(),
    MultiRegion: z.boolean().optional(),
    XksKeyId: str(1, 128, XKS_KEY_ID_RE).optional(),
  }),
  async (call, input) => {
    if (input.KeySpec !== undefined && input.CustomerMasterKeySpec !== undefined) {
      throw kmsError('ValidationException', 'You cannot specify both KeySpec and CustomerMasterKeySpec. Use KeySpec.');
    }
    const spec = input.KeySpec ?? input.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT';
    const origin = input.Origin ?? 'AWS_KMS';
    if (spec !== 'SYMMETRIC_DEFAULT' && origin === 'EXTERNAL_KEY_STORE') throw kmsError('UnsupportedOperationException', `KeySpec ${spec} is not supported for keys in an external key store.`);
    if (!isSimulatedSpec(spec)) throw kmsError('UnsupportedOperationException', `KeySpec ${spec} is not simulated by this KMS simulator.`);
    if (input.KeyUsage === 'KEY_AGREEMENT' || input.KeyUsage === 'ENCAPSULATE_DECAPSULATE') {
      throw kmsError('UnsupportedOperationException', `KeyUsage ${input.KeyUsage} is not simulated by this KMS simulator.`);
    }
    const usage = checkSpecUsage(spec, input.KeyUsage ?? 'ENCRYPT_DECRYPT');
    if (origin === 'AWS_CLOUDHSM') throw kmsError('UnsupportedOperationException', 'This KMS simulator has no AWS CloudHSM key stores.');
    if (origin !== 'EXTERNAL_KEY_STORE' && input.XksKeyId !== undefined) {
      throw kmsError('ValidationException', 'XksKeyId is valid only when Origin is EXTERNAL_KEY_STORE.');
    }
    if (origin !== 'EXTERNAL_KEY_STORE' && input.CustomKeyStoreId !== undefined) {
      throw kmsError('ValidationException', 'CustomKeyStoreId is valid only when Origin is AWS_CLOUDHSM or EXTERNAL_KEY_STORE.');
    }
    if (input.Policy !== undefined) {
      checkPolicy(input.Policy);
      if (!input.BypassPolicyLockoutSafetyCheck) checkLockout(call, input.Policy);
    }
    checkNewTags(new Map(), input.Tags ?? []);

    const rs = call.rs;
    if (origin === 'EXTERNAL_KEY_STORE') {
      if (input.CustomKeyStoreId === undefined) throw kmsError('ValidationException', 'CustomKeyStoreId is required when Origin is EXTERNAL_KEY_STORE.');
      if (input.XksKeyId === undefined) throw kmsError('ValidationException', 'XksKeyId is required when Origin is EXTERNAL_KEY_STORE.');
      if (input.MultiRegion) throw kmsError('UnsupportedOperationException', 'Multi-Region keys are not supported in a custom key store.');
      const xksKeyId = input.XksKeyId;
      const store = requireStore(call, input.CustomKeyStoreId);
      call.entry.customKeyStoreId = store.id;
      call.entry.xksKeyId = xksKeyId;
      const checkStore = () => {
        if (store.state !== 'CONNECTED' || !rs.stores.has(store.id)) {
          throw kmsError('CustomKeyStoreInvalidStateException', `Custom key store ${store.id} is not connected (state ${store.state}).`);
        }
        for (const k of rs.keys.values()) {
          if (k.customKeyStoreId === store.id && k.xksKeyId === xksKeyId) {
            throw kmsError('XksKeyAlreadyInUseException', `External key ${xksKeyId} is already associated with KMS key ${k.id} in custom key store ${store.id}.`);
          }
        }
      };
      checkStore();
      const key = newKey(call, newKeyId(false), 'EXTERNAL_KEY_STORE', input);
      call.entry.keyArn = key.arn;
      const r = await call.sim.proxy.keyMetadata(proxyCall(call, store, keyRequestMetadata(call, 'CreateKey', key)), xksKeyId);
      if (!r.ok) throw createKeyProxyError(r.failure, xksKeyId);
      const md = r.value;
      if (md.keySpec !== 'AES_256' || !md.keyUsage.includes('ENCRYPT') || !md.keyUsage.includes('DECRYPT') || md.keyStatus !== 'ENABLED') {
        throw kmsError('XksKeyInvalidConfigurationException', `External key ${xksKeyId} must be an enabled AES_256 key that allows ENCRYPT and DECRYPT (it is ${md.keySpec}, ${md.keyUsage.join('/') || 'no usage'}, ${md.keyStatus}).`);
      }
      checkStore(); // the store may have changed while the proxy answered
      key.customKeyStoreId = store.id;
      key.xksKeyId = xksKeyId;
      key.materials.push(await freshMaterial(key.id)); // the HBK: KMS-side material of the double encryption
      rs.keys.set(key.id, key);
      return { KeyMetadata: keyMetadata(rs, key) };
    }

    const key = newKey(call, newKeyId(input.MultiRegion ?? false), origin, input, spec, usage);
    call.entry.keyArn = key.arn;
    if (origin === 'AWS_KMS') key.materials.push(await freshMaterial(key.id, spec));
    else key.state = 'PendingImport';
    rs.keys.set(key.id, key);
    return { KeyMetadata: keyMetadata(rs, key) };
  },
);

const describeKey = op(z.object({ KeyId: keyIdParam(), GrantTokens: grantTokens().optional() }), async (call, input) => {
  // An AWS service's DescribeKey on its predefined alias creates the AWS-managed key.
  const key = (await describeAwsManagedAlias(call, input.KeyId)) ?? resolveKey(call, input.KeyId, { aliases: true });
  call.entry.keyArn = key.arn;
  return { KeyMetadata: keyMetadata(call.rs, key) };
});

const listKeys = op(z.object({ Limit: int(1, 1000).optional(), Marker: str(1, 1024, /^[\u0020-\u00FF]*$/).optional() }), async (call, input) => {
  const page = paginate([...call.rs.keys.values()], (k) => k.id, input.Limit ?? 100, input.Marker);
  return { Keys: page.items.map((k) => ({ KeyId: k.id, KeyArn: k.arn })), ...pageFields(page) };
});

function setEnabled(enabled: boolean): Operation {
  return op(z.object({ KeyId: keyIdParam() }), async (call, input) => {
    const key = resolveKey(call, input.KeyId, { aliases: false });
    call.entry.keyArn = key.arn;
    requireNotPendingDeletion(key);
    if (key.state === 'PendingImport') throw kmsError('KMSInvalidStateException', `${key.arn} is pending import.`);
    // On an Unavailable key this succeeds; the new state shows once the store is connected.
    key.state = enabled ? 'Enabled' : 'Disabled';
    return {};
  });
}

const scheduleKeyDeletion = op(z.object({ KeyId: keyIdParam(), PendingWindowInDays: int(1, 365).optional() }), async (call, input) => {
  const key = resolveKey(call, input.KeyId, { aliases: false });
  call.entry.keyArn = key.arn;
  const days = input.PendingWindowInDays ?? 30;
  if (days < 7 || days > 30) {
    throw kmsError('ValidationException', `1 validation error detected: Value '${days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must be between 7 and 30 days`);
  }
  requireNotPendingDeletion(key);
  key.state = 'PendingDeletion';
  key.deletionDate = call.sim.clock.now() + days * DAY_MS;
  return { KeyId: key.arn, DeletionDate: wireTime(key.deletionDate), KeyState: 'PendingDeletion', PendingWindowInDays: days };
});

const cancelKeyDeletion = op(z.object({ KeyId: keyIdParam() }), async (call, input) => {
  const key = resolveKey(call, input.KeyId, { aliases: false });
  call.entry.keyArn = key.arn;
  if (key.state !== 'PendingDeletion') throw kmsError('KMSInvalidStateException', `${key.arn} is not pending deletion.`);
  key.deletionDate = undefined;
  // KMS leaves the key Disabled; an imported key without its material is back to PendingImport.
  key.state = key.origin === 'EXTERNAL' && !allMaterialImported(key) ? 'PendingImport' : 'Disabled';
  return { KeyId: key.arn };
});

const updateKeyDescription = op(z.object({ KeyId: keyIdParam(), Description: str(0, 8192) }), async (call, input) => {
  const key = resolveKey(call, input.KeyId, { aliases: false });
  call.entry.keyArn = key.arn;
  requireNotPendingDeletion(key);
  key.description = input.Description;
  return {};
});

export const keyOperations: Record<string, Operation> = {
  CreateKey: createKey,
  DescribeKey: describeKey,
  ListKeys: listKeys,
  EnableKey: setEnabled(true),
  DisableKey: setEnabled(false),
  ScheduleKeyDeletion: scheduleKeyDeletion,
  CancelKeyDeletion: cancelKeyDeletion,
  UpdateKeyDescription: updateKeyDescription,
};
