/**
 * Key states as KMS derives and enforces them (kms-semantics §5.3, §1.6): the stored state,
 * `Unavailable` for keys of a key store that is not CONNECTED, and the time-driven changes
 * (end of the deletion window, expiry of imported material, automatic rotation), which the
 * simulator applies lazily before each call.
 */
import { randomBytes } from 'node:crypto';
import { kmsError } from './errors.js';
import { materialId } from './key-material.js';
import type { KeyState, KmsKey, RegionState } from './model.js';

const DAY_MS = 86_400_000;

export function effectiveState(rs: RegionState, key: KmsKey): KeyState {
  if (key.customKeyStoreId !== undefined && key.state !== 'PendingDeletion') {
    const store = rs.stores.get(key.customKeyStoreId);
    if (!store || store.state !== 'CONNECTED') return 'Unavailable';
  }
  return key.state;
}

/** The checks every cryptographic operation makes before touching key material. */
export function requireUsable(rs: RegionState, key: KmsKey): void {
  switch (effectiveState(rs, key)) {
    case 'Enabled':
      return;
    case 'Disabled':
      throw kmsError('DisabledException', `${key.arn} is disabled.`);
    case 'PendingDeletion':
      throw kmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    case 'PendingImport':
      throw kmsError('KMSInvalidStateException', `${key.arn} is pending import.`);
    case 'Unavailable':
      throw kmsError('KMSInvalidStateException', `${key.arn} is unavailable because its custom key store is not connected.`);
  }
}

/** Management operations that PendingDeletion forbids. */
export function requireNotPendingDeletion(key: KmsKey): void {
  if (key.state === 'PendingDeletion') throw kmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
}

/** Applies everything that became due by `now` in this account and Region. */
export function applyTimeEffects(rs: RegionState, now: number): void {
  for (const key of [...rs.keys.values()]) {
    if (key.state === 'PendingDeletion' && key.deletionDate !== undefined && key.deletionDate <= now) {
      rs.keys.delete(key.id);
      for (const [name, a] of rs.aliases) if (a.targetKeyId === key.id) rs.aliases.delete(name);
      for (const [token, p] of rs.importTokens) if (p.keyId === key.id) rs.importTokens.delete(token);
      for (const [id, g] of rs.grants) if (g.keyId === key.id) rs.grants.delete(id);
      if (key.mrk) key.mrk.replicaRegions = key.mrk.replicaRegions.filter((r) => r !== rs.region);
      for (const m of key.materials) m.bytes?.fill(0);
      continue;
    }
    if (key.origin === 'EXTERNAL') {
      let expired = false;
      for (const m of key.materials) {
        if (m.bytes && m.validTo !== undefined && m.validTo <= now) {
          m.bytes.fill(0);
          m.bytes = undefined;
          expired = true;
        }
      }
      if (expired && key.state !== 'PendingDeletion') key.state = 'PendingImport';
    }
    if (key.origin === 'AWS_KMS' && key.rotation.enabled && key.rotation.nextRotation !== undefined && key.rotation.nextRotation <= now) {
      rotateAwsKmsKey(key, key.rotation.nextRotation, 'AUTOMATIC');
      key.rotation.nextRotation = key.rotation.nextRotation + key.rotation.periodDays * DAY_MS;
    }
  }
  // Expired tokens are kept a day longer so that using one is ExpiredImportTokenException.
  for (const [token, p] of rs.importTokens) if (p.validTo + DAY_MS <= now) rs.importTokens.delete(token);
}

/** New KMS-generated material becomes current; the old stays for decryption. */
export function rotateAwsKmsKey(key: KmsKey, at: number, type: 'AUTOMATIC' | 'ON_DEMAND'): void {
  for (const m of key.materials) if (m.state === 'CURRENT') m.state = 'NON_CURRENT';
  const bytes = randomBytes(32); // only symmetric keys rotate
  key.materials.push({ id: materialId(key.id, bytes), bytes, state: 'CURRENT', rotatedAt: at, rotationType: type });
}

export function currentMaterial(key: KmsKey) {
  return key.materials.find((m) => m.state === 'CURRENT');
}

/** Imported keys are Enabled only when every material associated with them is present. */
export function allMaterialImported(key: KmsKey): boolean {
  return key.materials.length > 0 && key.materials.every((m) => m.bytes !== undefined);
}
