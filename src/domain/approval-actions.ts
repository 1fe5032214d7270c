import { z } from 'zod';
import { fail } from '../base/index.js';
import type { AdminUser, ApprovalAction, Role } from './admin-model.js';
import type { AdminIdentityService } from './admin-identity-service.js';
import type { ApprovalRuleInput } from './approval-rules.js';
import type { KeyService } from './key-service.js';
import type { KeyStoreService } from './keystore-service.js';
import type { Key, KeyStore } from './model.js';
import { parsePolicy } from './policy.js';
import { always, spec, type ApprovalActions } from './approval-spec.js';
import type { AwsConnectionService } from './aws-connection-service.js';
import { awsApprovalActions } from './aws-approval-actions.js';
import { awsKeyApprovalActions } from './aws-key-approval-actions.js';
import type { AwsKeyService } from './aws-key-service.js';
import { tlsApprovalActions, type TlsCertificateOps } from './tls-approval-actions.js';
import type { Seal } from './ports.js';
import { auditApprovalActions, type AuditArchiveOps } from './audit-archive.js';

export type { TlsCertificateOps } from './tls-approval-actions.js';
export { always, spec, type ApprovalActionSpec, type ApprovalActions, type ApprovalRunContext } from './approval-spec.js';
import { EXTERNAL_KEY_ID_RE, NAME_RE, parseUsage, validateDescription, validateExpiry, validateQuota, validateRegions, validateRotationPeriod, validateTags } from './validation.js';


const keyId = z.string().regex(EXTERNAL_KEY_ID_RE);
const keyStore = z.string().regex(NAME_RE);
const username = z.string().regex(NAME_RE);
const accessKeyId = z.string().min(1).max(64);
const objectId = z.string().min(1).max(64);
const role = z.enum(['administrator', 'custodian', 'auditor']);
const ruleInput = z
  .object({
    required: z.number().int(),
    approvers: z.array(z.string().max(64)).max(50).nullable().optional(),
    ttlMinutes: z.number().int().nullable().optional(),
  })
  .strict();

/** Target fields: the name the caller used and, once bound, the object's id. */
const onKey = { keyId, keyUid: objectId.optional() };
const onStore = { keyStore, keyStoreId: objectId.optional() };
const onUser = { username, userId: objectId.optional() };



/** Removing an allowed usage (or all of them) stops part of the key's service. */
export function narrowsUsage(current: readonly string[], next: readonly string[]): boolean {
  return current.some((u) => !next.includes(u));
}

/** An expiry where there was none, or an earlier one, ends encryption sooner. */
export function narrowsExpiry(current: string | null, next: string | null | undefined): boolean {
  if (next === undefined || next === null) return false;
  if (current === null) return true;
  const n = Date.parse(next);
  return Number.isNaN(n) || n < Date.parse(current);
}

/** Empty means any Region; a list that leaves out a Region that could call before narrows. */
export function narrowsRegions(current: readonly string[], next: readonly string[]): boolean {
  if (next.length === 0) return false;
  return current.length === 0 || current.some((r) => !next.includes(r));
}

/** A quota where there was none, or a lower rate or burst, throttles calls that passed before. */
export function narrowsQuota(current: { rps: number; burst: number } | null | undefined, next: { rps: number; burst: number } | null): boolean {
  if (next === null) return false;
  if (!current) return true;
  return next.rps < current.rps || next.burst < current.burst;
}

