/** Entities of the management plane: admin users, sessions, API keys, approvals. */

/**
 * Segregation of duties (design.md "roles"):
 * - administrator: admin users, roles and settings; no key operations;
 * - custodian: key stores, keys, credentials, policies, and approvals of sensitive actions;
 * - auditor: reads everything except secrets, plus the audit log.
 */
export type Role = 'administrator' | 'custodian' | 'auditor';
export const ROLES: readonly Role[] = ['administrator', 'custodian', 'auditor'];

export interface AdminUser {
  id: string;
  username: string;
  role: Role;
  enabled: boolean;
  /** Set for one-time passwords: the user must choose a password before anything else. */
  mustChangePassword: boolean;
  failedLogins: number;
  lockedUntil: string | null;
  passwordChangedAt: string;
  lastLoginAt: string | null;
  createdAt: string;
  updatedAt: string;
  /**
   * When the account last gained the power to vote: its creation, re-enabling, a role
   * change or a password reset by someone else (not the user's own password change). A vote
   * on an approval request filed before this instant does not count: whoever created,
   * re-roled or reset the account may hold its password.
   */
  trustedSince: string;
}

/** The stored user, with its scrypt hash; never leaves the domain. */
export interface AdminUserRecord extends AdminUser {
  passwordHash: string;
}

export interface AdminSession {
  id: string;
  userId: string;
  /** SHA-256 of the bearer token; the token itself is never stored. */
  tokenDigest: string;
  createdAt: string;
  expiresAt: string;
  lastSeenAt: string;
  sourceIp: string | null;
}

