/**
 * Ports: what the domain needs from the outside world. Adapters implement them
 * (storage/, seal/, backends/, hsm/); app/ wires one implementation of each.
 */
import type { GcmOutput, SealContext } from '../crypto/index.js';
import type { CredentialInfo, HealthStatus, Key, KeyStore, KeyUsage, KeyVersion, Protection } from './model.js';
import type { AdminRepo } from './admin-ports.js';
import type { AwsKeyRepo } from './aws-key-model.js';
import type { AwsRepo } from './aws-ports.js';
import type { ClusterRepo } from './cluster.js';

/** Root of trust: wraps every secret before it reaches storage. */
export interface Seal {
  readonly kind: string;
  seal(plaintext: Uint8Array, ctx: SealContext): Promise<Buffer>;
  unseal(sealed: Uint8Array, ctx: SealContext): Promise<Buffer>;
  close?(): Promise<void>;
}

export interface BackendHealth {
  id: string;
  model: string;
  status: HealthStatus;
  detail?: string;
}

/** What a backend itself knows about a key version (for an HSM: the token object's attributes). */
export interface BackendKeyInfo {
  /** 'AES_256', or another spec string that KMS will refuse. */
  keySpec: string;
  usage: KeyUsage[];
}

/** An existing key taken over as version 1 (for an HSM: a token object found by label). */
export interface AdoptedMaterial extends Pick<KeyVersion, 'hsmLabel' | 'hsmId'> {
  warnings: string[];
}

/** Holds key material and runs AES-256-GCM with it. */
export interface KeyBackend {
  readonly protection: Protection;
  /** Make material for a new key version; returns what storage keeps about it. */
  createVersion(key: Pick<Key, 'id' | 'externalId'>, version: number): Promise<Pick<KeyVersion, 'sealedMaterial' | 'hsmLabel' | 'hsmId'>>;
  encrypt(version: KeyVersion, plaintext: Uint8Array, gcmAad: Uint8Array): Promise<GcmOutput>;
  /** Plaintext, or undefined when the tag does not verify. */
  decrypt(version: KeyVersion, iv: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array, gcmAad: Uint8Array): Promise<Buffer | undefined>;
  /** A version made from material brought in (`keyhold key import`), sealed at once. Software keys only. */
  importVersion?(key: Pick<Key, 'id' | 'externalId'>, version: number, material: Uint8Array): Promise<Pick<KeyVersion, 'sealedMaterial' | 'hsmLabel' | 'hsmId'>>;
  /**
   * The raw material of a version, for copying an exportable key into AWS KMS. The caller
   * checks that the key is exportable and wipes the bytes after use.
   */
  exportVersion?(version: KeyVersion): Promise<Buffer>;
  /** RFC 5649 unwrap under this version's material (the key as a key-encryption key); undefined when it does not verify. */
  unwrapKey?(version: KeyVersion, wrapped: Uint8Array): Promise<Buffer | undefined>;
  /** Deep check: a test encryption on a dedicated key. */
  selfTest(): Promise<BackendHealth>;
  /** Backends whose material has its own attributes (HSM) report them for GetKeyMetadata. */
  describe?(version: KeyVersion): Promise<BackendKeyInfo>;
  /** Backends that can take over existing material (HSM keys by label) implement this. */
  adopt?(label: string): Promise<AdoptedMaterial>;
  /**
   * Destroy the material of a version held outside storage (an HSM object). Software
   * material lives in storage and is destroyed with its row.
   */
  destroyVersion?(version: KeyVersion): Promise<void>;
  /** Forget cached material for one key, or for all keys when no id is given. */
  evict?(keyId?: string): void;
  close?(): Promise<void>;
}

export interface NewCredential {
  info: CredentialInfo;
  sealedSecret: Buffer;
}

export interface LiveCredential extends CredentialInfo {
  sealedSecret: Buffer;
}

export interface KeyStoreRepo {
  insertKeyStore(ks: KeyStore, firstCredential: NewCredential | null): Promise<void>;
  updateKeyStore(id: string, patch: Partial<Pick<KeyStore, 'enabled' | 'policy' | 'regions' | 'quota' | 'updatedAt'>>): Promise<void>;
  deleteKeyStore(id: string): Promise<void>;
  getKeyStore(idOrName: string): Promise<KeyStore | undefined>;
  getKeyStoreByPrefix(prefix: string): Promise<KeyStore | undefined>;
  listKeyStores(): Promise<KeyStore[]>;
}

export interface CredentialRepo {
  insertCredential(c: NewCredential): Promise<void>;
  listCredentials(keyStoreId: string): Promise<CredentialInfo[]>;
  /** Every credential not revoked, with its sealed secret (for the XKS directory). */
  listLiveCredentials(): Promise<LiveCredential[]>;
  revokeCredential(id: string, at: string): Promise<void>;
}

export interface KeyRepo {
  insertKey(key: Key, first: KeyVersion): Promise<void>;
  updateKey(
    id: string,
    patch: Partial<Pick<Key, 'enabled' | 'usage' | 'updatedAt' | 'description' | 'tags' | 'rotationPeriodDays' | 'nextRotationAt' | 'expiresAt' | 'deletionDate'>>,
  ): Promise<void>;
  /** Adds a version and makes it current, atomically. */
  addVersion(v: KeyVersion, updatedAt: string): Promise<void>;
  getKey(id: string): Promise<Key | undefined>;
  getKeyByExternalId(externalId: string): Promise<Key | undefined>;
  listKeys(keyStoreId?: string): Promise<Key[]>;
  countKeys(keyStoreId: string): Promise<number>;
  listVersions(keyId: string): Promise<KeyVersion[]>;
  /** Removes one version; its sealed material is overwritten before the row goes. */
  deleteVersion(keyId: string, version: number): Promise<void>;
  /** Removes a key and all its versions, overwriting sealed material first. */
  deleteKey(id: string): Promise<void>;
  /** Keys whose deletion date or next rotation is at or before `nowIso`. */
  listKeysDue(nowIso: string): Promise<Key[]>;
}

export interface MetaRepo {
  getMeta(name: string): Promise<string | undefined>;
  setMeta(name: string, value: string): Promise<void>;
}

/** Tells long-running processes that another process changed the data. */
export interface ChangeFeed {
  subscribe(listener: () => void): () => void;
  /** False while the feed cannot hear changes made elsewhere (its connection is down). Default: always connected. */
  connected?(): boolean;
  /** Announce a change made by this process (for stores that do not detect it themselves). */
  notify(): Promise<void>;
}

export interface Storage extends KeyStoreRepo, CredentialRepo, KeyRepo, MetaRepo, AdminRepo, AwsRepo, AwsKeyRepo {
  readonly changes: ChangeFeed;
  /** The registry of nodes and leases shared by a cluster (src/domain/cluster.ts). */
  readonly cluster: ClusterRepo;
  /** A cheap round trip, for health. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
