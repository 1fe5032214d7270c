/**
 * The simulator's state: per account and Region, custom key stores, KMS keys, aliases and
 * import parameters. Plain data; the operation modules change it. Times are epoch ms.
 */
import type { KeyObject } from 'node:crypto';
import type { SimKeySpec, SimKeyUsage } from './key-specs.js';

export type ConnectionState = 'CONNECTED' | 'CONNECTING' | 'DISCONNECTED' | 'DISCONNECTING' | 'FAILED';

export type ConnectionErrorCode =
  | 'INTERNAL_ERROR'
  | 'INVALID_CREDENTIALS'
  | 'NETWORK_ERRORS'
  | 'XKS_PROXY_ACCESS_DENIED'
  | 'XKS_PROXY_INVALID_CONFIGURATION'
  | 'XKS_PROXY_INVALID_RESPONSE'
  | 'XKS_PROXY_INVALID_TLS_CONFIGURATION'
  | 'XKS_PROXY_NOT_REACHABLE'
  | 'XKS_PROXY_TIMED_OUT';

export type XksConnectivity = 'PUBLIC_ENDPOINT' | 'VPC_ENDPOINT_SERVICE';

export interface CustomKeyStore {
  id: string;
  name: string;
  accountId: string;
  region: string;
  createdAt: number;
  connectivity: XksConnectivity;
  uriEndpoint: string;
  uriPath: string;
  accessKeyId: string;
  /** The proxy secret, sealed with the simulator's in-memory key (never kept in the clear). */
  sealedSecret: Buffer;
  vpcEndpointServiceName: string | undefined;
  vpcEndpointServiceOwner: string | undefined;
  state: ConnectionState;
  errorCode: ConnectionErrorCode | undefined;
  /** Bumped by every connect and disconnect, so a late connect result is discarded. */
  generation: number;
}

/** The stored key state; `Unavailable` is derived from the key store, never stored. */
export type StoredKeyState = 'Enabled' | 'Disabled' | 'PendingDeletion' | 'PendingImport';
export type KeyState = StoredKeyState | 'Unavailable';

export type Origin = 'AWS_KMS' | 'EXTERNAL' | 'EXTERNAL_KEY_STORE';
export type ExpirationModel = 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE';

export interface KeyMaterial {
  /** 64 lower-case hex; for XKS keys an internal id of the KMS-side (HBK) material. */
  id: string;
  /**
   * The 32 bytes (HMAC keys: the spec's length; asymmetric keys: a DER PKCS#8 private key);
   * undefined while imported material is deleted or expired.
   */
  bytes: Buffer | undefined;
  state: 'CURRENT' | 'NON_CURRENT' | 'PENDING_ROTATION';
  /** EXTERNAL keys only. */
  expirationModel?: ExpirationModel | undefined;
  validTo?: number | undefined;
  description?: string | undefined;
  /** When this material became current through a rotation. */
  rotatedAt?: number | undefined;
  rotationType?: 'AUTOMATIC' | 'ON_DEMAND' | undefined;
}

export interface KmsKey {
  id: string;
  arn: string;
  accountId: string;
  region: string;
  createdAt: number;
  description: string;
  origin: Origin;
  keySpec: SimKeySpec;
  keyUsage: SimKeyUsage;
  /** AWS-managed keys (behind `alias/aws/*`) are read-only for the customer. */
  keyManager: 'CUSTOMER' | 'AWS';
  multiRegion: boolean;
  /** Multi-Region keys: one object shared by the primary and all its replicas. */
  mrk?: MultiRegionSet | undefined;
  state: StoredKeyState;
  deletionDate: number | undefined;
  customKeyStoreId: string | undefined;
  xksKeyId: string | undefined;
  policy: string;
  tags: Map<string, string>;
  materials: KeyMaterial[];
  /** EXTERNAL keys: the expiration model of the first import. */
  expirationModel: ExpirationModel | undefined;
  rotation: { enabled: boolean; periodDays: number; nextRotation: number | undefined; onDemandCount: number };
}

/** The Regions of one multi-Region key; the key id is the same in each. */
export interface MultiRegionSet {
  primaryRegion: string;
  replicaRegions: string[];
}

export interface Alias {
  name: string;
  /** Undefined for a predefined `alias/aws/*` alias whose AWS-managed key does not exist yet. */
  targetKeyId: string | undefined;
  createdAt: number;
  updatedAt: number;
}

export interface ImportParameters {
  keyId: string;
  /** The private half of the wrapping key pair; it never leaves the simulator. */
  privateKey: KeyObject;
  wrappingAlgorithm: string;
  validTo: number;
}

export interface RegionState {
  accountId: string;
  region: string;
  stores: Map<string, CustomKeyStore>;
  keys: Map<string, KmsKey>;
  aliases: Map<string, Alias>;
  /** By import token (hex). */
  importTokens: Map<string, ImportParameters>;
  lastImportParametersAt: number | undefined;
  /** By grant id. */
  grants: Map<string, Grant>;
}

export interface Grant {
  id: string;
  /** Opaque; what CreateGrant returned (RetireGrant accepts it). */
  token: string;
  keyId: string;
  name: string | undefined;
  createdAt: number;
  granteePrincipal: string;
  retiringPrincipal: string | undefined;
  issuingAccount: string;
  operations: string[];
  constraints: { EncryptionContextSubset?: Record<string, string> | undefined; EncryptionContextEquals?: Record<string, string> | undefined } | undefined;
}

/** Who is calling, from the SigV4 credential. */
export interface Caller {
  accountId: string;
  accessKeyId: string;
  principalArn: string;
  viaService: string | undefined;
  sourceVpc: string | undefined;
  sourceVpce: string | undefined;
}
