import type { z } from 'zod';
import type { ApprovalAction, ApprovalOperation } from './admin-model.js';

/** Who filed the request: what an operation run after approval acts as. */
export interface ApprovalRunContext {
  requestedBy: { userId: string; username: string };
}

/**
 * The operations an approval request can run, each with:
 * - its parameter schema;
 * - `bind`: resolves the names it was given to the objects' ids, so an approved request acts
 *   on the object it was filed for and never on a later one that took the same name;
 * - `rules`: the approval rules this particular change falls under, judged by its effect
 *   against the object's current state (none: it runs at once);
 * - a check that runs when the request is made (so a request that could never succeed is
 *   refused at once), and the call that runs it.
 */
export interface ApprovalActionSpec {
  params: z.ZodType<Record<string, unknown>>;
  bind(p: Record<string, unknown>): Promise<Record<string, unknown>>;
  rules(p: Record<string, unknown>): Promise<ApprovalAction[]>;
  summary(p: Record<string, unknown>): string;
  check(p: Record<string, unknown>): Promise<void>;
  run(p: Record<string, unknown>, ctx: ApprovalRunContext): Promise<unknown>;
  /** The result is a secret: sealed in storage and handed once to the requester. */
  secretResult?: boolean;
}

export type ApprovalActions = Record<ApprovalOperation, ApprovalActionSpec>;

export function spec<S extends z.ZodObject>(
  schema: S,
  parts: {
    bind(p: z.infer<S>): Promise<z.infer<S>>;
    rules(p: z.infer<S>): Promise<ApprovalAction[]>;
    summary(p: z.infer<S>): string;
    check(p: z.infer<S>): Promise<void>;
    run(p: z.infer<S>, ctx: ApprovalRunContext): Promise<unknown>;
    secretResult?: boolean;
  },
): ApprovalActionSpec {
  return {
    params: schema.strict() as unknown as z.ZodType<Record<string, unknown>>,
    bind: async (p) => (await parts.bind(p as z.infer<S>)) as Record<string, unknown>,
    rules: (p) => parts.rules(p as z.infer<S>),
    summary: (p) => parts.summary(p as z.infer<S>),
    check: (p) => parts.check(p as z.infer<S>),
    run: (p, ctx) => parts.run(p as z.infer<S>, ctx),
    ...(parts.secretResult ? { secretResult: true } : {}),
  };
}

/** A change that always falls under one rule, whatever its effect. */
export const always =
  (rule: ApprovalAction) =>
  async (): Promise<ApprovalAction[]> => [rule];
