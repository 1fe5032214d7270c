import type {
  AdminIdentityService,
  AdminUser,
  ApiKeyInfo,
  ApprovalRequest,
  ApprovalRule,
  ApprovalStatus,
  AuditReadService,
  AwsKeyImportInput,
  AwsKeyReimportOptions,
  AwsKeyReimportResult,
  AwsKeyRotateToLocalOptions,
  AwsKeyRotateToLocalResult,
  AwsKeyImportResult,
  AwsKeyService,
  AwsConnectionService,
  ClusterStatus,
  AwsXksService,
  KeyService,
  KeyStoreService,
} from '../domain/index.js';

/** Options every command takes. */
export interface GlobalOptions {
  dataDir?: string;
  config?: string;
  json?: boolean;
  /** Talk to a running server's admin API instead of the local database. */
  server?: string;
  /** File holding the session token or API key (default: KEYHOLD_TOKEN). */
  tokenFile?: string;
  /** PEM file that trusts the server's certificate. */
  caFile?: string;
}

/**
 * Key operations the CLI uses (the scheduler's runDue stays inside the server; raw material
 * leaves only through the AWS copy path, never to the CLI).
 */
export type KeyOperations = Omit<KeyService, 'runDue' | 'exportMaterial'>;

export type AdminUserOperations = Pick<AdminIdentityService, 'createUser' | 'listUsers' | 'getUser' | 'setRole' | 'setEnabled' | 'resetPassword'>;

/** Approvals as the CLI sees them: the caller is whoever holds the token. */
export interface ApprovalOperations {
  list(filter?: { status?: ApprovalStatus | undefined }): Promise<ApprovalRequest[]>;
  get(id: string): Promise<ApprovalRequest>;
  approve(id: string, comment?: string): Promise<ApprovalRequest>;
  deny(id: string, comment?: string): Promise<ApprovalRequest>;
  cancel(id: string): Promise<ApprovalRequest>;
  collect(id: string): Promise<unknown>;
  listRules(): Promise<ApprovalRule[]>;
  setRule(action: string, input: { required: number; approvers?: string[] | null; ttlMinutes?: number | null }): Promise<ApprovalRule>;
  clearRule(action: string): Promise<void>;
}

/** The signed-in caller's own account (only with --server). */
export interface SessionOperations {
  whoami(): Promise<{ user: AdminUser; via: 'session' | 'api-key' }>;
  logout(): Promise<void>;
  changePassword(currentPassword: string, newPassword: string): Promise<AdminUser>;
  createApiKey(name: string, expiresInDays?: number): Promise<{ apiKey: string; info: ApiKeyInfo }>;
  listApiKeys(): Promise<ApiKeyInfo[]>;
  revokeApiKey(id: string): Promise<ApiKeyInfo>;
}

/** AWS connections (the secret is write-only: nothing returns it). */
export type AwsConnectionOperations = Pick<AwsConnectionService, 'create' | 'list' | 'get' | 'update' | 'delete' | 'test'>;

/** The XKS side in AWS (progress callbacks work only locally; remotely the server waits). */
export type AwsXksOperations = Pick<AwsXksService, 'createKeyStore' | 'connect' | 'status' | 'createAwsKey' | 'keyLink' | 'listKeyLinks'>;

export interface AwsOperations {
  connections: AwsConnectionOperations;
  xks: AwsXksOperations;
}

/** Native AWS KMS keys (bring your own key); the caller copying material is the signed-in or local user. */
export type AwsKeyOperations = Omit<AwsKeyService, 'importLocal' | 'rotateLinked' | 'rotateToLocal' | 'reimport' | 'rotateScheduledLinks'> & {
  importLocal(input: Omit<AwsKeyImportInput, 'actor'>): Promise<AwsKeyImportResult>;
  rotateLinked(localKey: string, opts: { strategy?: 'auto' | 'in-place' | 'new-key' | undefined }): ReturnType<AwsKeyService['rotateLinked']>;
  rotateToLocal(ref: string, localKey: string, opts: Omit<AwsKeyRotateToLocalOptions, 'actor'>): Promise<AwsKeyRotateToLocalResult>;
  reimport(ref: string, opts: Omit<AwsKeyReimportOptions, 'actor'>): Promise<AwsKeyReimportResult>;
};

export interface ManagementServices {
  keyStores: KeyStoreService;
  keys: KeyOperations;
  /** The audit log: verify, export, key usage. */
  audit: AuditReadService;
  /** The PKCS#11 token, when [hsm] is configured. */
  hsm: HsmManagement | undefined;
  /** `keyhold import sample-proxy-config`: returns a report without secrets (issued credentials aside). */
  importSampleProxyConfig(text: string, opts: { dryRun: boolean }): Promise<object>;
  admins: AdminUserOperations;
  approvals: ApprovalOperations;
  session: SessionOperations;
  /** The AWS plane: connections, and the XKS side in AWS KMS. */
  aws: AwsOperations;
  /** Native AWS KMS keys: sync, list, show, copies of local material (docs/byok.md). */
  awsKeys: AwsKeyOperations;
  /** The cluster registry: every node, its heartbeat, version and health (keyhold cluster status). */
  cluster: { status(): Promise<ClusterStatus> };
  /** The XKS certificate for every node, its key sealed in storage (keyhold tls install). */
  tls: TlsManagement;
}

export interface InstalledCertificateInfo {
  subject: string;
  issuer: string;
  dnsNames: string[];
  notAfter: string;
  fingerprint256: string;
}

export interface TlsManagement {
  install(certPem: string, keyPem: string): Promise<InstalledCertificateInfo>;
  remove(): Promise<void>;
  status(): Promise<{ installed: InstalledCertificateInfo | null }>;
}

export interface HsmManagement {
  /** Token, profile, sessions and a self-test on the health key. */
  status(): Promise<object>;
  /** Stores the user PIN sealed in storage (for hsm.pin_sealed = true). */
  setPin(pin: string): Promise<void>;
}

export interface LoginResult {
  token?: string | undefined;
  expiresAt: string;
  user: AdminUser;
}

/**
 * What the CLI needs from the composition root. The CLI parses arguments and prints;
 * app/ decides how services are built: on the local database, or through a running
 * server's admin API (--server).
 */
export interface CliHost {
  /** `settings`: dotted config settings from flags (e.g. 'seal.type', 'hsm.module'). */
  init(opts: GlobalOptions & { demo: boolean; settings?: Record<string, string | undefined> }): Promise<object>;
  /** Runs the server until a signal stops it. */
  start(opts: GlobalOptions & { xksListen?: string; adminListen?: string; initIfAbsent?: boolean; workers?: string }): Promise<void>;
  /** `keyhold status`: the data directory's server, health, key stores, audit chain, certificate. */
  status(opts: GlobalOptions): Promise<object>;
  withServices<T>(opts: GlobalOptions, fn: (s: ManagementServices) => Promise<T>): Promise<T>;
  /** Password login against --server; returns the session token. */
  login(opts: GlobalOptions, credentials: { username: string; password: string }): Promise<LoginResult>;
}
