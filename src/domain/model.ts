/** Entities of the key management domain. Plain data; behaviour lives in the services. */

export type KeyUsage = 'encrypt' | 'decrypt';
export const KEY_USAGES: readonly KeyUsage[] = ['encrypt', 'decrypt'];

/** Where a key's material lives. */
export type Protection = 'software' | 'hsm';

/**
 * How the GCM AAD is built for a key's ciphertexts.
 * - keyhold-v1: the spec's length-prefixed layout with Keyhold's versioned metadata.
 * - sample-proxy: the AWS sample proxy's layout, accepted on decrypt for adopted keys.
 */
export type AadLayout = 'keyhold-v1' | 'sample-proxy';

export interface KeyStore {
  id: string;
  name: string;
  /** URI path prefix before /kms/xks/v1; '' for none. */
  prefix: string;
  /** AWS Regions whose KMS may call this store (SigV4 credential scope). Empty = any. */
  regions: string[];
  enabled: boolean;
  policy: SecondaryPolicy | null;
  createdAt: string;
  updatedAt: string;
}

export interface CredentialInfo {
  id: string;
  keyStoreId: string;
  accessKeyId: string;
  createdAt: string;
  revokedAt: string | null;
}

export interface Key {
  id: string;
  keyStoreId: string;
  /** The XksKeyId KMS uses; unique across the endpoint. */
  externalId: string;
  protection: Protection;
  usage: KeyUsage[];
  enabled: boolean;
  currentVersion: number;
  aadLayout: AadLayout;
  /** Free text for operators (0–8192 characters, as KMS allows). */
  description: string;
  tags: KeyTags;
  /** Automatic rotation every N days; null when off. */
  rotationPeriodDays: number | null;
  /** When the scheduler next rotates the key (null when automatic rotation is off). */
  nextRotationAt: string | null;
  /** After this instant encrypt is refused; decrypt keeps working. */
  expiresAt: string | null;
  /** Set while the key is pending deletion: the material is destroyed at this instant. */
  deletionDate: string | null;
  createdAt: string;
  updatedAt: string;
}

export type KeyTags = Record<string, string>;

/** The key's state in KMS's words (kms-semantics §2.9). */
export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';

export function keyState(key: Pick<Key, 'enabled' | 'deletionDate'>): KeyState {
  if (key.deletionDate !== null) return 'PendingDeletion';
  return key.enabled ? 'Enabled' : 'Disabled';
}

/** True when the key's expiry date has passed at `nowMs`. */
export function isExpired(key: Pick<Key, 'expiresAt'>, nowMs: number): boolean {
  return key.expiresAt !== null && Date.parse(key.expiresAt) <= nowMs;
}

export interface KeyVersion {
  keyId: string;
  version: number;
  protection: Protection;
  /** Software keys: the sealed 32-byte key. */
  sealedMaterial: Buffer | null;
  /** HSM keys: the token object's label (and CKA_ID, hex) that holds the material. */
  hsmLabel: string | null;
  hsmId: string | null;
  createdAt: string;
}

/** Secondary authorization (xks-spec §8.5): evaluated after SigV4, never on health. */
export interface SecondaryPolicy {
  /** What happens when no rule matches. */
  default: 'allow' | 'deny';
  rules: PolicyRule[];
}

export interface PolicyRule {
  /** Optional name, reported when the rule decides. */
  id?: string | undefined;
  effect: 'allow' | 'deny';
  /** Each list, when present, must match (glob patterns with * and ?). */
  principals?: string[] | undefined;
  operations?: string[] | undefined;
  viaServices?: string[] | undefined;
  keyArns?: string[] | undefined;
  keyIds?: string[] | undefined;
  sourceVpcs?: string[] | undefined;
  sourceVpces?: string[] | undefined;
}

/** What KMS told the proxy about the call (requestMetadata). */
export interface RequestContext {
  kmsRequestId: string;
  kmsOperation: string;
  awsPrincipalArn?: string | undefined;
  kmsKeyArn?: string | undefined;
  kmsViaService?: string | undefined;
  awsSourceVpc?: string | undefined;
  awsSourceVpce?: string | undefined;
}

export type HealthStatus = 'ACTIVE' | 'DEGRADED' | 'UNAVAILABLE';