export interface ApiKeyInfo {
  id: string;
  userId: string;
  name: string;
  /** The first characters of the key, to recognise it in a list. */
  hint: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface ApiKeyRecord extends ApiKeyInfo {
  tokenDigest: string;
}

/** Who is calling the admin API, and how they authenticated. */
export interface Principal {
  user: AdminUser;
  via: 'session' | 'api-key';
  credentialId: string;
}

/**
 * Approval rules, named by the effect they guard. A rule covers every change with that
 * effect, whatever route makes it: `key.disable` also covers narrowing a key's usage and
 * moving its expiry earlier; `keystore.disable` also covers narrowing a store's regions and
 * lowering its quota (see approval-actions.ts, `rules`).
 */
export type ApprovalAction =
  | 'key.schedule-deletion'
  | 'key.delete-version'
  | 'key.disable'
  | 'keystore.disable'
  | 'keystore.delete'
  | 'credential.add'
  | 'credential.revoke'
  | 'policy.change'
  | 'keystore.aws-config'
  | 'user.create'
  | 'user.set-role'
  | 'user.enable'
  | 'user.reset-password'
  | 'approval-rule.change'
  | 'aws.connection.add'
  | 'aws.connection.update'
  | 'aws.key.disable'
  | 'aws.key.delete'
  | 'tls.change'
  | 'audit.archive';

export const APPROVAL_ACTIONS: readonly ApprovalAction[] = [
  'key.schedule-deletion',
  'key.delete-version',
  'key.disable',
  'keystore.disable',
  'keystore.delete',
  'credential.add',
  'credential.revoke',
  'policy.change',
  'keystore.aws-config',
  'user.create',
  'user.set-role',
  'user.enable',
  'user.reset-password',
  'approval-rule.change',
  'aws.connection.add',
  'aws.connection.update',
  'aws.key.disable',
  'aws.key.delete',
  'tls.change',
  'audit.archive',
];

/**
 * What each rule guards, in a sentence (the admin API's rule catalogue and the console show
 * it). A Record, so a rule added to ApprovalAction without a description does not compile.
 */
export const APPROVAL_RULE_DESCRIPTIONS: Readonly<Record<ApprovalAction, string>> = {
  'key.schedule-deletion': 'Scheduling the deletion of a local key',
  'key.delete-version': 'Destroying a version of a local key',
  'key.disable': 'Disabling a local key; also narrowing its usage (losing encrypt or decrypt) and setting or moving its expiry earlier',
  'keystore.disable': 'Disabling a key store; also dropping a Region that could call, a first quota, or a lower quota rate or burst',
  'keystore.delete': 'Deleting a key store',
  'credential.add': 'Adding a SigV4 credential to a key store',
  'credential.revoke': 'Revoking a SigV4 credential',
  'policy.change': "Setting or removing a key store's secondary policy",
  'keystore.aws-config': 'Exporting the AWS proxy configuration file (it carries a live SigV4 secret)',
  'user.create': 'Creating an admin user (a new account can gain a vote)',
  'user.set-role': "Changing a user's role",
  'user.enable': 'Enabling a disabled user (disabling runs at once)',
  'user.reset-password': "Resetting a user's password",
  'approval-rule.change': 'Setting, lowering or removing any approval rule, this one included',
  'aws.connection.add': 'Adding an AWS connection',
  'aws.connection.update': 'Changing an AWS connection (Regions, endpoints, CA, account, credentials)',
  'aws.key.disable': 'What stops or narrows an AWS key: disable, key policy put, alias removal or move, a tag removed or changed, rotate with the old key disabled, deleting imported material, material that expires',
  'aws.key.delete': "Scheduling an AWS key's deletion",
  'tls.change': "Installing or removing the XKS listener's TLS certificate (a certificate KMS does not accept stops every handshake)",
  'audit.archive': 'Archiving audit records through the admin API: they move from the live log to a signed segment in the archive directory',
};

/**
 * What an approval request runs. Most operations are guarded by the rule of the same name;
 * the others fall under the rule of the action they are equivalent to, when (and only when)
 * the change has that effect.
 */
export type ApprovalOperation =
  | Exclude<ApprovalAction, 'user.set-role' | 'user.enable' | 'aws.key.delete' | 'tls.change'>
  | AwsKeyOperation
  | 'tls.install'
  | 'tls.remove'
  | 'key.update'
  | 'keystore.set-regions'
  | 'keystore.set-quota'
  | 'user.update';

export const APPROVAL_OPERATIONS: readonly ApprovalOperation[] = [
  'key.schedule-deletion',
  'key.delete-version',
  'key.disable',
  'key.update',
  'keystore.disable',
  'keystore.delete',
  'keystore.set-regions',
  'keystore.set-quota',
  'credential.add',
  'credential.revoke',
  'policy.change',
  'keystore.aws-config',
  'user.create',
  'user.update',
  'user.reset-password',
  'approval-rule.change',
  'aws.connection.add',
  'aws.connection.update',
  'aws.key.disable',
  'aws.key.schedule-deletion',
  'aws.key.policy-put',
  'aws.key.alias-add',
  'aws.key.alias-remove',
  'aws.key.tags',
  'aws.key.rotate',
  'aws.key.import',
  'aws.key.rotate-to-local',
  'aws.key.delete-material',
  'aws.key.reimport',
  'tls.install',
  'tls.remove',
  'audit.archive',
];

/**
 * AWS key changes that can stop or narrow an AWS key's service, each judged by its effect:
 * they fall under aws.key.disable (or aws.key.delete for a scheduled deletion) when they have it.
 */
export type AwsKeyOperation = 'aws.key.schedule-deletion' | 'aws.key.policy-put' | 'aws.key.alias-add' | 'aws.key.alias-remove' | 'aws.key.tags' | 'aws.key.rotate' | 'aws.key.import' | 'aws.key.rotate-to-local' | 'aws.key.delete-material' | 'aws.key.reimport';

/** M-of-N: `required` approvals from `approvers` (usernames) or, when null, from any custodian. */
export interface ApprovalRule {
  action: ApprovalAction;
  required: number;
  approvers: string[] | null;
  /** How long a request waits before it expires; null = the configured default. */
  ttlMinutes: number | null;
  updatedAt: string;
  updatedBy: string;
}

export type ApprovalStatus = 'pending' | 'executing' | 'executed' | 'failed' | 'denied' | 'expired' | 'cancelled';

export interface ApprovalVote {
  userId: string;
  username: string;
  decision: 'approve' | 'deny';
  comment: string | null;
  at: string;
}

export interface ApprovalRequest {
  id: string;
  /** What runs when the quorum is reached. */
  action: ApprovalOperation;
  /** The rule that put it behind approvals (the strictest, when several apply). */
  rule: ApprovalAction;
  /** The action's parameters (never secrets). */
  params: Record<string, unknown>;
  /** One line for people: what will happen. */
  summary: string;
  requestedBy: { userId: string; username: string };
  createdAt: string;
  expiresAt: string;
  required: number;
  /** Usernames allowed to vote, fixed when the request was made; null = any other custodian. */
  approvers: string[] | null;
  status: ApprovalStatus;
  votes: ApprovalVote[];
  /**
   * Approvals that count now (voters still enabled custodians, trusted before the request);
   * set by the approval service when it hands a request out, absent in storage.
   */
  countedApprovals?: number;
  decidedAt: string | null;
  /** What the action returned, when it is not secret. */
  result: unknown;
  /** The result holds a secret: sealed in storage, handed once to the requester. */
  secretResult: 'none' | 'available' | 'collected';
  error: { code: string; message: string } | null;
}

/**
 * One management action, for the audit log: who, from where, what, the change (without
 * secrets) and how it ended. The audit log receives these through AdminAuditSink.
 */
export interface AdminActionRecord {
  at: string;
  actor: { userId: string | null; username: string | null; role: Role | null; via: 'session' | 'api-key' | 'system' | 'anonymous' };
  sourceIp: string | null;
  /** Stable action name, e.g. keys.create, users.disable, approvals.approve. */
  action: string;
  method: string | null;
  path: string | null;
  /** The object acted on (key id, key store name, username, approval id). */
  target: string | null;
  outcome: 'ok' | 'pending-approval' | 'denied' | 'failed';
  status: number | null;
  errorCode: string | null;
  /** Request body or parameters with every secret-looking field removed. */
  change: unknown;
  approvalId: string | null;
}
