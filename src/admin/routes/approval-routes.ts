import { z } from 'zod';
import type { ApprovalStatus } from '../../domain/index.js';
import { defineRoute, type AdminRoute } from '../route.js';
import { approvalView, ERROR_RESPONSES, toApprovalView } from '../views.js';
import type { RouteDeps } from './deps.js';
import { EXEMPT } from './common.js';
import { fail } from '../../base/index.js';

const idParams = z.object({ id: z.string().min(1).max(64) });
const comment = z.object({ comment: z.string().max(1000).optional() }).strict().nullish();

/** Approval requests: custodians decide them, auditors read them. */
export function approvalRoutes({ services }: RouteDeps): AdminRoute[] {
  const { approvals } = services;
  return [
    defineRoute({
      id: 'approvals.list',
      method: 'GET',
      url: '/approvals',
      access: ['custodian', 'auditor'],
      tag: 'approvals',
      summary: 'List approval requests (newest first)',
      query: z.object({ status: z.enum(['pending', 'executing', 'executed', 'failed', 'denied', 'expired', 'cancelled']).optional(), limit: z.coerce.number().int().min(1).max(1000).optional() }).strict(),
      responses: { 200: z.array(approvalView), ...ERROR_RESPONSES },
      async handle({ query }) {
        return (await approvals.list({ status: query.status as ApprovalStatus | undefined, limit: query.limit })).map(toApprovalView);
      },
    }),
    defineRoute({
      id: 'approvals.get',
      method: 'GET',
      url: '/approvals/:id',
      access: ['custodian', 'auditor', 'administrator'],
      tag: 'approvals',
      summary: 'Show an approval request',
      description: 'Administrators see only the requests they made (user changes, rule changes, the AWS configuration export).',
      params: idParams,
      responses: { 200: approvalView, ...ERROR_RESPONSES },
      async handle({ params, principal }) {
        const r = await approvals.get(params.id);
        if (principal.user.role === 'administrator' && r.requestedBy.userId !== principal.user.id) fail('AccessDenied', 'administrators see only their own approval requests');
        return toApprovalView(r);
      },
    }),
    defineRoute({
      id: 'approvals.approve',
      method: 'POST',
      url: '/approvals/:id/approve',
      access: ['custodian'],
      approval: EXEMPT.mechanism,
      tag: 'approvals',
      summary: 'Approve; the approval that completes the quorum runs the action (once)',
      description: 'The requester cannot approve their own request (403).',
      params: idParams,
      body: comment,
      responses: { 200: approvalView, ...ERROR_RESPONSES },
      async handle({ params, body, principal, audit }) {
        audit.approvalId = params.id;
        const r = await approvals.approve(principal, params.id, body?.comment);
        audit.change = { action: r.action, params: r.params, status: r.status };
        return toApprovalView(r);
      },
    }),
    defineRoute({
      id: 'approvals.deny',
      method: 'POST',
      url: '/approvals/:id/deny',
      access: ['custodian'],
      approval: EXEMPT.mechanism,
      tag: 'approvals',
      summary: 'Deny; one denial ends the request',
      params: idParams,
      body: comment,
      responses: { 200: approvalView, ...ERROR_RESPONSES },
      async handle({ params, body, principal, audit }) {
        audit.approvalId = params.id;
        return toApprovalView(await approvals.deny(principal, params.id, body?.comment));
      },
    }),
    defineRoute({
      id: 'approvals.cancel',
      method: 'POST',
      url: '/approvals/:id/cancel',
      access: ['custodian', 'administrator'],
      approval: EXEMPT.mechanism,
      tag: 'approvals',
      summary: 'Withdraw your own pending request',
      params: idParams,
      responses: { 200: approvalView, ...ERROR_RESPONSES },
      async handle({ params, principal, audit }) {
        audit.approvalId = params.id;
        return toApprovalView(await approvals.cancel(principal, params.id));
      },
    }),
    defineRoute({
      id: 'approvals.collect',
      method: 'POST',
      url: '/approvals/:id/collect',
      access: ['custodian', 'administrator'],
      approval: EXEMPT.mechanism,
      tag: 'approvals',
      summary: 'Collect the secret result of your executed request (once)',
      params: idParams,
      responses: { 200: z.object({ result: z.unknown() }), ...ERROR_RESPONSES },
      async handle({ params, principal, audit }) {
        audit.approvalId = params.id;
        return { result: await approvals.collect(principal, params.id) };
      },
    }),
  ];
}
