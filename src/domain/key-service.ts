import { randomUUID } from 'node:crypto';
import { fail, isoNow, type Clock } from '../base/index.js';
import { keyState, type AadLayout, type Key, type KeyTags, type KeyUsage, type KeyVersion, type Protection } from './model.js';
import type { KeyBackend, KeyRepo, KeyStoreRepo } from './ports.js';
import { validateDescription, validateExpiry, validateExternalKeyId, validateRotationPeriod, validateTags } from './validation.js';
import { createKeyMaterialTransfer } from './key-material-transfer.js';

/** KMS's ScheduleKeyDeletion window: 7–30 days, 30 by default (kms-semantics §2.9). */
export const MIN_DELETION_WINDOW_DAYS = 7;
export const MAX_DELETION_WINDOW_DAYS = 30;
export const DEFAULT_DELETION_WINDOW_DAYS = 30;
const DAY_MS = 86_400_000;

/** Lifecycle settings that can be given at creation and changed later. */
export interface KeyLifecyclePatch {
  description?: string;
  tags?: KeyTags;
  /** null turns automatic rotation off. */
  rotationPeriodDays?: number | null;
  /** ISO 8601; null removes the expiry. */
  expiresAt?: string | null;
}

export interface DueWork {
  rotated: string[];
  destroyed: string[];
  failed: { keyId: string; message: string }[];
}

export type KeyService = ReturnType<typeof createKeyService>;

export type Backends = Partial<Record<Protection, KeyBackend>>;

export function backendFor(backends: Backends, protection: Protection): KeyBackend {
  return backends[protection] ?? fail('BackendUnavailable', `no ${protection} key backend is configured on this node`);
}

