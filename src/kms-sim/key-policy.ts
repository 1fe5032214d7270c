/**
 * Key policies (kms-semantics §2.8): one policy per key, named `default`. The simulator keeps
 * and checks the document (JSON with statements, 32 KB quota) but does not evaluate it:
 * every configured caller is treated as an administrator of its own account.
 */
import { z } from 'zod';
import { kmsError } from './errors.js';
import { op, type Operation } from './context.js';
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
