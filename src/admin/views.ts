import { z } from 'zod';
import {
  APPROVAL_ACTIONS,
  APPROVAL_OPERATIONS,
  isExpired,
  keyState,
  ROLES,
  uriPathOf,
  type AdminUser,
  type ApiKeyInfo,
  type ApprovalRequest,
  type ApprovalRule,
  type CredentialInfo,
  type Key,
  type KeyStore,
  type KeyVersion,
} from '../domain/index.js';

/**
 * What the admin API shows. Response schemas are enforced when replies are serialised:
 * fields not listed here are dropped, so a secret added to a domain object by mistake
 * never reaches a client.
 */
const iso = z.string().describe('ISO 8601 instant');
const isoOrNull = iso.nullable();

export const errorBody = z.object({ error: z.string(), message: z.string() }).meta({ id: 'Error' });

export const roleSchema = z.enum(ROLES as [string, ...string[]]).meta({ id: 'Role' });
export const approvalActionSchema = z.enum(APPROVAL_ACTIONS as [string, ...string[]]).meta({ id: 'ApprovalAction' });
export const approvalOperationSchema = z.enum(APPROVAL_OPERATIONS as [string, ...string[]]).meta({ id: 'ApprovalOperation' });

export const userView = z
  .object({
    id: z.string(),
    username: z.string(),
    role: roleSchema,
    enabled: z.boolean(),
    mustChangePassword: z.boolean(),
    failedLogins: z.number().int(),
    lockedUntil: isoOrNull,
    lastLoginAt: isoOrNull,
    passwordChangedAt: iso,
    createdAt: iso,
    updatedAt: iso,
    trustedSince: iso.describe('when the account last gained its vote (creation, re-enabling, role change, password reset); its votes on requests filed earlier do not count'),
  })
  .meta({ id: 'AdminUser' });

export const toUserView = (u: AdminUser): z.output<typeof userView> => ({
  id: u.id,
  username: u.username,
  role: u.role,
  enabled: u.enabled,
  mustChangePassword: u.mustChangePassword,
  failedLogins: u.failedLogins,
  lockedUntil: u.lockedUntil,
  lastLoginAt: u.lastLoginAt,
  passwordChangedAt: u.passwordChangedAt,
  createdAt: u.createdAt,
  updatedAt: u.updatedAt,
  trustedSince: u.trustedSince,
});

export const issuedPasswordView = z
  .object({ user: userView, oneTimePassword: z.string().describe('shown once; must be changed at first login') })
  .meta({ id: 'IssuedPassword' });

export const apiKeyView = z
  .object({ id: z.string(), name: z.string(), hint: z.string(), createdAt: iso, expiresAt: isoOrNull, lastUsedAt: isoOrNull, revokedAt: isoOrNull })
  .meta({ id: 'ApiKey' });

export const toApiKeyView = (k: ApiKeyInfo): z.output<typeof apiKeyView> => ({
  id: k.id,
  name: k.name,
  hint: k.hint,
  createdAt: k.createdAt,
  expiresAt: k.expiresAt,
  lastUsedAt: k.lastUsedAt,
  revokedAt: k.revokedAt,
});

const patternList = z.array(z.string().max(2048)).max(100).optional();
export const policyView = z
  .object({
    default: z.enum(['allow', 'deny']),
    rules: z.array(
      z.object({
        id: z.string().optional(),
        effect: z.enum(['allow', 'deny']),
        principals: patternList,
        operations: patternList,
        viaServices: patternList,
        keyArns: patternList,
        keyIds: patternList,
        sourceVpcs: patternList,
        sourceVpces: patternList,
      }),
    ),
  })
  .meta({ id: 'SecondaryPolicy' });

export const keyStoreView = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string(),
    uriPath: z.string(),
    enabled: z.boolean(),
    regions: z.array(z.string()),
    policy: policyView.nullable(),
    quota: z.object({ rps: z.number().int(), burst: z.number().int() }).nullable().meta({ description: 'XKS request-rate quota (token bucket); null for none' }),
    createdAt: iso,
    updatedAt: iso,
  })
  .meta({ id: 'KeyStore' });

export const toKeyStoreView = (ks: KeyStore): z.output<typeof keyStoreView> => ({
  id: ks.id,
  name: ks.name,
  prefix: ks.prefix,
  uriPath: uriPathOf(ks),
  enabled: ks.enabled,
  regions: ks.regions,
  policy: ks.policy,
  quota: ks.quota ?? null,
  createdAt: ks.createdAt,
  updatedAt: ks.updatedAt,
});

export const credentialView = z
  .object({ id: z.string(), keyStoreId: z.string(), accessKeyId: z.string(), live: z.boolean(), createdAt: iso, revokedAt: isoOrNull })
  .meta({ id: 'Credential' });

export const toCredentialView = (c: CredentialInfo): z.output<typeof credentialView> => ({
  id: c.id,
  keyStoreId: c.keyStoreId,
  accessKeyId: c.accessKeyId,
  live: c.revokedAt === null,
  createdAt: c.createdAt,
  revokedAt: c.revokedAt,
});

export const issuedCredentialView = z
  .object({
    id: z.string(),
    accessKeyId: z.string(),
    secretAccessKey: z.string().describe('shown once'),
    aws: z
      .object({
        customKeyStoreId: z.string(),
        mode: z.enum(['in-place', 'reconnect']),
        ok: z.boolean(),
        outageMs: z.number(),
        connectionState: z.string().nullable(),
        connectionErrorCode: z.string().nullable(),
        error: z.string().optional(),
      })
      .optional()
      .describe('when the key store is linked to AWS: how the credential was pushed to its custom key store'),
  })
  .meta({ id: 'IssuedCredential' });

