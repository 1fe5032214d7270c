/** Kysely table types. Booleans are stored as 0/1, lists and policies as JSON text. */
export interface KeyStoresTable {
  id: string;
  name: string;
  prefix: string;
  regions: string;
  enabled: number;
  policy: string | null;
  /** RateQuota as JSON, or null. */
  quota: string | null;
  created_at: string;
  updated_at: string;
}

export interface CredentialsTable {
  id: string;
  keystore_id: string;
  access_key_id: string;
  /** Sealed with AAD (credentials, id, secret). */
  secret_sealed: Buffer;
  created_at: string;
  revoked_at: string | null;
}

export interface KeysTable {
  id: string;
  keystore_id: string;
  external_id: string;
  protection: string;
  /** 0/1; set at creation (migration 0008). */
  exportable: number;
  /** keyhold | imported | adopted (migration 0008). */
  origin: string;
  usage: string;
  enabled: number;
  current_version: number;
  aad_layout: string;
  description: string;
  /** JSON object of tag key → value. */
  tags: string;
  rotation_period_days: number | null;
  next_rotation_at: string | null;
  expires_at: string | null;
  deletion_date: string | null;
  created_at: string;
  updated_at: string;
}

export interface KeyVersionsTable {
  key_id: string;
  version: number;
  protection: string;
  /** Sealed with AAD (key_versions, keyId/version, material). */
  material_sealed: Buffer | null;
  hsm_label: string | null;
  hsm_id: string | null;
  created_at: string;
}

export interface MetaTable {
  name: string;
  value: string;
}

export interface AdminUsersTable {
  id: string;
  username: string;
  role: string;
  enabled: number;
  must_change_password: number;
  /** scrypt, with its parameters ($scrypt$ln=..,r=..,p=..$salt$hash). */
  password_hash: string;
  failed_logins: number;
  locked_until: string | null;
  password_changed_at: string;
  last_login_at: string | null;
  created_at: string;
  updated_at: string;
  /** Added by 0006; null only for rows written before it ran (read as updated_at). */
  trusted_since: string | null;
}

export interface AdminSessionsTable {
  id: string;
  user_id: string;
  /** SHA-256 (hex) of the bearer token; the token is never stored. */
  token_digest: string;
  created_at: string;
  expires_at: string;
  last_seen_at: string;
  source_ip: string | null;
}

export interface AdminApiKeysTable {
  id: string;
  user_id: string;
  name: string;
  hint: string;
  /** SHA-256 (hex) of the API key. */
  token_digest: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface ApprovalRulesTable {
  action: string;
  required: number;
  /** JSON array of usernames, or null for any custodian. */
  approvers: string | null;
  ttl_minutes: number | null;
  updated_at: string;
  updated_by: string;
}

export interface ApprovalRequestsTable {
  id: string;
  action: string;
  params: string;
  summary: string;
  requested_by_id: string;
  requested_by_name: string;
  created_at: string;
  expires_at: string;
  required: number;
  approvers: string | null;
  status: string;
  decided_at: string | null;
  /** JSON of a non-secret result. */
  result: string | null;
  /** Sealed with AAD (approval_requests, id, result). */
  result_sealed: Buffer | null;
  secret_result: string;
  /** JSON {code, message}. */
  error: string | null;
  /** The rule that guarded the request (0006); null for older rows (= action). */
  rule: string | null;
}

export interface ApprovalVotesTable {
  request_id: string;
  user_id: string;
  username: string;
  decision: string;
  comment: string | null;
  at: string;
}

export interface AwsConnectionsTable {
  id: string;
  name: string;
  region: string;
  /** JSON array. */
  regions: string;
  endpoint: string | null;
  sts_endpoint: string | null;
  ca_pem: string | null;
  account_id: string | null;
  credential_source: string;
  access_key_id: string | null;
  /** Sealed with AAD (aws_connections, id, secret). */
  secret_sealed: Buffer | null;
  role_arn: string | null;
  external_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface AwsKeyStoreLinksTable {
  keystore_id: string;
  connection_id: string;
  region: string;
  custom_key_store_id: string | null;
  custom_key_store_name: string;
  endpoint: string;
  connectivity: string;
  vpc_endpoint_service_name: string | null;
  aws_access_key_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface AwsKeyLinksTable {
  key_id: string;
  connection_id: string;
  region: string;
  kms_key_arn: string;
  alias: string | null;
  created_at: string;
}

export interface ClusterNodesTable {
  id: string;
  address: string;
  version: string;
  started_at: string;
  heartbeat_ms: number;
  ekm: string;
}

export interface ClusterLeasesTable {
  name: string;
  holder: string;
  expires_ms: number;
  fence: number;
}

/** Migration 0008: Keyhold's records of native AWS KMS keys (never their material). */
export interface AwsKeysTable {
  arn: string;
  key_id: string;
  connection_id: string;
  account_id: string;
  region: string;
  key_spec: string;
  key_usage: string;
  origin: string;
  key_manager: string;
  state: string;
  description: string;
  /** JSON array of alias names. */
  aliases: string;
  /** JSON object of tag key → value. */
  tags: string;
  policy: string | null;
  /** JSON {enabled, periodDays}, or null when KMS does not rotate the key. */
  rotation: string | null;
  expiration_model: string | null;
  valid_to: string | null;
  multi_region: number;
  custom_key_store_id: string | null;
  xks_key_id: string | null;
  local_key_id: string | null;
  aws_created_at: string | null;
  deletion_date: string | null;
  sync_run: string;
  synced_at: string;
  gone_at: string | null;
}

/** Migration 0008: copies of local key material into AWS keys. */
export interface AwsKeyCopiesTable {
  id: string;
  local_key_id: string;
  local_version: number;
  connection_id: string;
  region: string;
  aws_key_arn: string;
  expiration_model: string;
  valid_to: string | null;
  key_material_id: string | null;
  copied_by: string;
  copied_at: string;
}

export interface Database {
  keystores: KeyStoresTable;
  credentials: CredentialsTable;
  keys: KeysTable;
  key_versions: KeyVersionsTable;
  meta: MetaTable;
  admin_users: AdminUsersTable;
  admin_sessions: AdminSessionsTable;
  admin_api_keys: AdminApiKeysTable;
  approval_rules: ApprovalRulesTable;
  approval_requests: ApprovalRequestsTable;
  approval_votes: ApprovalVotesTable;
  aws_connections: AwsConnectionsTable;
  aws_keystore_links: AwsKeyStoreLinksTable;
  aws_key_links: AwsKeyLinksTable;
  cluster_nodes: ClusterNodesTable;
  cluster_leases: ClusterLeasesTable;
  aws_keys: AwsKeysTable;
  aws_key_copies: AwsKeyCopiesTable;
}
