/**
 * AWS keys (Fortanix calls them virtual keys): Keyhold's record of a native KMS key, never
 * its material; and copies, the links from a local key's material to the AWS key it was
 * imported into. Plain data; behaviour lives in aws-key-service.ts.
 */

export interface AwsKeyRecord {
  /** arn:aws:kms:REGION:ACCOUNT:key/ID: the record's identity. */
  arn: string;
  keyId: string;
  connectionId: string;
  accountId: string;
  region: string;
  keySpec: string;
  keyUsage: string;
  /** AWS_KMS | EXTERNAL | EXTERNAL_KEY_STORE | AWS_CLOUDHSM */
  origin: string;
  /** CUSTOMER | AWS */
  keyManager: string;
  /** KMS's KeyState; 'Gone' once a sync no longer finds the key. */
  state: string;
  description: string;
  aliases: string[];
  tags: Record<string, string>;
  /** The key policy document; null when it could not be read. */
  policy: string | null;
  /** null when KMS does not rotate this kind of key (imported, asymmetric, HMAC, XKS). */
  rotation: { enabled: boolean; periodDays: number | null } | null;
  expirationModel: string | null;
  validTo: string | null;
  multiRegion: boolean;
  customKeyStoreId: string | null;
  xksKeyId: string | null;
  /** The local key this XKS key is backed by, when it is one of Keyhold's own. */
  localKeyId: string | null;
  awsCreatedAt: string | null;
  deletionDate: string | null;
  /** The sync run that last saw the key (resumable syncs keep their run id). */
  syncRun: string;
  syncedAt: string;
  goneAt: string | null;
}

/** A copy of a local key's material into AWS KMS (ImportKeyMaterial), as Fortanix shows it. */
export interface AwsKeyCopy {
  id: string;
  /** Keyhold's internal key id (keys.id). */
  localKeyId: string;
  localVersion: number;
  connectionId: string;
  region: string;
  awsKeyArn: string;
  expirationModel: 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE';
  validTo: string | null;
  keyMaterialId: string | null;
  copiedBy: string;
  copiedAt: string;
}

/**
 * A linked AWS key replaced by another: `key rotate --linked` made a new imported key for the
 * link and moved the aliases to it. The old key keeps decrypting what it made (and can be
 * reimported), but no longer takes new local versions.
 */
export interface AwsKeySupersession {
  /** The ARN of the AWS key that replaced it. */
  by: string;
  at: string;
  /** Who rotated (system for the scheduler). */
  actor: string;
}

export interface AwsKeyFilter {
  connectionId?: string | undefined;
  region?: string | undefined;
  state?: string | undefined;
}

export interface AwsKeyRepo {
  /** Inserts or replaces the record with this ARN. */
  putAwsKey(k: AwsKeyRecord): Promise<void>;
  getAwsKey(arn: string): Promise<AwsKeyRecord | undefined>;
  listAwsKeys(filter?: AwsKeyFilter): Promise<AwsKeyRecord[]>;
  /** Marks every key of the connection and Region not seen by `syncRun` as gone; returns their ARNs. */
  markAwsKeysGone(connectionId: string, region: string, syncRun: string, at: string): Promise<string[]>;
  deleteAwsKey(arn: string): Promise<void>;
  insertAwsKeyCopy(c: AwsKeyCopy): Promise<void>;
  listAwsKeyCopies(filter: { localKeyId?: string; awsKeyArn?: string }): Promise<AwsKeyCopy[]>;
}

/** Full metadata of a KMS key, as DescribeKey returns it (what a sync keeps). */
export interface AwsKeyMetadata {
  keyId: string;
  arn: string;
  accountId: string;
  keySpec: string;
  keyUsage: string;
  origin: string;
  keyManager: string;
  keyState: string;
  description: string;
  expirationModel: string | null;
  validTo: string | null;
  multiRegion: boolean;
  customKeyStoreId: string | null;
  xksKeyId: string | null;
  createdAt: string | null;
  deletionDate: string | null;
}

export type ImportWrappingAlgorithm = 'RSA_AES_KEY_WRAP_SHA_256' | 'RSAES_OAEP_SHA_256';

/** The KMS operations BYOK uses, in one Region of one connection. Failures are AwsCallErrors. */
export interface ByokKmsPort {
  listKeys(limit: number, marker?: string): Promise<{ keys: { keyId: string; arn: string }[]; next: string | undefined }>;
  listAliases(limit: number, marker?: string): Promise<{ aliases: { name: string; targetKeyId: string | null }[]; next: string | undefined }>;
  describeKey(keyId: string): Promise<AwsKeyMetadata>;
  listResourceTags(keyId: string, marker?: string): Promise<{ tags: Record<string, string>; next: string | undefined }>;
  getKeyPolicy(keyId: string): Promise<string>;
  getKeyRotationStatus(keyId: string): Promise<{ enabled: boolean; periodDays: number | null }>;
  createKey(input: { origin: 'AWS_KMS' | 'EXTERNAL'; keySpec: string; keyUsage: string; description: string; tags: Record<string, string>; multiRegion: boolean; policy?: string | undefined }): Promise<AwsKeyMetadata>;
  getParametersForImport(keyId: string, algorithm: ImportWrappingAlgorithm, wrappingKeySpec: 'RSA_2048' | 'RSA_3072' | 'RSA_4096'): Promise<{ publicKey: Buffer; importToken: Buffer; validTo: string }>;
  importKeyMaterial(input: { keyId: string; importToken: Buffer; encryptedKeyMaterial: Buffer; expirationModel: AwsKeyCopy['expirationModel']; validTo?: string | undefined; importType?: 'NEW_KEY_MATERIAL' | 'EXISTING_KEY_MATERIAL' | undefined; keyMaterialId?: string | undefined }): Promise<{ keyMaterialId: string | null }>;
  /** Deletes the current imported material (or the one named): the key goes PendingImport. */
  deleteImportedKeyMaterial(keyId: string, keyMaterialId?: string): Promise<void>;
  /** Makes imported NEW_KEY_MATERIAL current (symmetric EXTERNAL keys, KMS since 2025). */
  rotateKeyOnDemand(keyId: string): Promise<void>;
  createAlias(name: string, keyId: string): Promise<void>;
  updateAlias(name: string, keyId: string): Promise<void>;
  deleteAlias(name: string): Promise<void>;
  /** The aliases of one key (all pages). */
  aliasesOf(keyId: string): Promise<string[]>;
  enableKey(keyId: string): Promise<void>;
  disableKey(keyId: string): Promise<void>;
  scheduleKeyDeletion(keyId: string, days: number): Promise<{ deletionDate: string | null }>;
  cancelKeyDeletion(keyId: string): Promise<void>;
  tagResource(keyId: string, tags: Record<string, string>): Promise<void>;
  untagResource(keyId: string, keys: string[]): Promise<void>;
  putKeyPolicy(keyId: string, policy: string): Promise<void>;
  enableKeyRotation(keyId: string, periodDays?: number): Promise<void>;
  disableKeyRotation(keyId: string): Promise<void>;
}

export interface ByokSession {
  kms(region: string): ByokKmsPort;
  close(): void;
}
