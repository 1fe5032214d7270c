/**
 * The AWS plane's entities (design.md, "AWS plane"): connections to an AWS account and its
 * Regions, and the links from Keyhold key stores and keys to what was made for them in AWS
 * KMS (a custom key store, a KMS key). Plain data; behaviour lives in the services.
 */

/** Where a connection's AWS credentials come from. */
export type AwsCredentialSource =
  /** An IAM user's access key; the secret is sealed in storage and never shown again. */
  | 'static'
  /** STS AssumeRole, from the static key when one is set, else from the SDK's default chain. */
  | 'assume-role'
  /** The SDK's default chain: environment, shared config, web identity, instance profile. */
  | 'default';

export interface AwsConnection {
  id: string;
  name: string;
  /** The Region used when a command names none. Always one of `regions`. */
  region: string;
  /** Every Region this connection may be used in (sorted, includes `region`). */
  regions: string[];
  /** KMS endpoint override (simulator, moto, a VPC endpoint); null for AWS's own. */
  endpoint: string | null;
  /** STS endpoint override (moto); null for AWS's regional STS. */
  stsEndpoint: string | null;
  /** PEM bundle trusted for the endpoints (a TLS-inspecting proxy, a private CA); null for Node's roots. */
  caPem: string | null;
  /** The AWS account the credentials must belong to (12 digits); null when not pinned. */
  accountId: string | null;
  credentialSource: AwsCredentialSource;
  /** Static key id ('static', or the base of 'assume-role'); null otherwise. */
  accessKeyId: string | null;
  roleArn: string | null;
  externalId: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A connection as storage keeps it: with the static secret, sealed (AAD aws_connections/id/secret). */
export interface AwsConnectionRecord extends AwsConnection {
  sealedSecret: Buffer | null;
}

/** A connection's usable credentials, unsealed only in memory, for the gateway. */
export interface AwsConnectionSecrets {
  /** The static secret access key (never logged, never returned by an API). */
  secretAccessKey: string | null;
}

/** The custom key store made in AWS KMS for a Keyhold key store. */
export interface KeyStoreAwsLink {
  keyStoreId: string;
  connectionId: string;
  region: string;
  /** cks-…; null until CreateCustomKeyStore succeeded. */
  customKeyStoreId: string | null;
  customKeyStoreName: string;
  /** https://host[:port] AWS KMS calls. */
  endpoint: string;
  connectivity: 'PUBLIC_ENDPOINT' | 'VPC_ENDPOINT_SERVICE';
  vpcEndpointServiceName: string | null;
  /** The access key id of the Keyhold credential AWS KMS holds now: a revoke must never remove it. */
  awsAccessKeyId: string | null;
  createdAt: string;
  updatedAt: string;
}

/** The KMS key made in AWS for a Keyhold key (Origin EXTERNAL_KEY_STORE, XksKeyId = the key's id). */
export interface KeyAwsLink {
  keyId: string;
  connectionId: string;
  region: string;
  /** arn:aws:kms:REGION:ACCOUNT:key/UUID */
  kmsKeyArn: string;
  alias: string | null;
  createdAt: string;
}

/** The KMS action groups a connection needs, tested one by one by `aws connection test`. */
export const AWS_ACTION_GROUPS = ['list', 'read', 'write', 'custom-key-stores'] as const;
export type AwsActionGroup = (typeof AWS_ACTION_GROUPS)[number];

/** Why a call to AWS failed, in the words an operator can act on. */
export type AwsFailureReason = 'dns' | 'network' | 'tls' | 'credentials' | 'clock-skew' | 'permission' | 'region' | 'throttled' | 'not-found' | 'conflict' | 'unsupported' | 'invalid-request' | 'service';

export interface AwsGroupResult {
  group: AwsActionGroup;
  /** The calls tried, e.g. ['ListKeys', 'ListAliases']. */
  actions: string[];
  ok: boolean;
  /** Set when !ok, or when the answer could not tell (e.g. the endpoint lacks the API). */
  reason?: AwsFailureReason | undefined;
  detail?: string | undefined;
}

export interface AwsConnectionTestResult {
  connection: string;
  region: string;
  connected: boolean;
  reason?: AwsFailureReason | undefined;
  detail?: string | undefined;
  /** The caller's identity as STS reports it (when STS answered). */
  identity?: { account: string; arn: string } | undefined;
  groups: AwsGroupResult[];
}

/** What pushing a new Keyhold credential to the custom key store in AWS did. */
export interface AwsCredentialPush {
  customKeyStoreId: string;
  /** 'in-place': UpdateCustomKeyStore while connected; 'reconnect': disconnect, update, connect. */
  mode: 'in-place' | 'reconnect';
  ok: boolean;
  /** How long the store was not CONNECTED (reconnect mode), in ms. */
  outageMs: number;
  connectionState: string | null;
  connectionErrorCode: string | null;
  error?: string | undefined;
}
