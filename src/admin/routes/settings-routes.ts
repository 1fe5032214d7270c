import { z } from 'zod';
import { defineRoute, type AdminRoute } from '../route.js';
import { approvalActionSchema, approvalRuleView, ERROR_RESPONSES, toApprovalRuleView } from '../views.js';
import { gated, nameParam, okView } from './common.js';
import { pendingApprovalView } from '../views.js';
import type { RouteDeps } from './deps.js';
import type { ApprovalRule } from '../../domain/index.js';

const actionParams = z.object({ action: approvalActionSchema });

/**
 * Settings: the approval rules. Administrators set them (custodians cannot lower the
 * quorum that guards their own actions); auditors read them.
 */
export function settingsRoutes(deps: RouteDeps): AdminRoute[] {
  const { approvals } = deps.services;
  return [
    defineRoute({
      id: 'settings.approval-rules.list',
      method: 'GET',
      url: '/settings/approval-rules',
      access: ['administrator', 'auditor'],
      tag: 'settings',
      summary: 'List approval rules',
      responses: { 200: z.array(approvalRuleView), ...ERROR_RESPONSES },
      async handle() {
        return (await approvals.listRules()).map(toApprovalRuleView);
      },
    }),
    defineRoute({
      id: 'settings.approval-rules.put',
      method: 'PUT',
      url: '/settings/approval-rules/:action',
      access: ['administrator'],
      approval: 'approval-rule.change',
      tag: 'settings',
      summary: 'Require M approvals from custodians (or from named custodians) for an action',
      params: actionParams,
      body: z
        .object({
          required: z.number().int().min(1).max(10),
          approvers: z.array(nameParam).max(50).nullable().optional(),
          ttlMinutes: z.number().int().min(1).max(43200).nullable().optional(),
        })
        .strict(),
      responses: { 200: approvalRuleView, 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        const { required, approvers, ttlMinutes } = input.body;
        const rule = { required, ...(approvers !== undefined ? { approvers } : {}), ...(ttlMinutes !== undefined ? { ttlMinutes } : {}) };
        return gated(deps, input, 'approval-rule.change', { action: input.params.action, rule }, (r) => toApprovalRuleView(r as ApprovalRule));
      },
    }),
    defineRoute({
      id: 'settings.approval-rules.delete',
      method: 'DELETE',
      url: '/settings/approval-rules/:action',
      access: ['administrator'],
      approval: 'approval-rule.change',
      tag: 'settings',
      summary: 'Remove an approval rule: the action runs at once again',
      params: actionParams,
      responses: { 200: okView, 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        return gated(deps, input, 'approval-rule.change', { action: input.params.action, rule: null }, () => ({ ok: true as const }));
      },
    }),
  ];
}
