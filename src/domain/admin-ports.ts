/** Ports of the management plane: what admin identity and approvals need from storage. */
import type {
  AdminActionRecord,
  AdminSession,
  AdminUser,
  AdminUserRecord,
  ApiKeyInfo,
  ApiKeyRecord,
  ApprovalAction,
  ApprovalRequest,
  ApprovalRule,
  ApprovalStatus,
  ApprovalVote,
} from './admin-model.js';

export type AdminUserPatch = Partial<
  Pick<AdminUserRecord, 'role' | 'enabled' | 'mustChangePassword' | 'passwordHash' | 'failedLogins' | 'lockedUntil' | 'passwordChangedAt' | 'lastLoginAt' | 'updatedAt' | 'trustedSince'>
>;

export interface AdminUserRepo {
  insertAdminUser(u: AdminUserRecord): Promise<void>;
  updateAdminUser(id: string, patch: AdminUserPatch): Promise<void>;
  /**
   * Claims one login attempt atomically, before the password is checked: adds one to the
   * failure count unless the user is locked at `nowIso`, and when the new count reaches
   * `threshold` sets `lockedUntil` to `provisionalLockIso` in the same statement. Returns
   * the new count, or undefined when the user is locked (or does not exist).
   */
  claimLoginAttempt(id: string, nowIso: string, threshold: number, provisionalLockIso: string): Promise<number | undefined>;
  /** By id or username. */
  getAdminUser(idOrUsername: string): Promise<AdminUserRecord | undefined>;
  listAdminUsers(): Promise<AdminUser[]>;
}

export interface AdminSessionRepo {
  insertSession(s: AdminSession): Promise<void>;
  getSessionByDigest(tokenDigest: string): Promise<AdminSession | undefined>;
  touchSession(id: string, lastSeenAt: string): Promise<void>;
  deleteSession(id: string): Promise<void>;
  /** Ends every session of a user, except `exceptId` when given. */
  deleteSessionsOfUser(userId: string, exceptId?: string): Promise<void>;
  /** Removes sessions whose absolute expiry has passed; returns how many. */
  deleteExpiredSessions(nowIso: string): Promise<number>;
}

export interface ApiKeyRepo {
  insertApiKey(k: ApiKeyRecord): Promise<void>;
  getApiKeyByDigest(tokenDigest: string): Promise<ApiKeyRecord | undefined>;
  listApiKeys(userId: string): Promise<ApiKeyInfo[]>;
  touchApiKey(id: string, at: string): Promise<void>;
  revokeApiKey(id: string, at: string): Promise<void>;
  revokeApiKeysOfUser(userId: string, at: string): Promise<void>;
}

export interface ApprovalRequestPatch {
  decidedAt?: string | null;
  result?: unknown;
  resultSealed?: Buffer | null;
  secretResult?: ApprovalRequest['secretResult'];
  error?: ApprovalRequest['error'];
}

export interface ApprovalRepo {
  listApprovalRules(): Promise<ApprovalRule[]>;
  getApprovalRule(action: ApprovalAction): Promise<ApprovalRule | undefined>;
  putApprovalRule(rule: ApprovalRule): Promise<void>;
  deleteApprovalRule(action: ApprovalAction): Promise<void>;

  insertApprovalRequest(r: ApprovalRequest): Promise<void>;
  getApprovalRequest(id: string): Promise<ApprovalRequest | undefined>;
  listApprovalRequests(filter: { status?: ApprovalStatus; limit?: number }): Promise<ApprovalRequest[]>;
  /** Records a vote; Conflict when this user already voted on the request. */
  addApprovalVote(requestId: string, vote: ApprovalVote): Promise<void>;
  /**
   * Moves a request from one status to another only if it is still in `from`; true when
   * this call made the change. This is what makes an approved action run exactly once.
   */
  transitionApprovalRequest(id: string, from: ApprovalStatus, to: ApprovalStatus, patch?: ApprovalRequestPatch): Promise<boolean>;
  /** Reads the sealed secret result and erases it in the same step (one-time collection). */
  takeApprovalSecret(id: string): Promise<Buffer | undefined>;
  /** Pending requests whose expiry has passed. */
  listExpiredApprovalRequests(nowIso: string): Promise<string[]>;
}

export type AdminRepo = AdminUserRepo & AdminSessionRepo & ApiKeyRepo & ApprovalRepo;

/**
 * Where admin actions are recorded: the hash-chained audit log (createAuditLogSink in
 * src/app/admin-audit.ts); a request is answered only after its record is written.
 */
export interface AdminAuditSink {
  recordAdminAction(record: AdminActionRecord): Promise<void>;
}
