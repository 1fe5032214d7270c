import { randomUUID } from 'node:crypto';
import { fail, isKeyholdError, isoNow, type Clock } from '../base/index.js';
import type { SealContext } from '../crypto/index.js';
import { APPROVAL_OPERATIONS, type AdminUser, type ApprovalOperation, type ApprovalRequest, type ApprovalRule, type ApprovalStatus, type Principal } from './admin-model.js';
import type { AdminUserRepo, ApprovalRepo } from './admin-ports.js';
import type { ApprovalActions } from './approval-actions.js';
import { createApprovalRules, validateApprovalAction, type ApprovalRuleInput } from './approval-rules.js';
import type { Seal } from './ports.js';
import { truncate } from './validation.js';

export type Submission = { status: 'executed'; result: unknown } | { status: 'pending'; request: ApprovalRequest };

export type ApprovalService = ReturnType<typeof createApprovalService>;

export function approvalSealContext(id: string): SealContext {
  return { table: 'approval_requests', id, column: 'result' };
}

export function validateApprovalOperation(op: string): ApprovalOperation {
  if (!APPROVAL_OPERATIONS.includes(op as ApprovalOperation)) fail('ValidationFailed', `'${truncate(op)}' is not an operation approvals can run`);
  return op as ApprovalOperation;
}

/**
 * May this account's vote count on request `r`? Only an enabled custodian (among the named
 * approvers, if any), other than the requester, whose account gained its power to vote
 * before the request was filed: an account created, re-enabled, re-roled or reset since
 * then may be in the hands of whoever did that.
 */
export function voteIneligibility(u: AdminUser | undefined, r: ApprovalRequest): string | undefined {
  if (!u || !u.enabled) return 'the account is disabled or gone';
  if (u.role !== 'custodian') return 'only key custodians decide approval requests';
  if (u.id === r.requestedBy.userId) return 'you made this request; another custodian must decide it';
  if (r.approvers !== null && !r.approvers.includes(u.username)) return `you are not among the approvers of this request (${r.approvers.join(', ')})`;
  if (Date.parse(u.trustedSince) > Date.parse(r.createdAt)) {
    return 'your account was created, re-enabled, given its role or had its password reset after this request was filed, so your vote would not count';
  }
  return undefined;
}

/**
 * Quorum approvals (M-of-N among custodians). An action guarded by a rule is filed as a
 * pending request; other custodians approve or deny; the request expires after its time
 * to live; the requester can neither approve nor deny their own request. When the M-th
 * approval arrives the action runs exactly once: a conditional status change
 * (pending → executing) decides which caller runs it.
 */
