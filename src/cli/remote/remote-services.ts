import type { z } from 'zod';
import type { apiKeyView, approvalRuleView, approvalView, credentialView, keyDetailView, keyStoreView, keyView, userView } from '../../admin/views.js';
import type { InstalledCertificateInfo, ManagementServices, LoginResult } from '../host.js';
import type {
  AdminUser,
  ApiKeyInfo,
  ApprovalAction,
  ApprovalOperation,
  ApprovalRequest,
  ApprovalRule,
  AuditArchiveResult,
  AuditCheckpoint,
  AuditSegmentInfo,
  AuditVerifyReport,
  ClusterStatus,
  CredentialInfo,
  ExportedAuditRecord,
  IssuedCredential,
  Key,
  KeyService,
  KeyStore,
  KeyStoreService,
  KeyUsageView,
  ProxyConfigurationFile,
  Role,
  SecondaryPolicy,
} from '../../domain/index.js';
import { KeyholdError } from '../../base/index.js';
import { createApiClient, type ApiClient } from './api-client.js';
import { remoteAwsOperations } from './remote-aws.js';
import { remoteAwsKeyOperations } from './remote-aws-keys.js';

type Out<T extends z.ZodType> = z.output<T>;

/** Maps admin API views back to the domain shapes the CLI prints. */
const toKeyStore = (v: Out<typeof keyStoreView>): KeyStore => ({
  id: v.id,
  name: v.name,
  prefix: v.prefix,
  regions: v.regions,
  enabled: v.enabled,
  policy: v.policy as SecondaryPolicy | null,
  quota: v.quota,
  createdAt: v.createdAt,
  updatedAt: v.updatedAt,
});

const toKey = (v: Out<typeof keyView>): Key => ({
  id: v.id,
  keyStoreId: v.keyStoreId,
  externalId: v.keyId,
  protection: v.protection,
  exportable: v.exportable,
  origin: v.origin,
  usage: v.usage,
  enabled: v.enabled,
  currentVersion: v.currentVersion,
  aadLayout: v.aadLayout,
  description: v.description,
  tags: v.tags,
  rotationPeriodDays: v.rotationPeriodDays,
  nextRotationAt: v.nextRotationAt,
  expiresAt: v.expiresAt,
  deletionDate: v.deletionDate,
  createdAt: v.createdAt,
  updatedAt: v.updatedAt,
});

const toCredential = (v: Out<typeof credentialView>): CredentialInfo => ({ id: v.id, keyStoreId: v.keyStoreId, accessKeyId: v.accessKeyId, createdAt: v.createdAt, revokedAt: v.revokedAt });

const toUser = (v: Out<typeof userView>): AdminUser => ({
  id: v.id,
  username: v.username,
  role: v.role as Role,
  enabled: v.enabled,
  mustChangePassword: v.mustChangePassword,
  failedLogins: v.failedLogins,
  lockedUntil: v.lockedUntil,
  passwordChangedAt: v.passwordChangedAt,
  trustedSince: v.trustedSince,
  lastLoginAt: v.lastLoginAt,
  createdAt: v.createdAt,
  updatedAt: v.updatedAt,
});

const toApiKey = (v: Out<typeof apiKeyView>, userId: string): ApiKeyInfo => ({ ...v, userId });

export function toApproval(view: unknown): ApprovalRequest {
  const v = view as Out<typeof approvalView>;
  return {
    id: v.id,
    action: v.action as ApprovalOperation,
    rule: v.rule as ApprovalAction,
    params: v.params,
    summary: v.summary,
    requestedBy: v.requestedBy,
    createdAt: v.createdAt,
    expiresAt: v.expiresAt,
    required: v.required,
    approvers: v.approvers,
    status: v.status,
    votes: v.votes,
    countedApprovals: v.approvals,
    decidedAt: v.decidedAt,
    result: v.result,
    secretResult: v.secretResult,
    error: v.error ? { code: v.error.error, message: v.error.message } : null,
  };
}

const toRule = (v: Out<typeof approvalRuleView>): ApprovalRule => ({ ...v, action: v.action as ApprovalAction });

const seg = encodeURIComponent;

