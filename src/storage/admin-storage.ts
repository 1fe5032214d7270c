import type { Kysely } from 'kysely';
import type {
  AdminSession,
  AdminUser,
  AdminUserRecord,
  ApiKeyInfo,
  ApiKeyRecord,
  ApprovalAction,
  ApprovalOperation,
  ApprovalRequest,
  ApprovalRule,
  ApprovalStatus,
  ApprovalVote,
  Role,
} from '../domain/admin-model.js';
import type { AdminRepo } from '../domain/admin-ports.js';
import type { AdminApiKeysTable, AdminSessionsTable, AdminUsersTable, ApprovalRequestsTable, ApprovalRulesTable, Database } from './schema.js';

/** Runs a write and turns unique violations into Conflict (see kysely-storage.ts). */
export type Writer = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

const toUser = (r: Omit<AdminUsersTable, 'password_hash'>): AdminUser => ({
  id: r.id,
  username: r.username,
  role: r.role as Role,
  enabled: r.enabled === 1,
  mustChangePassword: r.must_change_password === 1,
  failedLogins: r.failed_logins,
  lockedUntil: r.locked_until,
  passwordChangedAt: r.password_changed_at,
  lastLoginAt: r.last_login_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  trustedSince: r.trusted_since ?? r.updated_at,
});

const toSession = (r: AdminSessionsTable): AdminSession => ({
  id: r.id,
  userId: r.user_id,
  tokenDigest: r.token_digest,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  lastSeenAt: r.last_seen_at,
  sourceIp: r.source_ip,
});

const toApiKey = (r: Omit<AdminApiKeysTable, 'token_digest'>): ApiKeyInfo => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  hint: r.hint,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

const toRule = (r: ApprovalRulesTable): ApprovalRule => ({
  action: r.action as ApprovalAction,
  required: r.required,
  approvers: r.approvers === null ? null : (JSON.parse(r.approvers) as string[]),
  ttlMinutes: r.ttl_minutes,
  updatedAt: r.updated_at,
  updatedBy: r.updated_by,
});

const USER_COLUMNS = [
  'id',
  'username',
  'role',
  'enabled',
  'must_change_password',
  'failed_logins',
  'locked_until',
  'password_changed_at',
  'last_login_at',
  'created_at',
  'updated_at',
  'trusted_since',
] as const;

const API_KEY_COLUMNS = ['id', 'user_id', 'name', 'hint', 'created_at', 'expires_at', 'last_used_at', 'revoked_at'] as const;

const REQUEST_COLUMNS = [
  'id',
  'action',
  'params',
  'summary',
  'requested_by_id',
  'requested_by_name',
  'created_at',
  'expires_at',
  'required',
  'approvers',
  'status',
  'decided_at',
  'result',
  'secret_result',
  'error',
  'rule',
] as const;

