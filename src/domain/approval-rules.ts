import { fail, isoNow, type Clock } from '../base/index.js';
import { APPROVAL_ACTIONS, type ApprovalAction, type ApprovalRule } from './admin-model.js';
import type { AdminUserRepo, ApprovalRepo } from './admin-ports.js';
import { truncate } from './validation.js';

export const MAX_REQUIRED_APPROVALS = 10;
export const MAX_APPROVAL_TTL_MINUTES = 30 * 24 * 60;

export interface ApprovalRuleInput {
  required: number;
  approvers?: string[] | null | undefined;
  ttlMinutes?: number | null | undefined;
}

export function validateApprovalAction(action: string): ApprovalAction {
  if (!APPROVAL_ACTIONS.includes(action as ApprovalAction)) fail('ValidationFailed', `'${truncate(action)}' is not an action that approvals can guard (${APPROVAL_ACTIONS.join(', ')})`);
  return action as ApprovalAction;
}

/**
 * The approval rules themselves: validated the same way whether an administrator sets one
 * directly or an approved `approval-rule.change` request does.
 */
export function createApprovalRules(deps: { repo: ApprovalRepo & Pick<AdminUserRepo, 'listAdminUsers'>; clock: Clock }) {
  const { repo, clock } = deps;

  async function custodians(): Promise<string[]> {
    return (await repo.listAdminUsers()).filter((u) => u.enabled && u.role === 'custodian').map((u) => u.username);
  }

  async function build(action: string, input: ApprovalRuleInput, by: string): Promise<ApprovalRule> {
    const a = validateApprovalAction(action);
    if (!Number.isInteger(input.required) || input.required < 1 || input.required > MAX_REQUIRED_APPROVALS) fail('ValidationFailed', `required approvals must be 1-${MAX_REQUIRED_APPROVALS}`);
    let approvers: string[] | null = null;
    if (input.approvers !== undefined && input.approvers !== null) {
      approvers = [...new Set(input.approvers)].sort();
      const known = await custodians();
      const unknown = approvers.filter((n) => !known.includes(n));
      if (unknown.length) fail('ValidationFailed', `approvers must be enabled key custodians: ${unknown.map((n) => truncate(n)).join(', ')}`);
      if (approvers.length < input.required) fail('ValidationFailed', `${input.required} approvals cannot come from ${approvers.length} approver(s)`);
    }
    const ttl = input.ttlMinutes ?? null;
    if (ttl !== null && (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_APPROVAL_TTL_MINUTES)) fail('ValidationFailed', `an approval request lives 1-${MAX_APPROVAL_TTL_MINUTES} minutes`);
    return { action: a, required: input.required, approvers, ttlMinutes: ttl, updatedAt: isoNow(clock), updatedBy: by };
  }

  async function mustExist(action: string): Promise<ApprovalAction> {
    const a = validateApprovalAction(action);
    if (!(await repo.getApprovalRule(a))) fail('NotFound', `no approval rule for ${a}`);
    return a;
  }

  return {
    /** Refuses a rule change that could never be applied (at request time). */
    async check(action: string, input: ApprovalRuleInput | null): Promise<void> {
      if (input === null) await mustExist(action);
      else await build(action, input, '-');
    },
    /** Sets (or, with null, removes) the rule of an action; returns the rule set, or null. */
    async apply(action: string, input: ApprovalRuleInput | null, by: string): Promise<ApprovalRule | null> {
      if (input === null) {
        await repo.deleteApprovalRule(await mustExist(action));
        return null;
      }
      const rule = await build(action, input, by);
      await repo.putApprovalRule(rule);
      return rule;
    },
  };
}

export type ApprovalRules = ReturnType<typeof createApprovalRules>;
