// What the admin API answers (the views of src/admin/views.ts; the OpenAPI document at
// /api/v1/openapi.json is the reference).

export type Role = 'administrator' | 'custodian' | 'auditor';

export interface AdminUser {
  id: string;
  username: string;
  role: Role;
  enabled: boolean;
  mustChangePassword: boolean;
  failedLogins: number;
  lockedUntil: string | null;
  lastLoginAt: string | null;
  passwordChangedAt: string;
  createdAt: string;
  updatedAt: string;
}

export interface WhoAmI {
  user: AdminUser;
  via: 'session' | 'api-key';
}

export interface ApiKeyInfo {
  id: string;
  name: string;
  hint: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface PolicyRule {
  id?: string;
  effect: 'allow' | 'deny';
  principals?: string[];
  operations?: string[];
  viaServices?: string[];
  keyArns?: string[];
  keyIds?: string[];
  sourceVpcs?: string[];
  sourceVpces?: string[];
}

export interface SecondaryPolicy {
  default: 'allow' | 'deny';
  rules: PolicyRule[];
}

export interface KeyStore {
  id: string;
  name: string;
  prefix: string;
  uriPath: string;
  enabled: boolean;
  regions: string[];
  policy: SecondaryPolicy | null;
  quota: { rps: number; burst: number } | null;
  createdAt: string;
  updatedAt: string;
}

export interface Credential {
  id: string;
  keyStoreId: string;
  accessKeyId: string;
  live: boolean;
  createdAt: string;
  revokedAt: string | null;
}

export interface IssuedCredential {
  id?: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface CreatedKeyStore {
  keyStore: KeyStore;
  uriPath: string;
  credential: IssuedCredential;
}

export interface ProxyConfigurationFile {
  XksProxyUriPath: string;
  XksProxyAuthenticationCredential: { AccessKeyId: string; RawSecretAccessKey: string };
}

export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';

export interface Key {
  id: string;
  keyId: string;
  keyStoreId: string;
  keyStore: string;
  protection: 'software' | 'hsm';
  usage: ('encrypt' | 'decrypt')[];
  enabled: boolean;
  state: KeyState;
  currentVersion: number;
  aadLayout: 'keyhold-v1' | 'sample-proxy';
  /** Whether the material may be copied into AWS KMS (set at creation). */
  exportable: boolean;
  description: string;
  tags: Record<string, string>;
  rotationPeriodDays: number | null;
  nextRotationAt: string | null;
  expiresAt: string | null;
  expired: boolean;
  deletionDate: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface KeyVersion {
  version: number;
  protection: 'software' | 'hsm';
  hsmLabel: string | null;
  hsmId: string | null;
  createdAt: string;
}

export interface KeyDetail extends Key {
  versions: KeyVersion[];
}

interface UsageTotal {
  calls: number;
  lastUsedAt: string;
}

export interface KeyUsage {
  keyId: string;
  keyStore: string | null;
  calls: number;
  firstUsedAt: string | null;
  lastUsedAt: string | null;
  kmsKeyArns: ({ kmsKeyArn: string } & UsageTotal)[];
  principals: ({ principal: string } & UsageTotal)[];
  operations: ({ operation: string; kmsOperation: string; outcome: string } & UsageTotal)[];
}

/** An approval rule's name (the server's catalogue, GET /approval-rules/catalog, lists them). */
export type ApprovalRuleName = string;

/** One rule of the server's catalogue: what it guards and the operations it covers. */
export interface ApprovalRuleInfo {
  name: ApprovalRuleName;
  description: string;
  routes: { method: string; path: string; operationId: string; when: string | null }[];
}

export type ApprovalStatus = 'pending' | 'executing' | 'executed' | 'failed' | 'denied' | 'expired' | 'cancelled';

export interface ApprovalRequest {
  id: string;
  /** The operation that runs once approved (e.g. aws.key.rotate-to-local). */
  action: string;
  /** The rule that guards it. */
  rule: ApprovalRuleName;
  params: Record<string, unknown>;
  summary: string;
  requestedBy: { userId: string; username: string };
  createdAt: string;
  expiresAt: string;
  required: number;
  approvers: string[] | null;
  status: ApprovalStatus;
  approvals: number;
  votes: { userId: string; username: string; decision: 'approve' | 'deny'; comment: string | null; at: string }[];
  decidedAt: string | null;
  result?: unknown;
  secretResult: 'none' | 'available' | 'collected';
  error: { error: string; message: string } | null;
}

export interface PendingApproval {
  pendingApproval: ApprovalRequest;
}

export interface ApprovalRule {
  action: ApprovalRuleName;
  required: number;
  approvers: string[] | null;
  ttlMinutes: number | null;
  updatedAt: string;
  updatedBy: string;
}

export type AuditRecord = Record<string, unknown> & { seq: number; kind: 'xks' | 'admin'; time: string };

export interface AuditPage {
  records: AuditRecord[];
  next: number | null;
}

export interface AuditVerify {
  ok: boolean;
  count: number;
  problem?: { seq: number; kind: string; detail: string };
}

export type AwsFailureReason = 'dns' | 'network' | 'tls' | 'credentials' | 'clock-skew' | 'permission' | 'region' | 'throttled' | 'not-found' | 'unsupported' | 'invalid-request' | 'service';

export interface AwsConnection {
  id: string;
  name: string;
  region: string;
  regions: string[];
  endpoint: string | null;
  stsEndpoint: string | null;
  caBundle: boolean;
  accountId: string | null;
  credentials: { source: 'static' | 'assume-role' | 'default'; accessKeyId: string | null; roleArn: string | null; externalId: string | null };
  createdAt: string;
  updatedAt: string;
}

export interface AwsConnectionTest {
  connection: string;
  region: string;
  connected: boolean;
  reason?: AwsFailureReason;
  detail?: string;
  identity?: { account: string; arn: string };
  groups: { group: 'list' | 'read' | 'write' | 'custom-key-stores'; actions: string[]; ok: boolean; reason?: AwsFailureReason; detail?: string }[];
}

export type HealthStatus = 'ACTIVE' | 'DEGRADED' | 'UNAVAILABLE';

export interface ServerStatus {
  health: {
    kmsView: HealthStatus;
    xksProxyFleetSize: number;
    xksProxyVendor: string;
    xksProxyModel: string;
    ekmVendor: string;
    ekmFleetDetails: { id: string; model: string; healthStatus: HealthStatus }[];
    checkedAt: string;
  };
  certificate: { notAfter: string | null; daysToExpire: number | null };
  hsm: { configured: boolean };
}

export interface KeyStoreInAws {
  keyStore: string;
  region: string;
  customKeyStoreId: string;
  customKeyStoreName: string;
  connectionState: string;
  connectionErrorCode: string | null;
  hint: string | null;
  waitedMs: number;
}

export interface KeyStoreAwsStatus {
  keyStore: string;
  linked: boolean;
  connection: string | null;
  region: string | null;
  customKeyStoreId: string | null;
  customKeyStoreName: string | null;
  endpoint: string | null;
  connectionState: string | null;
  connectionErrorCode: string | null;
  hint: string | null;
  awsAccessKeyId: string | null;
  kmsKeys: number | null;
  kmsKeysCountComplete: boolean;
  linkedKeys: number;
}

export interface KeyAwsLink {
  keyId: string;
  internalKeyId: string;
  region: string;
  kmsKeyArn: string;
  alias: string | null;
  createdAt: string;
}

export interface AwsKeyCreated {
  keyId: string;
  kmsKeyArn: string;
  alias: string | null;
  aliasError?: string;
}

/** Keyhold's record of a native AWS KMS key (GET /aws/keys, /aws/keys/{key}). */
export interface AwsKey {
  arn: string;
  keyId: string;
  connectionId: string;
  accountId: string;
  region: string;
  keySpec: string;
  keyUsage: string;
  origin: string;
  keyManager: string;
  state: string;
  description: string;
  aliases: string[];
  tags: Record<string, string>;
  rotation: { enabled: boolean; periodDays: number | null } | null;
  expirationModel: string | null;
  validTo: string | null;
  multiRegion: boolean;
  customKeyStoreId: string | null;
  xksKeyId: string | null;
  localKeyId: string | null;
  awsCreatedAt: string | null;
  deletionDate: string | null;
  syncedAt: string;
  goneAt: string | null;
  policy?: string | null;
}

export interface AwsKeyCopy {
  id: string;
  localKey: string;
  localVersion: number;
  region: string;
  awsKeyArn: string;
  expirationModel: string;
  validTo: string | null;
  copiedBy: string;
  copiedAt: string;
}

export interface AwsKeyDetail {
  key: AwsKey;
  copies: AwsKeyCopy[];
}

/** POST /aws/keys/{key}/rotate-to-local: the aliases moved to a new key holding a local key's material. */
export interface AwsKeyRotatedToLocal {
  old: AwsKey;
  new: AwsKey;
  movedAliases: string[];
  localKey: string;
  localVersion: number;
}

/** POST /aws/keys/{key}/reimport: the linked local version imported again. */
export interface AwsKeyReimported {
  key: AwsKey;
  localKey: string;
  localVersion: number;
}

export interface AwsSyncReport {
  connection: string;
  region: string;
  complete: boolean;
  resumed: boolean;
  pages: number;
  seen: number;
  added: number;
  updated: number;
  unchanged: number;
  vanishedDuringSync: number;
  gone: string[];
  linked: number;
  retries: number;
}
