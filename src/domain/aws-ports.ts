/**
 * Ports of the AWS plane: storage of connections and links, and the gateway through which
 * the domain talks to AWS KMS and STS (implemented by src/aws with the AWS SDK v3).
 */
import type { AwsConnection, AwsConnectionRecord, AwsConnectionSecrets, AwsFailureReason, KeyAwsLink, KeyStoreAwsLink } from './aws-model.js';

export interface AwsRepo {
  insertAwsConnection(c: AwsConnectionRecord): Promise<void>;
  /** Replaces every column of the connection with this id (the name included). */
  replaceAwsConnection(c: AwsConnectionRecord): Promise<void>;
  deleteAwsConnection(id: string): Promise<void>;
  getAwsConnection(idOrName: string): Promise<AwsConnectionRecord | undefined>;
  listAwsConnections(): Promise<AwsConnectionRecord[]>;

  /** Inserts or replaces the link of `link.keyStoreId`. */
  putKeyStoreAwsLink(link: KeyStoreAwsLink): Promise<void>;
  getKeyStoreAwsLink(keyStoreId: string): Promise<KeyStoreAwsLink | undefined>;
  listKeyStoreAwsLinks(): Promise<KeyStoreAwsLink[]>;
  deleteKeyStoreAwsLink(keyStoreId: string): Promise<void>;

  insertKeyAwsLink(link: KeyAwsLink): Promise<void>;
  getKeyAwsLink(keyId: string): Promise<KeyAwsLink | undefined>;
  listKeyAwsLinks(): Promise<KeyAwsLink[]>;
  deleteKeyAwsLink(keyId: string): Promise<void>;
}

/** A failed AWS call, classified once by the gateway. */
export interface AwsCallFailure {
  /** The AWS exception name (e.g. AccessDeniedException), or a transport error name. */
  name: string;
  reason: AwsFailureReason;
  message: string;
}

export interface AwsIdentity {
  account: string;
  arn: string;
}

export interface AwsCustomKeyStoreInfo {
  id: string;
  name: string;
  connectionState: 'CONNECTED' | 'CONNECTING' | 'DISCONNECTED' | 'DISCONNECTING' | 'FAILED' | string;
  connectionErrorCode: string | null;
  endpoint: string | null;
  uriPath: string | null;
  accessKeyId: string | null;
}

export interface AwsKmsKeyInfo {
  keyId: string;
  arn: string;
  keyState: string;
  enabled: boolean;
  customKeyStoreId: string | null;
  xksKeyId: string | null;
}

export interface CreateXksStoreInput {
  name: string;
  endpoint: string;
  uriPath: string;
  connectivity: 'PUBLIC_ENDPOINT' | 'VPC_ENDPOINT_SERVICE';
  vpcEndpointServiceName?: string | undefined;
  credential: { accessKeyId: string; secretAccessKey: string };
}

/** The KMS operations the domain uses, in one Region of one connection. */
export interface AwsKmsPort {
  listKeys(limit: number, marker?: string): Promise<{ keyIds: string[]; next: string | undefined }>;
  listAliases(limit: number): Promise<string[]>;
  describeKey(keyId: string): Promise<AwsKmsKeyInfo>;
  updateKeyDescription(keyId: string, description: string): Promise<void>;
  describeCustomKeyStores(filter: { id?: string; name?: string }): Promise<AwsCustomKeyStoreInfo[]>;
  createCustomKeyStore(input: CreateXksStoreInput): Promise<string>;
  connectCustomKeyStore(id: string): Promise<void>;
  disconnectCustomKeyStore(id: string): Promise<void>;
  updateCustomKeyStoreCredential(id: string, credential: { accessKeyId: string; secretAccessKey: string }): Promise<void>;
  createXksKey(input: { customKeyStoreId: string; xksKeyId: string; description: string; policy?: string | undefined }): Promise<AwsKmsKeyInfo>;
  createAlias(alias: string, keyId: string): Promise<void>;
}

/** An open connection: clients per Region, credentials refreshed as needed. */
export interface AwsSession {
  kms(region: string): AwsKmsPort;
  identity(): Promise<AwsIdentity>;
  close(): void;
}

export interface AwsGateway {
  open(connection: AwsConnection, secrets: AwsConnectionSecrets): AwsSession;
}