export function createApprovalActions(deps: {
  keyStores: KeyStoreService;
  keys: KeyService;
  identity: Pick<AdminIdentityService, 'getUser' | 'createUser' | 'setRole' | 'setEnabled' | 'resetPassword'>;
  rules: { check(action: string, input: ApprovalRuleInput | null): Promise<void>; apply(action: string, input: ApprovalRuleInput | null, by: string): Promise<unknown> };
  /** The AWS plane, when this process has one (its operations refuse otherwise). */
  aws?: AwsConnectionService | undefined;
  /** AWS keys (bring your own key), when this process has the AWS plane. */
  awsKeys?: AwsKeyService | undefined;
  /** The cluster's XKS certificate, and the seal that keeps a waiting request's key. */
  tls?: { ops: TlsCertificateOps; seal: Seal } | undefined;
  /** Archiving the audit log into archive_dir, once the log is open (a server's). */
  auditArchive?: (() => AuditArchiveOps | undefined) | undefined;
}): ApprovalActions {
  const { keyStores, keys, identity } = deps;

  /** The key named in the request, refused when it is no longer the key the request was filed for. */
  async function boundKey(p: { keyId: string; keyUid?: string | undefined }): Promise<Key> {
    const k = await keys.get(p.keyId);
    if (p.keyUid === undefined) fail('InvalidState', `the request for key '${p.keyId}' is not bound to the key's id; file it again`);
    if (k.id !== p.keyUid) fail('Conflict', `key '${p.keyId}' was deleted and created again after this request was filed; the approval does not apply to the new key`);
    return k;
  }
  async function boundStore(p: { keyStore: string; keyStoreId?: string | undefined }): Promise<KeyStore> {
    const ks = await keyStores.get(p.keyStore);
    if (p.keyStoreId === undefined) fail('InvalidState', `the request for key store '${p.keyStore}' is not bound to the store's id; file it again`);
    if (ks.id !== p.keyStoreId) fail('Conflict', `key store '${p.keyStore}' was deleted and created again after this request was filed; the approval does not apply to the new store`);
    return ks;
  }
  async function boundUser(p: { username: string; userId?: string | undefined }): Promise<AdminUser> {
    const u = await identity.getUser(p.username);
    if (p.userId === undefined) fail('InvalidState', `the request for user '${p.username}' is not bound to the user's id; file it again`);
    if (u.id !== p.userId) fail('Conflict', `user '${p.username}' was deleted and created again after this request was filed; the approval does not apply to the new user`);
    return u;
  }
  const bindKey = async <P extends { keyId: string }>(p: P): Promise<P> => ({ ...p, keyUid: (await keys.get(p.keyId)).id });
  const bindStore = async <P extends { keyStore: string }>(p: P): Promise<P> => ({ ...p, keyStoreId: (await keyStores.get(p.keyStore)).id });
  const bindUser = async <P extends { username: string }>(p: P): Promise<P> => ({ ...p, userId: (await identity.getUser(p.username)).id });
  const keyMustExist = async (p: { keyId: string; keyUid?: string | undefined }) => void (await boundKey(p));
  const storeMustExist = async (p: { keyStore: string; keyStoreId?: string | undefined }) => void (await boundStore(p));

  return {
    'key.schedule-deletion': spec(z.object({ ...onKey, pendingWindowInDays: z.number().int().min(7).max(30).optional() }), {
      bind: bindKey,
      rules: always('key.schedule-deletion'),
      summary: (p) => `schedule deletion of key '${p.keyId}' after ${p.pendingWindowInDays ?? 30} days`,
      async check(p) {
        const k = await boundKey(p);
        if (k.deletionDate !== null) fail('InvalidState', `key '${p.keyId}' is already pending deletion`);
      },
      run: async (p) => (await boundKey(p), keys.scheduleDeletion(p.keyId, p.pendingWindowInDays)),
    }),
    'key.delete-version': spec(z.object({ ...onKey, version: z.number().int().min(1) }), {
      bind: bindKey,
      rules: always('key.delete-version'),
      summary: (p) => `delete version ${p.version} of key '${p.keyId}'`,
      async check(p) {
        const k = await boundKey(p);
        if (p.version === k.currentVersion) fail('InvalidState', `version ${p.version} is the current version of '${p.keyId}'; rotate the key first`);
        if (!(await keys.versions(p.keyId)).some((v) => v.version === p.version)) fail('NotFound', `key '${p.keyId}' has no version ${p.version}`);
      },
      run: async (p) => (await boundKey(p), keys.deleteVersion(p.keyId, p.version)),
    }),
    'key.disable': spec(z.object(onKey), {
      bind: bindKey,
      rules: always('key.disable'),
      summary: (p) => `disable key '${p.keyId}'`,
      check: keyMustExist,
      run: async (p) => (await boundKey(p), keys.setEnabled(p.keyId, false)),
    }),
    // Usage set to none or narrowed, or an expiry moved earlier, stops (part of) the key's
    // service as surely as disabling it: those changes fall under key.disable.
    'key.update': spec(
      z.object({
        ...onKey,
        usage: z.array(z.enum(['encrypt', 'decrypt'])).max(2).optional(),
        description: z.string().max(8192).optional(),
        tags: z.record(z.string().min(1).max(128), z.string().max(256)).optional(),
        rotationPeriodDays: z.number().int().min(1).max(3650).nullable().optional(),
        expiresAt: z.string().max(40).nullable().optional(),
      }),
      {
        bind: bindKey,
        async rules(p) {
          const k = await boundKey(p);
          const narrows = (p.usage !== undefined && narrowsUsage(k.usage, p.usage)) || narrowsExpiry(k.expiresAt, p.expiresAt);
          return narrows ? ['key.disable'] : [];
        },
        summary: (p) => {
          const parts = [p.usage !== undefined ? `usage ${p.usage.length ? p.usage.join('+') : 'none'}` : null, p.expiresAt !== undefined ? `expiry ${p.expiresAt ?? 'none'}` : null].filter(Boolean);
          return `change key '${p.keyId}'${parts.length ? ` (${parts.join(', ')})` : ''}`;
        },
        async check(p) {
          const k = await boundKey(p);
          if (k.deletionDate !== null) fail('InvalidState', `key '${p.keyId}' is pending deletion; cancel the deletion before you change it`);
          if (p.usage !== undefined) parseUsage(p.usage);
          if (p.description !== undefined) validateDescription(p.description);
          if (p.tags !== undefined) validateTags(p.tags);
          if (p.rotationPeriodDays !== undefined && p.rotationPeriodDays !== null) validateRotationPeriod(p.rotationPeriodDays);
          if (p.expiresAt !== undefined && p.expiresAt !== null) validateExpiry(p.expiresAt);
        },
        async run(p) {
          await boundKey(p);
          const { keyId: id, keyUid: _uid, usage, ...rest } = p;
          let k = await keys.get(id);
          if (Object.keys(rest).length) k = await keys.update(id, rest);
          if (usage !== undefined) k = await keys.setUsage(id, parseUsage(usage));
          return k;
        },
      },
    ),
    'keystore.disable': spec(z.object(onStore), {
      bind: bindStore,
      rules: always('keystore.disable'),
      summary: (p) => `disable key store '${p.keyStore}'`,
      check: storeMustExist,
      run: async (p) => (await boundStore(p), keyStores.setEnabled(p.keyStore, false)),
    }),
    'keystore.delete': spec(z.object(onStore), {
      bind: bindStore,
      rules: always('keystore.delete'),
      summary: (p) => `delete key store '${p.keyStore}'`,
      check: storeMustExist,
      run: async (p) => {
        await boundStore(p);
        await keyStores.delete(p.keyStore);
        return { deleted: p.keyStore };
      },
    }),
    // A Region list KMS never signs with, or a lower quota, stops or throttles every key of
    // the store: those changes fall under keystore.disable.
    'keystore.set-regions': spec(z.object({ ...onStore, regions: z.array(z.string().min(1).max(32)).max(50) }), {
      bind: bindStore,
      async rules(p) {
        const ks = await boundStore(p);
        return narrowsRegions(ks.regions, validateRegions(p.regions)) ? ['keystore.disable'] : [];
      },
      summary: (p) => `set the Regions of key store '${p.keyStore}' to ${p.regions.length ? p.regions.join(', ') : 'any'}`,
      async check(p) {
        await boundStore(p);
        validateRegions(p.regions);
      },
      run: async (p) => (await boundStore(p), keyStores.setRegions(p.keyStore, p.regions)),
    }),
    'keystore.set-quota': spec(z.object({ ...onStore, quota: z.object({ rps: z.number().int(), burst: z.number().int().optional() }).strict().nullable() }), {
      bind: bindStore,
      async rules(p) {
        const ks = await boundStore(p);
        return narrowsQuota(ks.quota, p.quota === null ? null : validateQuota(p.quota)) ? ['keystore.disable'] : [];
      },
      summary: (p) => (p.quota === null ? `remove the quota of key store '${p.keyStore}'` : `set the quota of key store '${p.keyStore}' to ${p.quota.rps} req/s`),
      async check(p) {
        await boundStore(p);
        if (p.quota !== null) validateQuota(p.quota);
      },
      run: async (p) => (await boundStore(p), keyStores.setQuota(p.keyStore, p.quota)),
    }),
    'credential.add': spec(z.object(onStore), {
      bind: bindStore,
      rules: always('credential.add'),
      summary: (p) => `add a SigV4 credential to key store '${p.keyStore}'`,
      check: storeMustExist,
      run: async (p) => (await boundStore(p), keyStores.addCredential(p.keyStore)),
      secretResult: true,
    }),
    'credential.revoke': spec(z.object({ ...onStore, accessKeyId }), {
      bind: bindStore,
      rules: always('credential.revoke'),
      summary: (p) => `revoke credential ${p.accessKeyId} of key store '${p.keyStore}'`,
      async check(p) {
        await boundStore(p);
        const live = (await keyStores.listCredentials(p.keyStore)).filter((c) => c.revokedAt === null);
        if (!live.some((c) => c.accessKeyId === p.accessKeyId)) fail('NotFound', `key store '${p.keyStore}' has no live credential ${p.accessKeyId}`);
      },
      run: async (p) => (await boundStore(p), keyStores.revokeCredential(p.keyStore, p.accessKeyId)),
    }),
    'policy.change': spec(z.object({ ...onStore, policy: z.unknown() }), {
      bind: bindStore,
      rules: always('policy.change'),
      summary: (p) => (p.policy === null ? `remove the policy of key store '${p.keyStore}'` : `set a new policy on key store '${p.keyStore}'`),
      async check(p) {
        await boundStore(p);
        if (p.policy !== null) parsePolicy(p.policy);
      },
      run: async (p) => (await boundStore(p), keyStores.setPolicy(p.keyStore, p.policy ?? null)),
    }),
    'keystore.aws-config': spec(z.object({ ...onStore, accessKeyId: accessKeyId.optional() }), {
      bind: bindStore,
      rules: always('keystore.aws-config'),
      summary: (p) => `export the AWS proxy configuration (with its secret) of key store '${p.keyStore}'`,
      check: storeMustExist,
      run: async (p) => (await boundStore(p), keyStores.awsConfig(p.keyStore, p.accessKeyId)),
      secretResult: true,
    }),
    // The one-time password goes to whoever made the account: user creation can be put
    // behind other people's approval, so one administrator cannot mint the votes they need.
    'user.create': spec(z.object({ username, role }), {
      bind: async (p) => p,
      rules: always('user.create'),
      summary: (p) => `create the ${p.role} '${p.username}'`,
      async check(p) {
        if (await identity.getUser(p.username).then(() => true, () => false)) fail('Conflict', `admin user '${p.username}' already exists`);
      },
      run: (p) => identity.createUser({ username: p.username, role: p.role as Role }),
      secretResult: true,
    }),
    // A role change or re-enabling hands an account new rights (a vote among custodians);
    // disabling only takes rights away and runs at once.
    'user.update': spec(z.object({ ...onUser, role: role.optional(), enabled: z.boolean().optional() }), {
      bind: bindUser,
      async rules(p) {
        const u = await boundUser(p);
        const out: ApprovalAction[] = [];
        if (p.role !== undefined && p.role !== u.role) out.push('user.set-role');
        if (p.enabled === true && !u.enabled) out.push('user.enable');
        return out;
      },
      summary: (p) => `change user '${p.username}'${p.role !== undefined ? ` to role ${p.role}` : ''}${p.enabled !== undefined ? (p.enabled ? ' and enable it' : ' and disable it') : ''}`,
      check: async (p) => void (await boundUser(p)),
      async run(p) {
        let u = await boundUser(p);
        if (p.role !== undefined) u = await identity.setRole(p.username, p.role as Role);
        if (p.enabled !== undefined) u = await identity.setEnabled(p.username, p.enabled);
        return u;
      },
    }),
    'user.reset-password': spec(z.object(onUser), {
      bind: bindUser,
      rules: always('user.reset-password'),
      summary: (p) => `reset the password of user '${p.username}' (a new one-time password goes to the requester)`,
      check: async (p) => void (await boundUser(p)),
      run: async (p) => (await boundUser(p), identity.resetPassword(p.username)),
      secretResult: true,
    }),
    // Lowering or removing a rule is how one administrator would walk around every other
    // rule: rule changes can themselves require approvals.
    'approval-rule.change': spec(z.object({ action: z.string().min(1).max(64), rule: ruleInput.nullable() }), {
      bind: async (p) => p,
      rules: always('approval-rule.change'),
      summary: (p) => (p.rule === null ? `remove the approval rule of ${p.action}` : `require ${p.rule.required} approval(s) for ${p.action}`),
      check: (p) => deps.rules.check(p.action, p.rule),
      run: (p, ctx) => deps.rules.apply(p.action, p.rule, ctx.requestedBy.username),
    }),
    ...awsApprovalActions(deps.aws),
    ...awsKeyApprovalActions(deps.awsKeys, keys),
    ...tlsApprovalActions(deps.tls),
    ...auditApprovalActions(deps.auditArchive ?? (() => undefined)),
  };
}