export const proxyConfigView = z
  .object({
    XksProxyUriPath: z.string(),
    XksProxyAuthenticationCredential: z.object({ AccessKeyId: z.string(), RawSecretAccessKey: z.string() }),
  })
  .meta({ id: 'ProxyConfigurationFile' });

export const keyView = z
  .object({
    id: z.string(),
    keyId: z.string().describe('the XksKeyId KMS uses'),
    keyStoreId: z.string(),
    keyStore: z.string(),
    protection: z.enum(['software', 'hsm']),
    exportable: z.boolean().describe('whether the material may be copied into AWS KMS; set at creation, never turned on later'),
    origin: z.enum(['keyhold', 'imported', 'adopted']).describe('where the material came from'),
    usage: z.array(z.enum(['encrypt', 'decrypt'])),
    enabled: z.boolean(),
    state: z.enum(['Enabled', 'Disabled', 'PendingDeletion']),
    currentVersion: z.number().int(),
    aadLayout: z.enum(['keyhold-v1', 'sample-proxy']),
    description: z.string(),
    tags: z.record(z.string(), z.string()),
    rotationPeriodDays: z.number().int().nullable(),
    nextRotationAt: isoOrNull,
    expiresAt: isoOrNull,
    expired: z.boolean(),
    deletionDate: isoOrNull,
    createdAt: iso,
    updatedAt: iso,
  })
  .meta({ id: 'Key' });

export function toKeyView(k: Key, keyStoreName: string, nowMs: number): z.output<typeof keyView> {
  return {
    id: k.id,
    keyId: k.externalId,
    keyStoreId: k.keyStoreId,
    keyStore: keyStoreName,
    protection: k.protection,
    exportable: k.exportable,
    origin: k.origin,
    usage: k.usage,
    enabled: k.enabled,
    state: keyState(k),
    currentVersion: k.currentVersion,
    aadLayout: k.aadLayout,
    description: k.description,
    tags: k.tags,
    rotationPeriodDays: k.rotationPeriodDays,
    nextRotationAt: k.nextRotationAt,
    expiresAt: k.expiresAt,
    expired: isExpired(k, nowMs),
    deletionDate: k.deletionDate,
    createdAt: k.createdAt,
    updatedAt: k.updatedAt,
  };
}

export const keyVersionView = z
  .object({ version: z.number().int(), protection: z.enum(['software', 'hsm']), hsmLabel: z.string().nullable(), hsmId: z.string().nullable(), createdAt: iso })
  .meta({ id: 'KeyVersion' });

export const toKeyVersionView = (v: Omit<KeyVersion, 'sealedMaterial'>): z.output<typeof keyVersionView> => ({
  version: v.version,
  protection: v.protection,
  hsmLabel: v.hsmLabel,
  hsmId: v.hsmId,
  createdAt: v.createdAt,
});

export const keyDetailView = keyView.extend({ versions: z.array(keyVersionView) }).meta({ id: 'KeyDetail' });

export const approvalRuleView = z
  .object({
    action: approvalActionSchema,
    required: z.number().int(),
    approvers: z.array(z.string()).nullable().describe('usernames; null = any custodian other than the requester'),
    ttlMinutes: z.number().int().nullable(),
    updatedAt: iso,
    updatedBy: z.string(),
  })
  .meta({ id: 'ApprovalRule' });

export const toApprovalRuleView = (r: ApprovalRule): z.output<typeof approvalRuleView> => ({ ...r });

export const approvalView = z
  .object({
    id: z.string(),
    action: approvalOperationSchema.describe('what runs when the quorum is reached'),
    rule: approvalActionSchema.describe('the approval rule that covers this change'),
    params: z.record(z.string(), z.unknown()).describe('with the ids of the objects named: the request acts on those objects only'),
    summary: z.string(),
    requestedBy: z.object({ userId: z.string(), username: z.string() }),
    createdAt: iso,
    expiresAt: iso,
    required: z.number().int(),
    approvers: z.array(z.string()).nullable(),
    status: z.enum(['pending', 'executing', 'executed', 'failed', 'denied', 'expired', 'cancelled']),
    approvals: z.number().int().describe('approvals that count now: votes of voters since disabled, demoted or reset do not'),
    votes: z.array(z.object({ userId: z.string(), username: z.string(), decision: z.enum(['approve', 'deny']), comment: z.string().nullable(), at: iso })),
    decidedAt: isoOrNull,
    result: z.unknown().describe('what the action returned (absent for secret results)'),
    secretResult: z.enum(['none', 'available', 'collected']),
    error: errorBody.nullable(),
  })
  .meta({ id: 'ApprovalRequest' });

export function toApprovalView(r: ApprovalRequest): z.output<typeof approvalView> {
  return {
    id: r.id,
    action: r.action,
    rule: r.rule,
    params: r.params,
    summary: r.summary,
    requestedBy: { userId: r.requestedBy.userId, username: r.requestedBy.username },
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    required: r.required,
    approvers: r.approvers,
    status: r.status,
    approvals: r.countedApprovals ?? r.votes.filter((v) => v.decision === 'approve').length,
    votes: r.votes.map((v) => ({ userId: v.userId, username: v.username, decision: v.decision, comment: v.comment, at: v.at })),
    decidedAt: r.decidedAt,
    result: r.result ?? null,
    secretResult: r.secretResult,
    error: r.error ? { error: r.error.code, message: r.error.message } : null,
  };
}

/** The 202 answer of a route whose action now waits for approvals. */
export const pendingApprovalView = z.object({ pendingApproval: approvalView }).meta({ id: 'PendingApproval' });

export const ERROR_RESPONSES = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 409: errorBody, 429: errorBody } as const;
