/**
 * Key policies (kms-semantics §2.8): one policy per key, named `default`. The simulator keeps
 * and checks the document (JSON with statements, 32 KB quota) but does not evaluate it for
 * access: every configured caller is treated as an administrator of its own account. It does
 * make KMS's lockout safety check: without BypassPolicyLockoutSafetyCheck, a new policy must
 * still let the caller call PutKeyPolicy (directly, or through the account root, which
 * delegates to IAM).
 */
import { z } from 'zod';
import { kmsError } from './errors.js';
import { op, type Call, type Operation } from './context.js';
import { resolveKey } from './key-resolution.js';
import { int, str } from './schemas.js';

export const MAX_POLICY_BYTES = 32 * 1024;
const POLICY_CHARS_RE = /^[\u0009\u000A\u000D\u0020-\u00FF]+$/;

export const policySchema = () => str(1, 131072, POLICY_CHARS_RE);
const policyName = () => str(1, 128, /^[\w]+$/);

export function defaultKeyPolicy(accountId: string): string {
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${accountId}:root` }, Action: 'kms:*', Resource: '*' }],
    },
    null,
    2,
  );
}

/** A policy KMS would accept: JSON, an object with a non-empty Statement, within the quota. */
export function checkPolicy(policy: string): void {
  if (Buffer.byteLength(policy, 'utf8') > MAX_POLICY_BYTES) throw kmsError('LimitExceededException', `The key policy is larger than the ${MAX_POLICY_BYTES}-byte quota.`);
  let doc: unknown;
  try {
    doc = JSON.parse(policy);
  } catch {
    throw kmsError('MalformedPolicyDocumentException', 'The key policy is not valid JSON.');
  }
  const statements = doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>).Statement : undefined;
  const list = Array.isArray(statements) ? statements : statements !== undefined ? [statements] : [];
  if (list.length === 0) throw kmsError('MalformedPolicyDocumentException', 'The key policy has no Statement.');
  for (const s of list) {
    const ok = s !== null && typeof s === 'object' && ((s as Record<string, unknown>).Effect === 'Allow' || (s as Record<string, unknown>).Effect === 'Deny');
    if (!ok) throw kmsError('MalformedPolicyDocumentException', 'Every policy statement needs an Effect of Allow or Deny.');
  }
}

type Json = Record<string, unknown>;

function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined ? [] : [v];
}

function glob(pattern: string, value: string): boolean {
  const escaped = pattern.replace(/[.+^$()|[\]{}\\]/g, (c) => `\\${c}`);
  return new RegExp('^' + escaped.replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i').test(value);
}

function principalMatches(principal: unknown, call: Call): boolean {
  if (principal === '*') return true;
  if (principal === null || typeof principal !== 'object') return false;
  const { accountId, principalArn } = call.caller;
  return asList((principal as Json).AWS).some((p) => p === '*' || p === principalArn || p === accountId || p === `arn:aws:iam::${accountId}:root`);
}

/** Whether one statement, with no condition, applies to `action` on `resource` for the caller. */
function statementApplies(s: Json, call: Call, action: string, resource: string): boolean {
  const principal = s.Principal !== undefined ? principalMatches(s.Principal, call) : s.NotPrincipal !== undefined ? !principalMatches(s.NotPrincipal, call) : false;
  const act = s.Action !== undefined ? asList(s.Action).some((a) => typeof a === 'string' && glob(a, action)) : s.NotAction !== undefined ? !asList(s.NotAction).some((a) => typeof a === 'string' && glob(a, action)) : false;
  const res = s.Resource !== undefined ? asList(s.Resource).some((r) => typeof r === 'string' && glob(r, resource)) : s.NotResource !== undefined ? !asList(s.NotResource).some((r) => typeof r === 'string' && glob(r, resource)) : false;
  return principal && act && res;
}

/**
 * KMS's lockout safety check: the policy must let the caller call kms:PutKeyPolicy later.
 * An Allow counts only without conditions (it may not apply); a Deny without conditions that
 * covers the caller defeats it.
 */
export function checkLockout(call: Call, policy: string, keyArnValue = '*'): void {
  const doc = JSON.parse(policy) as Json;
  const statements = asList(doc.Statement).filter((s): s is Json => s !== null && typeof s === 'object');
  const applies = (s: Json) => s.Condition === undefined && statementApplies(s, call, 'kms:PutKeyPolicy', keyArnValue);
  const allowed = statements.some((s) => s.Effect === 'Allow' && applies(s));
  const denied = statements.some((s) => s.Effect === 'Deny' && applies(s));
  if (!allowed || denied) {
    throw kmsError(
      'MalformedPolicyDocumentException',
      `The new key policy will not allow you to update the key policy in the future (${call.caller.principalArn} could not call kms:PutKeyPolicy). Set BypassPolicyLockoutSafetyCheck only if you mean it.`,
    );
  }
}

function requireDefaultName(name: string | undefined): void {
  if (name !== undefined && name !== 'default') throw kmsError('NotFoundException', `No such policy exists: ${name}. The only key policy name is default.`);
}

export const keyPolicyOperations: Record<string, Operation> = {
  GetKeyPolicy: op(z.object({ KeyId: str(1, 2048), PolicyName: policyName().optional() }), async (call, input) => {
    const key = resolveKey(call, input.KeyId, { aliases: false });
    call.entry.keyArn = key.arn;
    requireDefaultName(input.PolicyName);
    return { Policy: key.policy, PolicyName: 'default' };
  }),

  PutKeyPolicy: op(
    z.object({ KeyId: str(1, 2048), PolicyName: policyName().optional(), Policy: policySchema(), BypassPolicyLockoutSafetyCheck: z.boolean().optional() }),
    async (call, input) => {
      const key = resolveKey(call, input.KeyId, { aliases: false });
      call.entry.keyArn = key.arn;
      requireDefaultName(input.PolicyName);
      checkPolicy(input.Policy);
      if (!input.BypassPolicyLockoutSafetyCheck) checkLockout(call, input.Policy, key.arn);
      key.policy = input.Policy;
      return {};
    },
  ),

  ListKeyPolicies: op(z.object({ KeyId: str(1, 2048), Limit: int(1, 1000).optional(), Marker: str(1, 320).optional() }), async (call, input) => {
    const key = resolveKey(call, input.KeyId, { aliases: false });
    call.entry.keyArn = key.arn;
    if (input.Marker !== undefined) throw kmsError('InvalidMarkerException', 'The marker is not valid.');
    return { PolicyNames: ['default'], Truncated: false };
  }),
};
