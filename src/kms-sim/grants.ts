/**
 * Grants (kms-semantics §2.13): CreateGrant, ListGrants, ListRetirableGrants, RetireGrant and
 * RevokeGrant. The simulator keeps and lists grants (a BYOK manager shows them and checks
 * them before deletion) but, as with key policies, does not evaluate them for access.
 * Grants go with their key.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { kmsError } from './errors.js';
import { op, wireTime, type Call, type Operation } from './context.js';
import { resolveKey } from './key-resolution.js';
import { keyKind } from './key-specs.js';
import { requireNotPendingDeletion } from './key-state.js';
import { paginate, pageFields } from './pagination.js';
import { encryptionContext, grantTokens, int, oneOf, str } from './schemas.js';
import type { Grant, KmsKey } from './model.js';

export const MAX_GRANTS_PER_KEY = 50_000;
const GRANT_ID_RE = /^[a-f0-9]{64}$/;
const GRANT_OPERATIONS = [
  'Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo', 'Sign', 'Verify', 'GetPublicKey',
  'CreateGrant', 'RetireGrant', 'DescribeKey', 'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext', 'GenerateMac', 'VerifyMac', 'DeriveSharedSecret',
] as const;
const ANY_KEY = ['CreateGrant', 'RetireGrant', 'DescribeKey'];

/** The grant operations that make sense for the key's type and usage. */
function allowedOperations(key: KmsKey): string[] {
  switch (keyKind(key.keySpec)) {
    case 'symmetric':
      return [...ANY_KEY, 'Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo', 'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext'];
    case 'hmac':
      return [...ANY_KEY, 'GenerateMac', 'VerifyMac'];
    default:
      return key.keyUsage === 'SIGN_VERIFY' ? [...ANY_KEY, 'Sign', 'Verify', 'GetPublicKey'] : [...ANY_KEY, 'Encrypt', 'Decrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GetPublicKey'];
  }
}

function wire(call: Call, g: Grant): Record<string, unknown> {
  const key = call.rs.keys.get(g.keyId);
  return {
    KeyId: key?.arn ?? g.keyId,
    GrantId: g.id,
    ...(g.name !== undefined ? { Name: g.name } : {}),
    CreationDate: wireTime(g.createdAt),
    GranteePrincipal: g.granteePrincipal,
    ...(g.retiringPrincipal !== undefined ? { RetiringPrincipal: g.retiringPrincipal } : {}),
    IssuingAccount: g.issuingAccount,
    Operations: g.operations,
    ...(g.constraints !== undefined ? { Constraints: g.constraints } : {}),
  };
}

const grantIdParam = () => str(1, 128);

function dryRun(): never {
  throw kmsError('DryRunOperationException', 'The request would have succeeded, but the DryRun option is set.');
}

function findGrant(call: Call, key: KmsKey, grantId: string): Grant {
  if (!GRANT_ID_RE.test(grantId)) throw kmsError('InvalidGrantIdException', `The grant id ${grantId} is not valid.`);
  const g = call.rs.grants.get(grantId);
  if (!g || g.keyId !== key.id) throw kmsError('NotFoundException', `Grant ${grantId} does not exist on ${key.arn}.`);
  return g;
}