export function createApprovalService(deps: {
  repo: ApprovalRepo & Pick<AdminUserRepo, 'listAdminUsers' | 'getAdminUser'>;
  actions: ApprovalActions;
  seal: Seal;
  clock: Clock;
  defaultTtlMs: number;
}) {
  const { repo, actions, seal, clock } = deps;
  const rules = createApprovalRules({ repo, clock });

  function parseParams(action: ApprovalOperation, raw: unknown): Record<string, unknown> {
    const r = actions[action].params.safeParse(raw);
    if (!r.success) fail('ValidationFailed', `invalid parameters for ${action}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    return r.data;
  }

  /** Pending requests past their expiry become expired when anyone looks at them. */
  async function settle(r: ApprovalRequest): Promise<ApprovalRequest> {
    if (r.status === 'pending' && Date.parse(r.expiresAt) <= clock.now()) {
      const decidedAt = isoNow(clock);
      await repo.transitionApprovalRequest(r.id, 'pending', 'expired', { decidedAt });
      return (await repo.getApprovalRequest(r.id)) ?? { ...r, status: 'expired', decidedAt };
    }
    return r;
  }

  async function mustGet(id: string): Promise<ApprovalRequest> {
    const r = typeof id === 'string' && id.length <= 64 ? await repo.getApprovalRequest(id) : undefined;
    const settled = await settle(r ?? fail('NotFound', `approval request ${truncate(id)} does not exist`));
    return { ...settled, countedApprovals: countApprovals(settled, await usersById()) };
  }

  async function usersById(): Promise<Map<string, AdminUser>> {
    return new Map((await repo.listAdminUsers()).map((u) => [u.id, u]));
  }

  /** Approvals that still count: a voter disabled, demoted or reset since voting is void. */
  function countApprovals(r: ApprovalRequest, users: Map<string, AdminUser>): number {
    return r.votes.filter((v) => v.decision === 'approve' && voteIneligibility(users.get(v.userId), r) === undefined).length;
  }

  async function execute(r: ApprovalRequest): Promise<void> {
    const spec = actions[r.action];
    try {
      const result = await spec.run(r.params, { requestedBy: r.requestedBy });
      const decidedAt = isoNow(clock);
      if (spec.secretResult) {
        const sealed = await seal.seal(Buffer.from(JSON.stringify(result), 'utf8'), approvalSealContext(r.id));
        await repo.transitionApprovalRequest(r.id, 'executing', 'executed', { decidedAt, resultSealed: sealed, secretResult: 'available', result: null });
      } else {
        await repo.transitionApprovalRequest(r.id, 'executing', 'executed', { decidedAt, result: result ?? null });
      }
    } catch (e) {
      const error = isKeyholdError(e) ? { code: e.code, message: e.message } : { code: 'Internal', message: 'the action failed; see the server log' };
      await repo.transitionApprovalRequest(r.id, 'executing', 'failed', { decidedAt: isoNow(clock), error });
      if (!isKeyholdError(e)) throw e;
    }
  }

  function requireVoter(principal: Principal, r: ApprovalRequest): void {
    const why = voteIneligibility(principal.user, r);
    if (why !== undefined) fail('AccessDenied', why);
    if (r.votes.some((v) => v.userId === principal.user.id)) fail('Conflict', 'you already decided this request');
  }

  function requirePending(r: ApprovalRequest): void {
    if (r.status !== 'pending') fail('InvalidState', `approval request ${r.id} is ${r.status}`);
  }

  return {
    listRules: () => repo.listApprovalRules(),

    async getRule(action: string): Promise<ApprovalRule | undefined> {
      return repo.getApprovalRule(validateApprovalAction(action));
    },

    async setRule(action: string, input: ApprovalRuleInput, by: Principal): Promise<ApprovalRule> {
      return (await rules.apply(action, input, by.user.username))!;
    },

    async clearRule(action: string): Promise<void> {
      await rules.apply(action, null, '-');
    },

    /** Validation of a rule change, shared with the approval-rule.change operation. */
    rules,

    /**
     * Runs the operation now when no rule covers its effect; otherwise files a pending
     * request bound to the ids of the objects it names. When several rules apply, the
     * strictest (most approvals) governs.
     */
    async submit(principal: Principal, action: ApprovalOperation, rawParams: unknown): Promise<Submission> {
      const spec = actions[validateApprovalOperation(action)];
      const params = parseParams(action, await spec.bind(parseParams(action, rawParams)));
      const names = await spec.rules(params);
      const found = (await Promise.all(names.map((n) => repo.getApprovalRule(n)))).filter((r): r is ApprovalRule => r !== undefined);
      const rule = found.sort((x, y) => y.required - x.required)[0];
      const ctx = { requestedBy: { userId: principal.user.id, username: principal.user.username } };
      if (!rule) return { status: 'executed', result: await spec.run(params, ctx) };
      await spec.check(params);
      const probe = { requestedBy: ctx.requestedBy, approvers: rule.approvers, createdAt: isoNow(clock) } as ApprovalRequest;
      const eligible = (await repo.listAdminUsers()).filter((u) => voteIneligibility(u, probe) === undefined);
      if (eligible.length < rule.required) {
        fail('Conflict', `${rule.action} needs ${rule.required} approval(s) but only ${eligible.length} other custodian(s) can give one; ask an administrator to adjust the rule or add custodians`);
      }
      const nowMs = clock.now();
      const request: ApprovalRequest = {
        id: randomUUID(),
        action,
        rule: rule.action,
        params,
        summary: spec.summary(params),
        requestedBy: ctx.requestedBy,
        createdAt: new Date(nowMs).toISOString(),
        expiresAt: new Date(nowMs + (rule.ttlMinutes !== null ? rule.ttlMinutes * 60_000 : deps.defaultTtlMs)).toISOString(),
        required: rule.required,
        approvers: rule.approvers,
        status: 'pending',
        votes: [],
        decidedAt: null,
        result: null,
        secretResult: 'none',
        error: null,
      };
      await repo.insertApprovalRequest(request);
      return { status: 'pending', request };
    },

    async list(filter: { status?: ApprovalStatus | undefined; limit?: number | undefined } = {}): Promise<ApprovalRequest[]> {
      const rows = await repo.listApprovalRequests({ ...(filter.status && filter.status !== 'expired' ? { status: filter.status } : {}), limit: filter.limit ?? 200 });
      const users = await usersById();
      const settled = (await Promise.all(rows.map(settle))).map((r) => ({ ...r, countedApprovals: countApprovals(r, users) }));
      return filter.status ? settled.filter((r) => r.status === filter.status) : settled;
    },

    get: mustGet,

    /** One approval; the one that completes the quorum runs the action (once). */
    async approve(principal: Principal, id: string, comment?: string): Promise<ApprovalRequest> {
      const r = await mustGet(id);
      requirePending(r);
      requireVoter(principal, r);
      await repo.addApprovalVote(r.id, { userId: principal.user.id, username: principal.user.username, decision: 'approve', comment: comment ?? null, at: isoNow(clock) });
      const now = await mustGet(id);
      // Expired meanwhile, denied by someone else, or already executing: the vote stands, nothing runs.
      if (now.status !== 'pending') return now;
      const approvals = now.countedApprovals ?? 0;
      if (approvals >= now.required && (await repo.transitionApprovalRequest(now.id, 'pending', 'executing'))) {
        // A request outlives its requester's rights no more than a vote does: an account
        // disabled, re-roled or reset since filing no longer stands behind the request.
        const requester = await repo.getAdminUser(now.requestedBy.userId);
        if (!requester || !requester.enabled || Date.parse(requester.trustedSince) > Date.parse(now.createdAt)) {
          const error = { code: 'InvalidState', message: `the requester '${now.requestedBy.username}' was disabled, given another role or had the password reset after filing; file the request again` };
          await repo.transitionApprovalRequest(now.id, 'executing', 'failed', { decidedAt: isoNow(clock), error });
        } else {
          await execute(now);
        }
      }
      return mustGet(id);
    },

    /** One denial ends the request. */
    async deny(principal: Principal, id: string, comment?: string): Promise<ApprovalRequest> {
      const r = await mustGet(id);
      requirePending(r);
      requireVoter(principal, r);
      await repo.addApprovalVote(r.id, { userId: principal.user.id, username: principal.user.username, decision: 'deny', comment: comment ?? null, at: isoNow(clock) });
      await repo.transitionApprovalRequest(r.id, 'pending', 'denied', { decidedAt: isoNow(clock) });
      return mustGet(id);
    },

    /** The requester withdraws a pending request. */
    async cancel(principal: Principal, id: string): Promise<ApprovalRequest> {
      const r = await mustGet(id);
      if (principal.user.id !== r.requestedBy.userId) fail('AccessDenied', 'only the requester can cancel a request');
      requirePending(r);
      await repo.transitionApprovalRequest(r.id, 'pending', 'cancelled', { decidedAt: isoNow(clock) });
      return mustGet(id);
    },

    /** The secret result of an executed request (a new credential): once, to the requester. */
    async collect(principal: Principal, id: string): Promise<unknown> {
      const r = await mustGet(id);
      if (principal.user.id !== r.requestedBy.userId) fail('AccessDenied', 'only the requester can collect the result');
      if (r.status !== 'executed' || r.secretResult !== 'available') fail('InvalidState', `approval request ${r.id} has no result to collect (status ${r.status}, secret ${r.secretResult})`);
      const sealed = await repo.takeApprovalSecret(r.id);
      if (!sealed) fail('InvalidState', `the result of ${r.id} was already collected`);
      const plain = await seal.unseal(sealed, approvalSealContext(r.id));
      try {
        return JSON.parse(plain.toString('utf8')) as unknown;
      } finally {
        plain.fill(0);
      }
    },

    /** Scheduler housekeeping: marks every overdue pending request expired. */
    async expireDue(): Promise<number> {
      let n = 0;
      for (const id of await repo.listExpiredApprovalRequests(isoNow(clock))) {
        if (await repo.transitionApprovalRequest(id, 'pending', 'expired', { decidedAt: isoNow(clock) })) n++;
      }
      return n;
    },
  };
}
