/**
 * Material that crosses Keyhold's boundary (bring your own key):
 * - in: `keyhold key import` makes a new software key from 32 bytes given by the operator,
 *   raw or unwrapped (RFC 5649) under another local key; the bytes are sealed at once and
 *   wiped, and the key records that its origin is 'imported';
 * - out: the raw material of a version, only for keys created exportable (never HSM keys,
 *   never keys that serve XKS only), for copying into AWS KMS as imported material.
 */
import { randomUUID } from 'node:crypto';
import { fail, wipe, type Clock } from '../base/index.js';
import { keyState, type Key, type KeyTags, type KeyUsage, type KeyVersion } from './model.js';
import type { KeyBackend, KeyRepo, KeyStoreRepo } from './ports.js';
import { validateDescription, validateExternalKeyId, validateTags } from './validation.js';

export const IMPORTED_MATERIAL_BYTES = 32;

export interface KeyImportInput {
  externalId: string;
  keyStore: string;
  /** 32 bytes, or with `wrappedWith` an RFC 5649 wrap of them. The service wipes it. */
  material: Buffer;
  /** External id of a local key whose current version unwraps `material`. */
  wrappedWith?: string | undefined;
  exportable?: boolean | undefined;
  usage?: KeyUsage[] | undefined;
  description?: string | undefined;
  tags?: KeyTags | undefined;
}

export interface ExportedMaterial {
  key: Key;
  version: number;
  /** The caller wipes it. */
  material: Buffer;
}

type Backends = Partial<Record<'software' | 'hsm', KeyBackend>>;

export function createKeyMaterialTransfer(deps: { repo: KeyRepo & Pick<KeyStoreRepo, 'getKeyStore'>; backends: Backends; clock: Clock }) {
  const { repo, backends, clock } = deps;

  function software(): KeyBackend {
    return backends.software ?? fail('BackendUnavailable', 'no software key backend is configured on this node');
  }

  async function currentVersion(key: Key): Promise<KeyVersion> {
    return (await repo.listVersions(key.id)).find((v) => v.version === key.currentVersion) ?? fail('Internal', `key '${key.externalId}' has no version ${key.currentVersion}`);
  }

  async function unwrapWith(wrappingId: string, wrapped: Buffer): Promise<Buffer> {
    const kek = (await repo.getKeyByExternalId(wrappingId)) ?? fail('KeyNotFound', `wrapping key '${wrappingId}' does not exist`);
    if (keyState(kek) !== 'Enabled') fail('InvalidState', `wrapping key '${wrappingId}' is ${keyState(kek)}; only an enabled key unwraps`);
    const backend = backends[kek.protection] ?? fail('BackendUnavailable', `no ${kek.protection} key backend is configured on this node`);
    if (!backend.unwrapKey) fail('Unsupported', `the ${kek.protection} key backend cannot unwrap with key '${wrappingId}'; use a software key as the wrapping key`);
    const out = await backend.unwrapKey(await currentVersion(kek), wrapped);
    return out ?? fail('ValidationFailed', `the file does not unwrap under the current version of '${wrappingId}' (wrong wrapping key, or not an RFC 5649 AES key wrap)`);
  }

  return {
    /** `keyhold key import`: a new software key, version 1 = the given material. */
    async importKey(input: KeyImportInput): Promise<Key> {
      let material: Buffer | undefined;
      try {
        const externalId = validateExternalKeyId(input.externalId);
        const description = input.description === undefined ? '' : validateDescription(input.description);
        const tags = input.tags === undefined ? {} : validateTags(input.tags);
        const ks = (await repo.getKeyStore(input.keyStore)) ?? fail('KeyStoreNotFound', `key store '${input.keyStore}' does not exist`);
        if (await repo.getKeyByExternalId(externalId)) fail('Conflict', `key id '${externalId}' is already used on this endpoint`);
        material = input.wrappedWith !== undefined ? await unwrapWith(input.wrappedWith, input.material) : input.material;
        if (material.length !== IMPORTED_MATERIAL_BYTES) fail('ValidationFailed', `key material must be ${IMPORTED_MATERIAL_BYTES} bytes (AES-256), not ${material.length}`);
        const backend = software();
        if (!backend.importVersion) fail('Unsupported', 'the software key backend cannot import material');
        const now = new Date(clock.now()).toISOString();
        const key: Key = {
          id: randomUUID(),
          keyStoreId: ks.id,
          externalId,
          protection: 'software',
          exportable: input.exportable ?? false,
          origin: 'imported',
          usage: input.usage ?? ['encrypt', 'decrypt'],
          enabled: true,
          currentVersion: 1,
          aadLayout: 'keyhold-v1',
          description,
          tags,
          rotationPeriodDays: null,
          nextRotationAt: null,
          expiresAt: null,
          deletionDate: null,
          createdAt: now,
          updatedAt: now,
        };
        const sealed = await backend.importVersion(key, 1, material);
        await repo.insertKey(key, { keyId: key.id, version: 1, protection: 'software', createdAt: now, ...sealed });
        return key;
      } finally {
        wipe(input.material);
        if (material !== input.material) wipe(material);
      }
    },

    /**
     * The raw material of one version (default: the current one) of an exportable key.
     * Not for the CLI or the admin API: only the AWS copy path calls it.
     */
    async exportMaterial(externalId: string, version?: number): Promise<ExportedMaterial> {
      const key = (await repo.getKeyByExternalId(externalId)) ?? fail('KeyNotFound', `key '${externalId}' does not exist`);
      if (!key.exportable) {
        fail('AccessDenied', `key '${externalId}' is not exportable: its material never leaves Keyhold (it serves XKS only). Only keys created with --exportable can be copied into AWS`);
      }
      if (key.deletionDate !== null) fail('InvalidState', `key '${externalId}' is pending deletion`);
      const n = version ?? key.currentVersion;
      const v = (await repo.listVersions(key.id)).find((x) => x.version === n) ?? fail('NotFound', `key '${externalId}' has no version ${n}`);
      const backend = backends[v.protection] ?? fail('BackendUnavailable', `no ${v.protection} key backend is configured on this node`);
      if (!backend.exportVersion) fail('Unsupported', `${v.protection} key material cannot leave its backend`);
      return { key, version: n, material: await backend.exportVersion(v) };
    },
  };
}