export const grantOperations: Record<string, Operation> = {
  CreateGrant: op(
    z.object({
      KeyId: str(1, 2048),
      GranteePrincipal: str(1, 256),
      RetiringPrincipal: str(1, 256).optional(),
      Operations: z.array(oneOf(GRANT_OPERATIONS)).min(1),
      Constraints: z.object({ EncryptionContextSubset: encryptionContext().optional(), EncryptionContextEquals: encryptionContext().optional() }).optional(),
      GrantTokens: grantTokens().optional(),
      Name: str(1, 256, /^[a-zA-Z0-9:/_-]+$/).optional(),
      DryRun: z.boolean().optional(),
    }),
    async (call, input) => {
      const key = resolveKey(call, input.KeyId, { aliases: false });
      call.entry.keyArn = key.arn;
      requireNotPendingDeletion(key);
      const allowed = allowedOperations(key);
      const bad = input.Operations.filter((o) => !allowed.includes(o));
      if (bad.length > 0) throw kmsError('ValidationException', `Grant operations ${bad.join(', ')} are not valid for ${key.arn} (${key.keySpec}, ${key.keyUsage}).`);
      if (input.Constraints?.EncryptionContextEquals && input.Constraints.EncryptionContextSubset) {
        throw kmsError('ValidationException', 'Specify at most one of EncryptionContextEquals and EncryptionContextSubset.');
      }
      if (input.DryRun) dryRun();
      const mine = [...call.rs.grants.values()].filter((g) => g.keyId === key.id);
      // A retried CreateGrant with the same name and parameters returns the same grant.
      const same = input.Name !== undefined
        ? mine.find((g) => g.name === input.Name && g.granteePrincipal === input.GranteePrincipal && g.retiringPrincipal === input.RetiringPrincipal && JSON.stringify(g.operations) === JSON.stringify(input.Operations))
        : undefined;
      if (same) return { GrantToken: same.token, GrantId: same.id };
      if (mine.length >= MAX_GRANTS_PER_KEY) throw kmsError('LimitExceededException', `${key.arn} has reached the limit of ${MAX_GRANTS_PER_KEY} grants.`);
      const grant: Grant = {
        id: randomBytes(32).toString('hex'),
        token: randomBytes(48).toString('base64url'),
        keyId: key.id,
        name: input.Name,
        createdAt: call.sim.clock.now(),
        granteePrincipal: input.GranteePrincipal,
        retiringPrincipal: input.RetiringPrincipal,
        issuingAccount: `arn:aws:iam::${call.rs.accountId}:root`,
        operations: input.Operations,
        constraints: input.Constraints,
      };
      call.rs.grants.set(grant.id, grant);
      return { GrantToken: grant.token, GrantId: grant.id };
    },
  ),

  ListGrants: op(
    z.object({
      KeyId: str(1, 2048),
      Limit: int(1, 100).optional(),
      Marker: str(1, 1024, /^[\u0020-\u00FF]*$/).optional(),
      GrantId: grantIdParam().optional(),
      GranteePrincipal: str(1, 256).optional(),
    }),
    async (call, input) => {
      const key = resolveKey(call, input.KeyId, { aliases: false });
      call.entry.keyArn = key.arn;
      const grants = [...call.rs.grants.values()].filter(
        (g) => g.keyId === key.id && (input.GrantId === undefined || g.id === input.GrantId) && (input.GranteePrincipal === undefined || g.granteePrincipal === input.GranteePrincipal),
      );
      const page = paginate(grants, (g) => `${String(g.createdAt).padStart(15, '0')}/${g.id}`, input.Limit ?? 50, input.Marker);
      return { Grants: page.items.map((g) => wire(call, g)), ...pageFields(page) };
    },
  ),

  ListRetirableGrants: op(
    z.object({ RetiringPrincipal: str(1, 256), Limit: int(1, 100).optional(), Marker: str(1, 1024, /^[\u0020-\u00FF]*$/).optional() }),
    async (call, input) => {
      const grants = [...call.rs.grants.values()].filter((g) => g.retiringPrincipal === input.RetiringPrincipal);
      const page = paginate(grants, (g) => `${String(g.createdAt).padStart(15, '0')}/${g.id}`, input.Limit ?? 50, input.Marker);
      return { Grants: page.items.map((g) => wire(call, g)), ...pageFields(page) };
    },
  ),

  RetireGrant: op(
    z.object({ GrantToken: str(1, 8192).optional(), KeyId: str(1, 2048).optional(), GrantId: grantIdParam().optional(), DryRun: z.boolean().optional() }),
    async (call, input) => {
      let grant: Grant | undefined;
      if (input.GrantToken !== undefined) {
        grant = [...call.rs.grants.values()].find((g) => g.token === input.GrantToken);
        if (!grant) throw kmsError('InvalidGrantTokenException', 'The grant token is not valid.');
      } else {
        if (input.KeyId === undefined || input.GrantId === undefined) throw kmsError('ValidationException', 'Specify GrantToken, or KeyId and GrantId.');
        const key = resolveKey(call, input.KeyId, { aliases: false });
        grant = findGrant(call, key, input.GrantId);
      }
      if (input.DryRun) dryRun();
      call.rs.grants.delete(grant.id);
      return {};
    },
  ),

  RevokeGrant: op(z.object({ KeyId: str(1, 2048), GrantId: grantIdParam(), DryRun: z.boolean().optional() }), async (call, input) => {
    const key = resolveKey(call, input.KeyId, { aliases: false });
    call.entry.keyArn = key.arn;
    const grant = findGrant(call, key, input.GrantId);
    if (input.DryRun) dryRun();
    call.rs.grants.delete(grant.id);
    return {};
  }),
};