/** Admin users, sessions, API keys and approvals over Kysely (SQLite and PostgreSQL). */
export function createAdminRepos(db: Kysely<Database>, write: Writer): AdminRepo {
  async function votesOf(ids: string[]): Promise<Map<string, ApprovalVote[]>> {
    const out = new Map<string, ApprovalVote[]>();
    if (ids.length === 0) return out;
    const rows = await db.selectFrom('approval_votes').selectAll().where('request_id', 'in', ids).orderBy('at').execute();
    for (const v of rows) {
      const list = out.get(v.request_id) ?? [];
      list.push({ userId: v.user_id, username: v.username, decision: v.decision as ApprovalVote['decision'], comment: v.comment, at: v.at });
      out.set(v.request_id, list);
    }
    return out;
  }

  function toRequest(r: Omit<ApprovalRequestsTable, 'result_sealed'>, votes: ApprovalVote[]): ApprovalRequest {
    return {
      id: r.id,
      action: r.action as ApprovalOperation,
      rule: (r.rule ?? r.action) as ApprovalAction,
      params: JSON.parse(r.params) as Record<string, unknown>,
      summary: r.summary,
      requestedBy: { userId: r.requested_by_id, username: r.requested_by_name },
      createdAt: r.created_at,
      expiresAt: r.expires_at,
      required: r.required,
      approvers: r.approvers === null ? null : (JSON.parse(r.approvers) as string[]),
      status: r.status as ApprovalStatus,
      votes,
      decidedAt: r.decided_at,
      result: r.result === null ? null : (JSON.parse(r.result) as unknown),
      secretResult: r.secret_result as ApprovalRequest['secretResult'],
      error: r.error === null ? null : (JSON.parse(r.error) as ApprovalRequest['error']),
    };
  }

  return {
    // --- users
    insertAdminUser: (u: AdminUserRecord) =>
      write(`admin user ${u.username}`, async () => {
        await db
          .insertInto('admin_users')
          .values({
            id: u.id,
            username: u.username,
            role: u.role,
            enabled: u.enabled ? 1 : 0,
            must_change_password: u.mustChangePassword ? 1 : 0,
            password_hash: u.passwordHash,
            failed_logins: u.failedLogins,
            locked_until: u.lockedUntil,
            password_changed_at: u.passwordChangedAt,
            last_login_at: u.lastLoginAt,
            created_at: u.createdAt,
            updated_at: u.updatedAt,
            trusted_since: u.trustedSince,
          })
          .execute();
      }),

    updateAdminUser: (id, p) =>
      write('admin user', async () => {
        const set = {
          ...(p.role !== undefined && { role: p.role }),
          ...(p.enabled !== undefined && { enabled: p.enabled ? 1 : 0 }),
          ...(p.mustChangePassword !== undefined && { must_change_password: p.mustChangePassword ? 1 : 0 }),
          ...(p.passwordHash !== undefined && { password_hash: p.passwordHash }),
          ...(p.failedLogins !== undefined && { failed_logins: p.failedLogins }),
          ...(p.lockedUntil !== undefined && { locked_until: p.lockedUntil }),
          ...(p.passwordChangedAt !== undefined && { password_changed_at: p.passwordChangedAt }),
          ...(p.lastLoginAt !== undefined && { last_login_at: p.lastLoginAt }),
          ...(p.updatedAt !== undefined && { updated_at: p.updatedAt }),
          ...(p.trustedSince !== undefined && { trusted_since: p.trustedSince }),
        };
        if (Object.keys(set).length) await db.updateTable('admin_users').set(set).where('id', '=', id).execute();
      }),

    async claimLoginAttempt(id, nowIso, threshold, provisionalLockIso) {
      // One statement, so concurrent guesses cannot all read the same count: each claims the
      // next attempt number, and the one that reaches the threshold locks the name for the
      // others before any of them has been checked.
      const r = await db
        .updateTable('admin_users')
        .set((eb) => ({
          failed_logins: eb('failed_logins', '+', 1),
          locked_until: eb.case().when('failed_logins', '>=', threshold - 1).then(provisionalLockIso).else(eb.ref('locked_until')).end(),
        }))
        .where('id', '=', id)
        .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', nowIso)]))
        .returning('failed_logins')
        .executeTakeFirst();
      return r?.failed_logins;
    },

    async getAdminUser(idOrUsername) {
      const r = await db
        .selectFrom('admin_users')
        .selectAll()
        .where((eb) => eb.or([eb('id', '=', idOrUsername), eb('username', '=', idOrUsername)]))
        .executeTakeFirst();
      return r && { ...toUser(r), passwordHash: r.password_hash };
    },

    async listAdminUsers() {
      return (await db.selectFrom('admin_users').select(USER_COLUMNS).orderBy('username').execute()).map(toUser);
    },

    // --- sessions
    insertSession: (s) =>
      write('session', async () => {
        await db
          .insertInto('admin_sessions')
          .values({ id: s.id, user_id: s.userId, token_digest: s.tokenDigest, created_at: s.createdAt, expires_at: s.expiresAt, last_seen_at: s.lastSeenAt, source_ip: s.sourceIp })
          .execute();
      }),

    async getSessionByDigest(digest) {
      const r = await db.selectFrom('admin_sessions').selectAll().where('token_digest', '=', digest).executeTakeFirst();
      return r && toSession(r);
    },

    async touchSession(id, at) {
      await db.updateTable('admin_sessions').set({ last_seen_at: at }).where('id', '=', id).execute();
    },

    async deleteSession(id) {
      await db.deleteFrom('admin_sessions').where('id', '=', id).execute();
    },

    async deleteSessionsOfUser(userId, exceptId) {
      let q = db.deleteFrom('admin_sessions').where('user_id', '=', userId);
      if (exceptId !== undefined) q = q.where('id', '!=', exceptId);
      await q.execute();
    },

    async deleteExpiredSessions(nowIso) {
      const r = await db.deleteFrom('admin_sessions').where('expires_at', '<=', nowIso).executeTakeFirst();
      return Number(r.numDeletedRows);
    },

    // --- API keys
    insertApiKey: (k: ApiKeyRecord) =>
      write(`API key ${k.name}`, async () => {
        await db
          .insertInto('admin_api_keys')
          .values({
            id: k.id,
            user_id: k.userId,
            name: k.name,
            hint: k.hint,
            token_digest: k.tokenDigest,
            created_at: k.createdAt,
            expires_at: k.expiresAt,
            last_used_at: k.lastUsedAt,
            revoked_at: k.revokedAt,
          })
          .execute();
      }),

    async getApiKeyByDigest(digest) {
      const r = await db.selectFrom('admin_api_keys').selectAll().where('token_digest', '=', digest).executeTakeFirst();
      return r && { ...toApiKey(r), tokenDigest: r.token_digest };
    },

    async listApiKeys(userId) {
      return (await db.selectFrom('admin_api_keys').select(API_KEY_COLUMNS).where('user_id', '=', userId).orderBy('created_at').execute()).map(toApiKey);
    },

    async touchApiKey(id, at) {
      await db.updateTable('admin_api_keys').set({ last_used_at: at }).where('id', '=', id).execute();
    },

    async revokeApiKey(id, at) {
      await db.updateTable('admin_api_keys').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute();
    },

    async revokeApiKeysOfUser(userId, at) {
      await db.updateTable('admin_api_keys').set({ revoked_at: at }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
    },

    // --- approval rules
    async listApprovalRules() {
      return (await db.selectFrom('approval_rules').selectAll().orderBy('action').execute()).map(toRule);
    },

    async getApprovalRule(action) {
      const r = await db.selectFrom('approval_rules').selectAll().where('action', '=', action).executeTakeFirst();
      return r && toRule(r);
    },

    putApprovalRule: (rule) =>
      write('approval rule', async () => {
        const values = {
          required: rule.required,
          approvers: rule.approvers === null ? null : JSON.stringify(rule.approvers),
          ttl_minutes: rule.ttlMinutes,
          updated_at: rule.updatedAt,
          updated_by: rule.updatedBy,
        };
        await db
          .insertInto('approval_rules')
          .values({ action: rule.action, ...values })
          .onConflict((oc) => oc.column('action').doUpdateSet(values))
          .execute();
      }),

    async deleteApprovalRule(action) {
      await db.deleteFrom('approval_rules').where('action', '=', action).execute();
    },

    // --- approval requests
    insertApprovalRequest: (r) =>
      write('approval request', async () => {
        await db
          .insertInto('approval_requests')
          .values({
            id: r.id,
            action: r.action,
            rule: r.rule,
            params: JSON.stringify(r.params),
            summary: r.summary,
            requested_by_id: r.requestedBy.userId,
            requested_by_name: r.requestedBy.username,
            created_at: r.createdAt,
            expires_at: r.expiresAt,
            required: r.required,
            approvers: r.approvers === null ? null : JSON.stringify(r.approvers),
            status: r.status,
            decided_at: r.decidedAt,
            result: r.result === null || r.result === undefined ? null : JSON.stringify(r.result),
            result_sealed: null,
            secret_result: r.secretResult,
            error: r.error === null ? null : JSON.stringify(r.error),
          })
          .execute();
      }),

    async getApprovalRequest(id) {
      const r = await db.selectFrom('approval_requests').select(REQUEST_COLUMNS).where('id', '=', id).executeTakeFirst();
      return r && toRequest(r, (await votesOf([r.id])).get(r.id) ?? []);
    },

    async listApprovalRequests(filter) {
      let q = db
        .selectFrom('approval_requests')
        .select(REQUEST_COLUMNS)
        .orderBy('created_at', 'desc')
        .limit(Math.min(filter.limit ?? 200, 1000));
      if (filter.status !== undefined) q = q.where('status', '=', filter.status);
      const rows = await q.execute();
      const votes = await votesOf(rows.map((r) => r.id));
      return rows.map((r) => toRequest(r, votes.get(r.id) ?? []));
    },

    addApprovalVote: (requestId, v) =>
      write('your decision on this request', async () => {
        await db.insertInto('approval_votes').values({ request_id: requestId, user_id: v.userId, username: v.username, decision: v.decision, comment: v.comment, at: v.at }).execute();
      }),

    async transitionApprovalRequest(id, from, to, patch = {}) {
      const r = await db
        .updateTable('approval_requests')
        .set({
          status: to,
          ...(patch.decidedAt !== undefined && { decided_at: patch.decidedAt }),
          ...(patch.result !== undefined && { result: patch.result === null ? null : JSON.stringify(patch.result) }),
          ...(patch.resultSealed !== undefined && { result_sealed: patch.resultSealed }),
          ...(patch.secretResult !== undefined && { secret_result: patch.secretResult }),
          ...(patch.error !== undefined && { error: patch.error === null ? null : JSON.stringify(patch.error) }),
        })
        .where('id', '=', id)
        .where('status', '=', from)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },

    async takeApprovalSecret(id) {
      return db.transaction().execute(async (tx) => {
        const r = await tx.selectFrom('approval_requests').select(['result_sealed', 'secret_result']).where('id', '=', id).executeTakeFirst();
        if (!r || r.secret_result !== 'available' || r.result_sealed === null) return undefined;
        const res = await tx
          .updateTable('approval_requests')
          .set({ result_sealed: null, secret_result: 'collected' })
          .where('id', '=', id)
          .where('secret_result', '=', 'available')
          .executeTakeFirst();
        return Number(res.numUpdatedRows) === 1 ? Buffer.from(r.result_sealed) : undefined;
      });
    },

    async listExpiredApprovalRequests(nowIso) {
      return (await db.selectFrom('approval_requests').select('id').where('status', '=', 'pending').where('expires_at', '<=', nowIso).execute()).map((r) => r.id);
    },
  };
}