export function createKeyService(deps: { repo: KeyRepo & Pick<KeyStoreRepo, 'getKeyStore'>; backends: Backends; clock: Clock }) {
  const { repo, backends, clock } = deps;

  async function mustGet(externalId: string): Promise<Key> {
    return (await repo.getKeyByExternalId(externalId)) ?? fail('KeyNotFound', `key '${externalId}' does not exist`);
  }

  /** KMS refuses most changes to a key pending deletion; so do we. */
  function requireNotPendingDeletion(key: Key, what: string): void {
    if (key.deletionDate !== null) fail('InvalidState', `key '${key.externalId}' is pending deletion (on ${key.deletionDate}); cancel the deletion before you ${what}`);
  }

  function nextRotation(periodDays: number | null, fromMs: number): string | null {
    return periodDays === null ? null : new Date(fromMs + periodDays * DAY_MS).toISOString();
  }

  function lifecycle(patch: KeyLifecyclePatch): KeyLifecyclePatch {
    const out: KeyLifecyclePatch = {};
    if (patch.description !== undefined) out.description = validateDescription(patch.description);
    if (patch.tags !== undefined) out.tags = validateTags(patch.tags);
    if (patch.rotationPeriodDays !== undefined) out.rotationPeriodDays = patch.rotationPeriodDays === null ? null : validateRotationPeriod(patch.rotationPeriodDays);
    if (patch.expiresAt !== undefined) out.expiresAt = patch.expiresAt === null ? null : validateExpiry(patch.expiresAt);
    return out;
  }

  /**
   * Material held outside storage (HSM objects) is destroyed by its backend. A backend that
   * cannot do that refuses the destruction before anything is deleted, so no token object
   * is left behind unnoticed.
   */
  function outsideDestroyer(v: KeyVersion): (() => Promise<void>) | undefined {
    if (v.protection === 'software') return undefined;
    const b = backendFor(backends, v.protection);
    if (!b.destroyVersion) fail('Unsupported', `the ${v.protection} key backend cannot destroy token objects (version ${v.version}, label ${v.hsmLabel ?? '?'}); nothing was deleted`);
    return () => b.destroyVersion!(v);
  }

  /** Destroys every version's material (HSM objects first), then the rows. */
  async function destroy(key: Key): Promise<void> {
    const destroyers = (await repo.listVersions(key.id)).map(outsideDestroyer);
    for (const d of destroyers) await d?.();
    await repo.deleteKey(key.id);
    for (const b of Object.values(backends)) b?.evict?.(key.id);
  }

  async function rotateKey(key: Key): Promise<Key> {
    const version = key.currentVersion + 1;
    const material = await backendFor(backends, key.protection).createVersion(key, version);
    const nowMs = clock.now();
    const now = new Date(nowMs).toISOString();
    await repo.addVersion({ keyId: key.id, version, protection: key.protection, createdAt: now, ...material }, now);
    const nextRotationAt = nextRotation(key.rotationPeriodDays, nowMs);
    if (key.rotationPeriodDays !== null) await repo.updateKey(key.id, { nextRotationAt });
    return { ...key, currentVersion: version, updatedAt: now, nextRotationAt };
  }

  return {
    ...createKeyMaterialTransfer({ repo, backends, clock }),

    async create(input: { externalId: string; keyStore: string; usage?: KeyUsage[]; protection?: Protection; exportable?: boolean } & KeyLifecyclePatch): Promise<Key> {
      const externalId = validateExternalKeyId(input.externalId);
      const lc = lifecycle(input);
      const exportable = input.exportable ?? false;
      if (exportable && input.protection === 'hsm') fail('ValidationFailed', 'HSM keys are generated non-extractable in the token and cannot be exportable; create a software key with --exportable');
      const ks = (await repo.getKeyStore(input.keyStore)) ?? fail('KeyStoreNotFound', `key store '${input.keyStore}' does not exist`);
      if (await repo.getKeyByExternalId(externalId)) fail('Conflict', `key id '${externalId}' is already used on this endpoint`);
      const protection = input.protection ?? 'software';
      const backend = backendFor(backends, protection);
      const nowMs = clock.now();
      const now = new Date(nowMs).toISOString();
      const rotationPeriodDays = lc.rotationPeriodDays ?? null;
      const key: Key = {
        id: randomUUID(),
        keyStoreId: ks.id,
        externalId,
        protection,
        exportable,
        origin: 'keyhold',
        usage: input.usage ?? ['encrypt', 'decrypt'],
        enabled: true,
        currentVersion: 1,
        aadLayout: 'keyhold-v1',
        description: lc.description ?? '',
        tags: lc.tags ?? {},
        rotationPeriodDays,
        nextRotationAt: nextRotation(rotationPeriodDays, nowMs),
        expiresAt: lc.expiresAt ?? null,
        deletionDate: null,
        createdAt: now,
        updatedAt: now,
      };
      // Material is made before the transaction: no backend call happens inside one.
      const material = await backend.createVersion(key, 1);
      const first: KeyVersion = { keyId: key.id, version: 1, protection, createdAt: now, ...material };
      await repo.insertKey(key, first);
      return key;
    },

    /**
     * Takes over an existing HSM key, found by its token label, as version 1 of a new key
     * (migration from the AWS sample proxy, whose key ids are the labels). Keys adopted with
     * the 'sample-proxy' AAD layout keep decrypting what that proxy encrypted.
     */
    async adopt(input: { label: string; keyStore: string; externalId?: string; usage?: KeyUsage[]; aadLayout?: AadLayout }): Promise<{ key: Key; warnings: string[] }> {
      const externalId = validateExternalKeyId(input.externalId ?? input.label);
      const ks = (await repo.getKeyStore(input.keyStore)) ?? fail('KeyStoreNotFound', `key store '${input.keyStore}' does not exist`);
      if (await repo.getKeyByExternalId(externalId)) fail('Conflict', `key id '${externalId}' is already used on this endpoint`);
      const backend = backendFor(backends, 'hsm');
      if (!backend.adopt) fail('Unsupported', 'this key backend cannot adopt existing keys');
      const material = await backend.adopt(input.label);
      // One token object behind two key ids would be two KMS keys on the same material.
      for (const other of await repo.listKeys()) {
        if (other.protection !== 'hsm') continue;
        for (const ov of await repo.listVersions(other.id)) {
          if (ov.hsmLabel === material.hsmLabel && (ov.hsmId ?? null) === (material.hsmId ?? null)) {
            fail('Conflict', `HSM key '${input.label}' already backs key '${other.externalId}' (version ${ov.version})`);
          }
        }
      }
      const now = isoNow(clock);
      const key: Key = {
        id: randomUUID(),
        keyStoreId: ks.id,
        externalId,
        protection: 'hsm',
        exportable: false,
        origin: 'adopted',
        usage: input.usage ?? ['encrypt', 'decrypt'],
        enabled: true,
        currentVersion: 1,
        aadLayout: input.aadLayout ?? 'keyhold-v1',
        description: '',
        tags: {},
        rotationPeriodDays: null,
        nextRotationAt: null,
        expiresAt: null,
        deletionDate: null,
        createdAt: now,
        updatedAt: now,
      };
      const first: KeyVersion = { keyId: key.id, version: 1, protection: 'hsm', sealedMaterial: null, hsmLabel: material.hsmLabel, hsmId: material.hsmId, createdAt: now };
      await repo.insertKey(key, first);
      return { key, warnings: material.warnings };
    },

    async list(keyStore?: string): Promise<Key[]> {
      if (keyStore === undefined) return repo.listKeys();
      const ks = (await repo.getKeyStore(keyStore)) ?? fail('KeyStoreNotFound', `key store '${keyStore}' does not exist`);
      return repo.listKeys(ks.id);
    },

    get: mustGet,

    async versions(externalId: string): Promise<Omit<KeyVersion, 'sealedMaterial'>[]> {
      const key = await mustGet(externalId);
      return (await repo.listVersions(key.id)).map(({ sealedMaterial: _omit, ...rest }) => rest);
    },

    async setEnabled(externalId: string, enabled: boolean): Promise<Key> {
      const key = await mustGet(externalId);
      requireNotPendingDeletion(key, enabled ? 'enable it' : 'disable it');
      const updatedAt = isoNow(clock);
      await repo.updateKey(key.id, { enabled, updatedAt });
      return { ...key, enabled, updatedAt };
    },

    async setUsage(externalId: string, usage: KeyUsage[]): Promise<Key> {
      const key = await mustGet(externalId);
      requireNotPendingDeletion(key, 'change its usage');
      const updatedAt = isoNow(clock);
      await repo.updateKey(key.id, { usage, updatedAt });
      return { ...key, usage, updatedAt };
    },

    /** Adds a version; new encryptions use it, older versions keep decrypting. */
    async rotate(externalId: string): Promise<Key> {
      const key = await mustGet(externalId);
      requireNotPendingDeletion(key, 'rotate it');
      return rotateKey(key);
    },

    /** Description, tags, rotation schedule and expiry. */
    async update(externalId: string, patch: KeyLifecyclePatch): Promise<Key> {
      const key = await mustGet(externalId);
      requireNotPendingDeletion(key, 'change it');
      const lc = lifecycle(patch);
      const updatedAt = isoNow(clock);
      const next: Key = { ...key, ...lc, updatedAt };
      if (lc.rotationPeriodDays !== undefined && lc.rotationPeriodDays !== key.rotationPeriodDays) {
        // A new period counts from now, as when KMS rotation is turned on or changed.
        next.nextRotationAt = nextRotation(next.rotationPeriodDays, clock.now());
      }
      await repo.updateKey(key.id, {
        description: next.description,
        tags: next.tags,
        rotationPeriodDays: next.rotationPeriodDays,
        nextRotationAt: next.nextRotationAt,
        expiresAt: next.expiresAt,
        updatedAt,
      });
      return next;
    },

    /**
     * KMS's ScheduleKeyDeletion: the key stops serving at once (encrypt and decrypt answer
     * InvalidStateException) and its material is destroyed after the waiting period,
     * unless the deletion is cancelled first.
     */
    async scheduleDeletion(externalId: string, pendingWindowInDays: number = DEFAULT_DELETION_WINDOW_DAYS): Promise<Key> {
      if (!Number.isInteger(pendingWindowInDays) || pendingWindowInDays < MIN_DELETION_WINDOW_DAYS || pendingWindowInDays > MAX_DELETION_WINDOW_DAYS) {
        fail('ValidationFailed', `the waiting period must be ${MIN_DELETION_WINDOW_DAYS}-${MAX_DELETION_WINDOW_DAYS} days, not ${String(pendingWindowInDays)}`);
      }
      const key = await mustGet(externalId);
      requireNotPendingDeletion(key, 'schedule it again');
      const nowMs = clock.now();
      const deletionDate = new Date(nowMs + pendingWindowInDays * DAY_MS).toISOString();
      const updatedAt = new Date(nowMs).toISOString();
      await repo.updateKey(key.id, { deletionDate, enabled: false, updatedAt });
      return { ...key, deletionDate, enabled: false, updatedAt };
    },

    /** KMS's CancelKeyDeletion: the key comes back Disabled; enable it to use it again. */
    async cancelDeletion(externalId: string): Promise<Key> {
      const key = await mustGet(externalId);
      if (key.deletionDate === null) fail('InvalidState', `key '${externalId}' is not pending deletion (state ${keyState(key)})`);
      const updatedAt = isoNow(clock);
      await repo.updateKey(key.id, { deletionDate: null, enabled: false, updatedAt });
      return { ...key, deletionDate: null, enabled: false, updatedAt };
    },

    /**
     * Deletes one version that is not the current one. Ciphertexts made with it can no
     * longer be decrypted (InvalidCiphertextException), so this is a quorum-worthy action.
     */
    async deleteVersion(externalId: string, version: number): Promise<Key> {
      const key = await mustGet(externalId);
      requireNotPendingDeletion(key, 'delete a version');
      if (version === key.currentVersion) fail('InvalidState', `version ${version} is the current version of '${externalId}'; rotate the key before deleting it`);
      const v = (await repo.listVersions(key.id)).find((x) => x.version === version);
      if (!v) fail('NotFound', `key '${externalId}' has no version ${String(version)}`);
      await outsideDestroyer(v)?.();
      await repo.deleteVersion(key.id, version);
      for (const b of Object.values(backends)) b?.evict?.(key.id);
      return { ...key, updatedAt: isoNow(clock) };
    },

    /**
     * What the scheduler runs: destroys keys whose deletion date has passed and rotates
     * enabled keys whose rotation is due (a disabled key rotates once it is enabled again,
     * as in KMS). One key's failure does not stop the others.
     */
    async runDue(): Promise<DueWork> {
      const nowMs = clock.now();
      const work: DueWork = { rotated: [], destroyed: [], failed: [] };
      for (const key of await repo.listKeysDue(new Date(nowMs).toISOString())) {
        try {
          if (key.deletionDate !== null) {
            if (Date.parse(key.deletionDate) <= nowMs) {
              await destroy(key);
              work.destroyed.push(key.externalId);
            }
          } else if (key.enabled && key.nextRotationAt !== null && Date.parse(key.nextRotationAt) <= nowMs) {
            await rotateKey(key);
            work.rotated.push(key.externalId);
          }
        } catch (e) {
          work.failed.push({ keyId: key.externalId, message: e instanceof Error ? e.message : String(e) });
        }
      }
      return work;
    },
  };
}
