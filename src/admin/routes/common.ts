import { z } from 'zod';
import type { ApprovalOperation } from '../../domain/index.js';
import { EXTERNAL_KEY_ID_RE, NAME_RE } from '../../domain/index.js';
import type { RouteDeps } from './deps.js';
import type { RouteInput } from '../route.js';
import { pendingApprovalView, toApprovalView } from '../views.js';

export const nameParam = z.string().regex(NAME_RE, 'a name of 1-64 characters from A-Z a-z 0-9 . _ -');
export const keyIdParam = z.string().regex(EXTERNAL_KEY_ID_RE, 'a key id of 1-128 characters from A-Z a-z 0-9 . _ -');
export const okView = z.object({ ok: z.literal(true) }).meta({ id: 'Ok' });

/** Reasons shared by routes that no approval rule needs to cover. */
export const EXEMPT = {
  adds: { exempt: 'only adds an object; it stops or narrows nothing' },
  restores: { exempt: 'restores service; it stops or narrows nothing' },
  self: { exempt: "acts on the caller's own session, password or API keys" },
  mechanism: { exempt: 'part of the approval mechanism itself (deciding, withdrawing or collecting a request)' },
} as const;

/**
 * Runs an action that an approval rule may guard: at once when no rule applies (200 with
 * the result), else as a pending request (202 with the request).
 */
export async function gated<T>(
  deps: RouteDeps,
  input: RouteInput<unknown, unknown, unknown>,
  action: ApprovalOperation,
  params: Record<string, unknown>,
  present: (result: unknown) => T | Promise<T>,
): Promise<T | z.output<typeof pendingApprovalView>> {
  const s = await deps.services.approvals.submit(input.principal, action, params);
  if (s.status === 'executed') return present(s.result);
  input.reply.code(202);
  input.audit.outcome = 'pending-approval';
  input.audit.approvalId = s.request.id;
  return { pendingApproval: toApprovalView(s.request) };
}
