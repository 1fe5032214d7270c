import { z } from 'zod';
import { defineRoute, type AdminRoute } from '../route.js';
import { approvalActionSchema, approvalRuleView, ERROR_RESPONSES, toApprovalRuleView } from '../views.js';
import { gated, nameParam, okView } from './common.js';
import { pendingApprovalView } from '../views.js';
import type { RouteDeps } from './deps.js';
import { APPROVAL_ACTIONS, APPROVAL_RULE_DESCRIPTIONS, type ApprovalAction, type ApprovalRule } from '../../domain/index.js';

const actionParams = z.object({ action: approvalActionSchema });

export const approvalRuleInfoView = z
  .object({
    name: approvalActionSchema,
    description: z.string(),
    routes: z
      .array(z.object({ method: z.string(), path: z.string(), operationId: z.string(), when: z.string().nullable().describe('null: the rule covers every call; else only the calls described') }))
      .describe("the operations of this server's OpenAPI document whose approval coverage names the rule"),
  })
  .meta({ id: 'ApprovalRuleInfo' });

type OpenApiDoc = { paths?: Record<string, Record<string, Record<string, unknown>>> };

/** The operations of the OpenAPI document (x-keyhold-approval, route.ts) that each rule guards. */
function routesByRule(doc: OpenApiDoc): Map<string, z.output<typeof approvalRuleInfoView>['routes']> {
  const out = new Map<string, z.output<typeof approvalRuleInfoView>['routes']>();
  for (const [path, methods] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(methods)) {
      const guard = op['x-keyhold-approval'];
      const names = typeof guard === 'string' ? [guard] : Array.isArray(guard) ? guard.filter((g): g is string => typeof g === 'string') : [];
      const when = typeof op['x-keyhold-approval-when'] === 'string' ? op['x-keyhold-approval-when'] : null;
      for (const n of names) out.set(n, [...(out.get(n) ?? []), { method: method.toUpperCase(), path, operationId: String(op.operationId ?? ''), when }]);
    }
  }
  return out;
}

/**
 * Settings: the approval rules and their catalogue. Administrators set them (custodians cannot lower the
 * quorum that guards their own actions); auditors read them.
 */
export function settingsRoutes(deps: RouteDeps): AdminRoute[] {
  const { approvals } = deps.services;
  return [
    defineRoute({
      id: 'approval-rules.catalog',
      method: 'GET',
      url: '/approval-rules/catalog',
      access: ['administrator', 'custodian', 'auditor'],
      tag: 'settings',
      summary: 'Every approval rule this server knows: its name, what it guards, and the operations it covers',
      description: 'The names a rule can be set for (PUT /settings/approval-rules/{action}); the routes come from the approval coverage each operation declares in this document.',
      responses: { 200: z.array(approvalRuleInfoView), ...ERROR_RESPONSES },
      async handle() {
        const covered = routesByRule(deps.openapi() as OpenApiDoc);
        return APPROVAL_ACTIONS.map((name: ApprovalAction) => ({ name, description: APPROVAL_RULE_DESCRIPTIONS[name], routes: covered.get(name) ?? [] }));
      },
    }),
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
