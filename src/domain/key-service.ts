import { randomUUID } from 'node:crypto';
import { fail, isoNow, type Clock } from '../base/index.js';
import type { AadLayout, Key, KeyUsage, KeyVersion, Protection } from './model.js';
import type { KeyBackend, KeyRepo, KeyStoreRepo } from './ports.js';
import { validateExternalKeyId } from './validation.js';

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

  return {
    async create(input: { externalId: string; keyStore: string; usage?: KeyUsage[]; protection?: Protection }): Promise<Key> {
      const externalId = validateExternalKeyId(input.externalId);
      const ks = (await repo.getKeyStore(input.keyStore)) ?? fail('KeyStoreNotFound', `key store '${input.keyStore}' does not exist`);
      if (await repo.getKeyByExternalId(externalId)) fail('Conflict', `key id '${externalId}' is already used on this endpoint`);
      const protection = input.protection ?? 'software';
      const backend = backendFor(backends, protection);
      const now = isoNow(clock);
      const key: Key = {
        id: randomUUID(),
        keyStoreId: ks.id,
        externalId,
        protection,
        usage: input.usage ?? ['encrypt', 'decrypt'],
        enabled: true,
        currentVersion: 1,
        aadLayout: 'keyhold-v1',
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
        usage: input.usage ?? ['encrypt', 'decrypt'],
        enabled: true,
        currentVersion: 1,
        aadLayout: input.aadLayout ?? 'keyhold-v1',
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
      const updatedAt = isoNow(clock);
      await repo.updateKey(key.id, { enabled, updatedAt });
      return { ...key, enabled, updatedAt };
    },

    async setUsage(externalId: string, usage: KeyUsage[]): Promise<Key> {
      const key = await mustGet(externalId);
      const updatedAt = isoNow(clock);
      await repo.updateKey(key.id, { usage, updatedAt });
      return { ...key, usage, updatedAt };
    },

    /** Adds a version; new encryptions use it, older versions keep decrypting. */
    async rotate(externalId: string): Promise<Key> {
      const key = await mustGet(externalId);
      const version = key.currentVersion + 1;
      const material = await backendFor(backends, key.protection).createVersion(key, version);
      const now = isoNow(clock);
      await repo.addVersion({ keyId: key.id, version, protection: key.protection, createdAt: now, ...material }, now);
      return { ...key, currentVersion: version, updatedAt: now };
    },
  };
}
