import { z } from 'zod';
import { KeyholdError } from '../base/index.js';
import type { PolicyRule, RequestContext, SecondaryPolicy } from './model.js';

const patterns = z.array(z.string().min(1).max(2048)).min(1).max(100).optional();

export const policySchema = z
  .object({
    default: z.enum(['allow', 'deny']),
    rules: z
      .array(
        z
          .object({
            id: z.string().min(1).max(64).optional(),
            effect: z.enum(['allow', 'deny']),
            principals: patterns,
            operations: patterns,
            viaServices: patterns,
            keyArns: patterns,
            keyIds: patterns,
            sourceVpcs: patterns,
            sourceVpces: patterns,
          })
          .strict(),
      )
      .max(200),
  })
  .strict();

export function parsePolicy(input: unknown): SecondaryPolicy {
  const r = policySchema.safeParse(input);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new KeyholdError('ValidationFailed', `invalid policy: ${issues}`);
  }
  return r.data as SecondaryPolicy;
}

export interface PolicyDecision {
  allowed: boolean;
  /** Which rule decided ("rules[2]" or its id), or "default". */
  decidedBy: string;
}

const globCache = new Map<string, RegExp>();

/** Glob with * (any run, including empty) and ? (one character); everything else literal. */
export function globMatch(pattern: string, value: string): boolean {
  let re = globCache.get(pattern);
  if (!re) {
    re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 's');
    if (globCache.size > 10_000) globCache.clear();
    globCache.set(pattern, re);
  }
  return re.test(value);
}

function condition(list: string[] | undefined, value: string | undefined): boolean {
  if (list === undefined) return true;
  if (value === undefined) return false;
  return list.some((p) => globMatch(p, value));
}

function ruleMatches(rule: PolicyRule, ctx: RequestContext, externalKeyId: string): boolean {
  return (
    condition(rule.principals, ctx.awsPrincipalArn) &&
    condition(rule.operations, ctx.kmsOperation) &&
    condition(rule.viaServices, ctx.kmsViaService) &&
    condition(rule.keyArns, ctx.kmsKeyArn) &&
    condition(rule.keyIds, externalKeyId) &&
    condition(rule.sourceVpcs, ctx.awsSourceVpc) &&
    condition(rule.sourceVpces, ctx.awsSourceVpce)
  );
}

/**
 * Secondary authorization: an explicit deny wins; otherwise an allow rule allows; otherwise
 * the policy's default applies. A rule matches when every condition it lists matches; a
 * condition on a field the request does not carry does not match. Unknown kmsOperation
 * values are evaluated like any other; they are denied only when a rule says so.
 */
export function evaluatePolicy(policy: SecondaryPolicy | null, ctx: RequestContext, externalKeyId: string): PolicyDecision {
  if (!policy) return { allowed: true, decidedBy: 'no policy' };
  let allowBy: string | undefined;
  for (let i = 0; i < policy.rules.length; i++) {
    const rule = policy.rules[i]!;
    if (!ruleMatches(rule, ctx, externalKeyId)) continue;
    const name = rule.id ?? `rules[${i}]`;
    if (rule.effect === 'deny') return { allowed: false, decidedBy: name };
    allowBy ??= name;
  }
  if (allowBy) return { allowed: true, decidedBy: allowBy };
  return { allowed: policy.default === 'allow', decidedBy: 'default' };
}
