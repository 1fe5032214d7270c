/**
 * Key rotation inside KMS (kms-semantics §2.12): automatic and on-demand rotation of
 * AWS_KMS keys, on-demand rotation of EXTERNAL keys to imported NEW_KEY_MATERIAL, and
 * ListKeyRotations. Keys in an external key store cannot rotate in KMS.
 */
import { z } from 'zod';
import { kmsError } from './errors.js';
import { op, wireTime, type Operation } from './context.js';
import { resolveKey } from './key-resolution.js';
import { effectiveState, rotateAwsKmsKey } from './key-state.js';
import { paginate, pageFields } from './pagination.js';
import { int, oneOf, str } from './schemas.js';
import type { KmsKey, RegionState } from './model.js';

const DAY_MS = 86_400_000;
export const MAX_ON_DEMAND_ROTATIONS = 25;

function requireRotatable(rs: RegionState, key: KmsKey, allowExternal: boolean): void {
  if (key.keySpec !== 'SYMMETRIC_DEFAULT') throw kmsError('UnsupportedOperationException', `${key.arn} is a ${key.keySpec} key; only symmetric encryption keys rotate in KMS.`);
  if (key.origin === 'EXTERNAL_KEY_STORE') throw kmsError('UnsupportedOperationException', `${key.arn} is in an external key store; KMS cannot rotate it.`);
  if (key.origin === 'EXTERNAL' && !allowExternal) throw kmsError('UnsupportedOperationException', `${key.arn} has imported key material; automatic rotation is not supported.`);
  const state = effectiveState(rs, key);
  if (state === 'Disabled') throw kmsError('DisabledException', `${key.arn} is disabled.`);
  if (state !== 'Enabled') throw kmsError('KMSInvalidStateException', `${key.arn} is ${state === 'PendingDeletion' ? 'pending deletion' : state === 'PendingImport' ? 'pending import' : 'unavailable'}.`);
}

export const rotationOperations: Record<string, Operation> = {
  EnableKeyRotation: op(z.object({ KeyId: str(1, 2048), RotationPeriodInDays: int(90, 2560).optional() }), async (call, input) => {
    const key = resolveKey(call, input.KeyId, { aliases: false });
    call.entry.keyArn = key.arn;
    requireRotatable(call.rs, key, false);
    key.rotation.enabled = true;
    key.rotation.periodDays = input.RotationPeriodInDays ?? key.rotation.periodDays;
    key.rotation.nextRotation = call.sim.clock.now() + key.rotation.periodDays * DAY_MS;
    return {};
  }),

  DisableKeyRotation: op(z.object({ KeyId: str(1, 2048) }), async (call, input) => {
    const key = resolveKey(call, input.KeyId, { aliases: false });
    call.entry.keyArn = key.arn;
    requireRotatable(call.rs, key, false);
    key.rotation.enabled = false;
    key.rotation.nextRotation = undefined;
    return {};
  }),

  GetKeyRotationStatus: op(z.object({ KeyId: str(1, 2048) }), async (call, input) => {
    const key = resolveKey(call, input.KeyId, { aliases: true });
    call.entry.keyArn = key.arn;
    if (key.origin !== 'AWS_KMS') throw kmsError('UnsupportedOperationException', `${key.arn} origin is ${key.origin}; automatic rotation does not apply to it.`);
    if (key.keySpec !== 'SYMMETRIC_DEFAULT') throw kmsError('UnsupportedOperationException', `${key.arn} is a ${key.keySpec} key; automatic rotation does not apply to it.`);
    if (key.state === 'PendingDeletion') throw kmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    const onDemand = key.materials.filter((m) => m.rotationType === 'ON_DEMAND').map((m) => m.rotatedAt!);
    return {
      KeyRotationEnabled: key.rotation.enabled,
      KeyId: key.arn,
      ...(key.rotation.enabled ? { RotationPeriodInDays: key.rotation.periodDays, NextRotationDate: wireTime(key.rotation.nextRotation!) } : {}),
      ...(onDemand.length > 0 ? { OnDemandRotationStartDate: wireTime(Math.max(...onDemand)) } : {}),
    };
  }),

  RotateKeyOnDemand: op(z.object({ KeyId: str(1, 2048) }), async (call, input) => {
    const key = resolveKey(call, input.KeyId, { aliases: false });
    call.entry.keyArn = key.arn;
    requireRotatable(call.rs, key, true);
    if (key.rotation.onDemandCount >= MAX_ON_DEMAND_ROTATIONS) throw kmsError('LimitExceededException', `${key.arn} has reached the limit of ${MAX_ON_DEMAND_ROTATIONS} on-demand rotations.`);
    const now = call.sim.clock.now();
    if (key.origin === 'AWS_KMS') rotateAwsKmsKey(key, now, 'ON_DEMAND');
    else {
      const pending = key.materials.find((m) => m.state === 'PENDING_ROTATION');
      if (!pending) throw kmsError('UnsupportedOperationException', `${key.arn} has no new key material to rotate to. Import it with ImportType NEW_KEY_MATERIAL first.`);
      for (const m of key.materials) if (m.state === 'CURRENT') m.state = 'NON_CURRENT';
      pending.state = 'CURRENT';
      pending.rotatedAt = now;
      pending.rotationType = 'ON_DEMAND';
      key.expirationModel = pending.expirationModel;
    }
    key.rotation.onDemandCount++;
    return { KeyId: key.arn };
  }),

  ListKeyRotations: op(
    z.object({
      KeyId: str(1, 2048),
      IncludeKeyMaterial: oneOf(['ALL_KEY_MATERIAL', 'ROTATIONS_ONLY']).optional(),
      Limit: int(1, 1000).optional(),
      Marker: str(1, 1024, /^[\u0020-\u00FF]*$/).optional(),
    }),
    async (call, input) => {
      const key = resolveKey(call, input.KeyId, { aliases: false });
      call.entry.keyArn = key.arn;
      if (key.origin === 'EXTERNAL_KEY_STORE') throw kmsError('UnsupportedOperationException', `${key.arn} is in an external key store; it has no rotations in KMS.`);
      const all = input.IncludeKeyMaterial === 'ALL_KEY_MATERIAL';
      const materials = key.materials.filter((m) => all || m.rotatedAt !== undefined);
      // Sort by position in the key's history: zero-padded index keeps the order stable.
      const indexed = materials.map((m) => ({ m, order: String(key.materials.indexOf(m)).padStart(6, '0') }));
      const page = paginate(indexed, (x) => x.order, input.Limit ?? 100, input.Marker);
      const rotations = page.items.map(({ m }) => ({
        KeyId: key.arn,
        ...(m.rotatedAt !== undefined ? { RotationDate: wireTime(m.rotatedAt), RotationType: m.rotationType } : {}),
        ...(key.origin === 'EXTERNAL'
          ? {
              KeyMaterialId: m.id,
              ...(m.description !== undefined ? { KeyMaterialDescription: m.description } : {}),
              ImportState: m.bytes ? 'IMPORTED' : 'PENDING_IMPORT',
              KeyMaterialState: m.state,
              ...(m.expirationModel !== undefined ? { ExpirationModel: m.expirationModel } : {}),
              ...(m.validTo !== undefined ? { ValidTo: wireTime(m.validTo) } : {}),
            }
          : {}),
      }));
      return { Rotations: rotations, ...pageFields(page) };
    },
  ),
};