export interface RemoteOptions {
  server: string;
  token: string | undefined;
  ca: Buffer | undefined;
}

export function remoteClient(o: RemoteOptions): ApiClient {
  return createApiClient({ baseUrl: o.server, token: o.token, ca: o.ca, toApproval });
}

export async function remoteLogin(o: RemoteOptions, credentials: { username: string; password: string }): Promise<LoginResult> {
  const r = await remoteClient(o).call<{ token?: string; expiresAt: string; user: Out<typeof userView> }>('POST', '/auth/login', credentials);
  return { token: r.token, expiresAt: r.expiresAt, user: toUser(r.user) };
}

/**
 * The CLI's management services through a running server's admin API: the same
 * interfaces as the local database, so every command works both ways. An action that
 * now waits for approvals rejects with PendingApprovalError.
 */
export function remoteServices(o: RemoteOptions): ManagementServices {
  const api = remoteClient(o);
  // Creating or connecting a custom key store waits for AWS (up to 30 min), and a sync or a
  // copy into many Regions takes a while: a longer timeout.
  const slow = createApiClient({ baseUrl: o.server, token: o.token, ca: o.ca, toApproval, timeoutMs: 31 * 60_000 });

  const keyStores: KeyStoreService = {
    async create(input) {
      if (input.credential) throw new KeyholdError('Unsupported', 'the admin API issues the first credential itself; import existing credentials on the server (keyhold import sample-proxy-config)');
      const r = await api.call<{ keyStore: Out<typeof keyStoreView>; uriPath: string; credential: IssuedCredential }>('POST', '/keystores', {
        name: input.name,
        prefix: input.prefix,
        regions: input.regions ?? [],
      });
      return { keyStore: toKeyStore(r.keyStore), uriPath: r.uriPath, credential: r.credential };
    },
    list: async () => (await api.call<Out<typeof keyStoreView>[]>('GET', '/keystores')).map(toKeyStore),
    get: async (name) => toKeyStore(await api.call('GET', `/keystores/${seg(name)}`)),
    setEnabled: async (name, enabled) => toKeyStore(await api.call('POST', `/keystores/${seg(name)}/${enabled ? 'enable' : 'disable'}`)),
    setRegions: async (name, regions) => toKeyStore(await api.call('PUT', `/keystores/${seg(name)}/regions`, { regions })),
    setQuota: async (name, quota) => toKeyStore(quota === null ? await api.call('DELETE', `/keystores/${seg(name)}/quota`) : await api.call('PUT', `/keystores/${seg(name)}/quota`, quota)),
    async delete(name) {
      await api.call('DELETE', `/keystores/${seg(name)}`);
    },
    addCredential: (name) => api.call<IssuedCredential & { id: string }>('POST', `/keystores/${seg(name)}/credentials`),
    listCredentials: async (name) => (await api.call<Out<typeof credentialView>[]>('GET', `/keystores/${seg(name)}/credentials`)).map(toCredential),
    revokeCredential: async (name, akid) => toCredential(await api.call('DELETE', `/keystores/${seg(name)}/credentials/${seg(akid)}`)),
    setPolicy: async (name, policy) =>
      (await api.call<{ policy: SecondaryPolicy | null }>(policy === null ? 'DELETE' : 'PUT', `/keystores/${seg(name)}/policy`, policy === null ? undefined : { policy })).policy,
    awsConfig: (name, accessKeyId) => api.call<ProxyConfigurationFile>('POST', `/keystores/${seg(name)}/aws-config`, accessKeyId ? { accessKeyId } : {}),
  };

  const keyOps: Omit<KeyService, 'runDue' | 'exportMaterial'> = {
    async importKey(input) {
      const { externalId, keyStore, material, ...rest } = input;
      try {
        return toKey(await api.call('POST', '/keys/import', { keyId: externalId, keyStore, material: material.toString('base64'), ...rest }));
      } finally {
        material.fill(0);
      }
    },
    create: async (input) => {
      const { externalId, keyStore, ...rest } = input;
      return toKey(await api.call('POST', '/keys', { keyId: externalId, keyStore, ...rest }));
    },
    list: async (keyStore) => (await api.call<Out<typeof keyView>[]>('GET', `/keys${keyStore ? `?keyStore=${seg(keyStore)}` : ''}`)).map(toKey),
    get: async (id) => toKey(await api.call('GET', `/keys/${seg(id)}`)),
    async versions(id) {
      const d = await api.call<Out<typeof keyDetailView>>('GET', `/keys/${seg(id)}`);
      return d.versions.map((v) => ({ keyId: d.id, version: v.version, protection: v.protection, hsmLabel: v.hsmLabel, hsmId: v.hsmId, createdAt: v.createdAt }));
    },
    setEnabled: async (id, enabled) => toKey(await api.call('POST', `/keys/${seg(id)}/${enabled ? 'enable' : 'disable'}`)),
    setUsage: async (id, usage) => toKey(await api.call('PATCH', `/keys/${seg(id)}`, { usage })),
    rotate: async (id) => toKey(await api.call('POST', `/keys/${seg(id)}/rotate`)),
    update: async (id, patch) => toKey(await api.call('PATCH', `/keys/${seg(id)}`, patch)),
    scheduleDeletion: async (id, days) => toKey(await api.call('POST', `/keys/${seg(id)}/schedule-deletion`, days === undefined ? {} : { pendingWindowInDays: days })),
    cancelDeletion: async (id) => toKey(await api.call('POST', `/keys/${seg(id)}/cancel-deletion`)),
    deleteVersion: async (id, version) => toKey(await api.call('DELETE', `/keys/${seg(id)}/versions/${version}`)),
    async adopt(input) {
      const r = await api.call<{ key: Out<typeof keyView>; warnings: string[] }>('POST', '/keys/adopt', {
        label: input.label,
        keyStore: input.keyStore,
        ...(input.externalId ? { keyId: input.externalId } : {}),
        ...(input.usage ? { usage: input.usage } : {}),
        ...(input.aadLayout ? { aadLayout: input.aadLayout } : {}),
      });
      return { key: toKey(r.key), warnings: r.warnings };
    },
  };

  let me: AdminUser | undefined;
  const whoami = async () => {
    const r = await api.call<{ user: Out<typeof userView>; via: 'session' | 'api-key' }>('GET', '/auth/whoami');
    me = toUser(r.user);
    return { user: me, via: r.via };
  };
  const myId = async () => (me ?? (await whoami()).user).id;

  return {
    keyStores,
    keys: keyOps,
    aws: remoteAwsOperations(api, slow),
    awsKeys: remoteAwsKeyOperations(api, slow),
    // Whether the server has a token is its business: it answers Unsupported when not.
    hsm: {
      status: () => api.call<object>('GET', '/hsm'),
      async setPin(pin) {
        await api.call('PUT', '/hsm/pin', { pin });
      },
    },
    importSampleProxyConfig: (text, opts) => api.call<object>('POST', '/import/sample-proxy-config', { text, dryRun: opts.dryRun }),
    cluster: { status: () => api.call<ClusterStatus>('GET', '/cluster') },
    tls: {
      install: (certificatePem, privateKeyPem) => api.call<InstalledCertificateInfo>('PUT', '/tls', { certificatePem, privateKeyPem }),
      async remove() {
        await api.call('DELETE', '/tls');
      },
      status: () => api.call<{ installed: InstalledCertificateInfo | null }>('GET', '/tls'),
    },
    audit: {
      verify: (o = {}) =>
        api.call<AuditVerifyReport>('GET', o.checkpoint === undefined ? '/audit/verify' : `/audit/verify?checkpoint=${Buffer.from(JSON.stringify(o.checkpoint), 'utf8').toString('base64url')}`),
      checkpoint: () => api.call<AuditCheckpoint>('GET', '/audit/checkpoint'),
      // The server archives into its [audit] archive_dir; a rule may make it wait for approval.
      archiveToDir: (before) => slow.call<AuditArchiveResult>('POST', '/audit/archive', { before }),
      segments: () => api.call<AuditSegmentInfo[]>('GET', '/audit/segments'),
      downloadSegment: (name, file) => slow.download(`/audit/segments/${seg(name)}`, file),
      rebuildUsage: () => slow.call<{ chains: number; rows: number }>('POST', '/audit/rebuild-usage'),
      usage: (keyId) => api.call<KeyUsageView>('GET', `/keys/${seg(keyId)}/usage`),
      // Page by page (each page read is recorded by the server, with the filter).
      async *export(q = {}) {
        let after = 0;
        let chain = 'main';
        for (;;) {
          const params = new URLSearchParams({ chain, after: String(after), limit: '1000' });
          for (const [k, v] of [['since', q.since], ['until', q.until], ['keyId', q.keyId], ['keyStore', q.keyStore]] as const) if (v !== undefined) params.set(k, v);
          const page = await api.call<{ records: ExportedAuditRecord[]; next: number | null; nextChain: string | null }>('GET', `/audit/records?${params.toString()}`);
          yield* page.records;
          if (page.next === null) return;
          after = page.next;
          chain = page.nextChain ?? chain;
        }
      },
    },
    admins: {
      createUser: async (input) => {
        const r = await api.call<{ user: Out<typeof userView>; oneTimePassword: string }>('POST', '/users', input);
        return { user: toUser(r.user), oneTimePassword: r.oneTimePassword };
      },
      listUsers: async () => (await api.call<Out<typeof userView>[]>('GET', '/users')).map(toUser),
      getUser: async (name) => toUser(await api.call('GET', `/users/${seg(name)}`)),
      setRole: async (name, role) => toUser(await api.call('PATCH', `/users/${seg(name)}`, { role })),
      setEnabled: async (name, enabled) => toUser(await api.call('PATCH', `/users/${seg(name)}`, { enabled })),
      resetPassword: async (name, opts = {}) => {
        const r = await api.call<{ user: Out<typeof userView>; oneTimePassword: string }>('POST', `/users/${seg(name)}/reset-password`);
        let user = toUser(r.user);
        if (opts.enable && !user.enabled) user = toUser(await api.call('PATCH', `/users/${seg(name)}`, { enabled: true }));
        return { user, oneTimePassword: r.oneTimePassword };
      },
    },
    approvals: {
      list: async (filter = {}) => (await api.call<unknown[]>('GET', `/approvals${filter.status ? `?status=${seg(filter.status)}` : ''}`)).map(toApproval),
      get: async (id) => toApproval(await api.call('GET', `/approvals/${seg(id)}`)),
      approve: async (id, comment) => toApproval(await api.call('POST', `/approvals/${seg(id)}/approve`, comment ? { comment } : {})),
      deny: async (id, comment) => toApproval(await api.call('POST', `/approvals/${seg(id)}/deny`, comment ? { comment } : {})),
      cancel: async (id) => toApproval(await api.call('POST', `/approvals/${seg(id)}/cancel`)),
      collect: async (id) => (await api.call<{ result: unknown }>('POST', `/approvals/${seg(id)}/collect`)).result,
      listRules: async () => (await api.call<Out<typeof approvalRuleView>[]>('GET', '/settings/approval-rules')).map(toRule),
      setRule: async (action, input) => toRule(await api.call('PUT', `/settings/approval-rules/${seg(action)}`, input)),
      async clearRule(action) {
        await api.call('DELETE', `/settings/approval-rules/${seg(action)}`);
      },
    },
    session: {
      whoami,
      async logout() {
        await api.call('POST', '/auth/logout');
      },
      changePassword: async (currentPassword, newPassword) => toUser((await api.call<{ user: Out<typeof userView> }>('POST', '/auth/password', { currentPassword, newPassword })).user),
      async createApiKey(name, expiresInDays) {
        const r = await api.call<{ apiKey: string; info: Out<typeof apiKeyView> }>('POST', '/auth/api-keys', { name, ...(expiresInDays !== undefined ? { expiresInDays } : {}) });
        return { apiKey: r.apiKey, info: toApiKey(r.info, await myId()) };
      },
      listApiKeys: async () => {
        const id = await myId();
        return (await api.call<Out<typeof apiKeyView>[]>('GET', '/auth/api-keys')).map((k) => toApiKey(k, id));
      },
      revokeApiKey: async (keyId) => toApiKey(await api.call('DELETE', `/auth/api-keys/${seg(keyId)}`), await myId()),
    },
  };
}
