import { isKeyholdError, KeyholdError } from '../base/index.js';
import type { AuditService } from './audit-service.js';
import type { AuditArchiveResult, AuditSegmentInfo } from './audit-archive.js';
import type { AdminIdentityService } from './admin-identity-service.js';
import type { KeyService } from './key-service.js';
import type { KeyStoreService } from './keystore-service.js';

/** Who acts, through what, from where. */
export interface AdminActor {
  actor: string;
  source: string;
  address?: string | undefined;
}

export interface AdminAction {
  action: string;
  target: string;
  keyStore?: string | undefined;
  keyId?: string | undefined;
  /** The request, without secrets. */
  change?: Record<string, unknown> | undefined;
}

type AdminRecorder = Pick<AuditService, 'admin'>;

/** The key operations a caller may hold (the CLI's view omits the scheduler's runDue and raw material export). */
type KeyOperations = Omit<KeyService, 'runDue' | 'exportMaterial'>;

/**
 * Runs one admin action and records it: outcome 'ok' with the change (plus what `after`
 * adds from the result), or 'error' with the error code. A successful action whose record
 * cannot be written is reported as an error, saying that the change was made.
 */
export async function auditAdminAction<T>(audit: AdminRecorder, who: AdminActor, what: AdminAction, run: () => Promise<T>, after?: (result: T) => Record<string, unknown>): Promise<T> {
  let result: T;
  try {
    result = await run();
  } catch (e) {
    await audit.admin({ ...who, ...what, outcome: 'error', errorName: isKeyholdError(e) ? e.code : 'Internal' }).catch(() => undefined);
    throw e;
  }
  const extra = after?.(result);
  try {
    await audit.admin({ ...who, ...what, outcome: 'ok', change: extra ? { ...what.change, ...extra } : what.change });
  } catch (e) {
    throw new KeyholdError('Internal', `${what.action} on '${what.target}' was carried out, but its audit record could not be written: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return result;
}

/**
 * The key store service with every change (and every export of a secret) audited. Action
 * names are the admin API's route ids, so the CLI and the API record the same actions alike.
 */
export function auditedKeyStoreService(svc: KeyStoreService, audit: AdminRecorder, who: AdminActor): KeyStoreService {
  const run = <T>(what: AdminAction, fn: () => Promise<T>, after?: (r: T) => Record<string, unknown>) => auditAdminAction(audit, who, what, fn, after);
  return {
    ...svc,
    create: (input) =>
      run({ action: 'keystores.create', target: input.name, keyStore: input.name, change: { prefix: input.prefix, regions: input.regions, enabled: input.enabled, importedCredential: input.credential ? true : undefined } }, () => svc.create(input), (r) => ({
        uriPath: r.uriPath,
        accessKeyId: r.credential.accessKeyId,
      })),
    setEnabled: (name, enabled) => run({ action: enabled ? 'keystores.enable' : 'keystores.disable', target: name, keyStore: name }, () => svc.setEnabled(name, enabled)),
    setRegions: (name, regions) => run({ action: 'keystores.set-regions', target: name, keyStore: name, change: { regions } }, () => svc.setRegions(name, regions)),
    setQuota: (name, quota) =>
      run({ action: quota === null ? 'keystores.clear-quota' : 'keystores.set-quota', target: name, keyStore: name, change: {} }, () => svc.setQuota(name, quota), (ks) => ({ quota: ks.quota ?? null })),
    delete: (name) => run({ action: 'keystores.delete', target: name, keyStore: name }, () => svc.delete(name)),
    addCredential: (name, opts) =>
      run({ action: 'keystores.credentials.add', target: name, keyStore: name }, () => svc.addCredential(name, opts), (r) => ({ accessKeyId: r.accessKeyId, ...(r.aws ? { aws: { customKeyStoreId: r.aws.customKeyStoreId, mode: r.aws.mode, ok: r.aws.ok, outageMs: r.aws.outageMs } } : {}) })),
    revokeCredential: (name, accessKeyId) => run({ action: 'keystores.credentials.revoke', target: name, keyStore: name, change: { accessKeyId } }, () => svc.revokeCredential(name, accessKeyId)),
    setPolicy: (name, policy) =>
      run({ action: policy === null ? 'keystores.policy.clear' : 'keystores.policy.set', target: name, keyStore: name }, () => svc.setPolicy(name, policy), (p) => ({ policy: p })),
    awsConfig: (name, accessKeyId) =>
      run({ action: 'keystores.aws-config', target: name, keyStore: name, change: { accessKeyId } }, () => svc.awsConfig(name, accessKeyId), (f) => ({
        accessKeyId: f.XksProxyAuthenticationCredential.AccessKeyId,
      })),
  };
}

/** The key service with every change audited (action names as the admin API's route ids). */
export function auditedKeyService<S extends KeyOperations>(svc: S, audit: AdminRecorder, who: AdminActor): S {
  const run = <T>(what: AdminAction, fn: () => Promise<T>, after?: (r: T) => Record<string, unknown>) => auditAdminAction(audit, who, what, fn, after);
  const key = (externalId: string) => ({ target: externalId, keyId: externalId });
  return {
    ...svc,
    create: (input) => {
      const { externalId, keyStore, ...rest } = input;
      return run({ action: 'keys.create', ...key(externalId), keyStore, change: { ...rest } }, () => svc.create(input), (k) => ({ usage: k.usage, protection: k.protection, version: k.currentVersion }));
    },
    importKey: (input) =>
      run(
        // Never the material: only where it came from and what the key may do.
        { action: 'keys.import', ...key(input.externalId), keyStore: input.keyStore, change: { wrappedWith: input.wrappedWith, exportable: input.exportable ?? false, usage: input.usage } },
        () => svc.importKey(input),
        (k) => ({ origin: k.origin, version: k.currentVersion }),
      ),
    adopt: (input) =>
      run(
        { action: 'keys.adopt', target: input.externalId ?? input.label, keyId: input.externalId, keyStore: input.keyStore, change: { hsmLabel: input.label, usage: input.usage, aadLayout: input.aadLayout } },
        () => svc.adopt(input),
        (r) => ({ keyId: r.key.externalId, version: r.key.currentVersion }),
      ),
    setEnabled: (externalId, enabled) => run({ action: enabled ? 'keys.enable' : 'keys.disable', ...key(externalId) }, () => svc.setEnabled(externalId, enabled)),
    setUsage: (externalId, usage) => run({ action: 'keys.update', ...key(externalId), change: { usage } }, () => svc.setUsage(externalId, usage)),
    update: (externalId, patch) => run({ action: 'keys.update', ...key(externalId), change: { ...patch } }, () => svc.update(externalId, patch)),
    rotate: (externalId) => run({ action: 'keys.rotate', ...key(externalId) }, () => svc.rotate(externalId), (k) => ({ version: k.currentVersion })),
    scheduleDeletion: (externalId, pendingWindowInDays) =>
      run({ action: 'keys.schedule-deletion', ...key(externalId), change: { pendingWindowInDays } }, () => svc.scheduleDeletion(externalId, pendingWindowInDays), (k) => ({ deletionDate: k.deletionDate })),
    cancelDeletion: (externalId) => run({ action: 'keys.cancel-deletion', ...key(externalId) }, () => svc.cancelDeletion(externalId)),
    deleteVersion: (externalId, version) => run({ action: 'keys.versions.delete', ...key(externalId), change: { version } }, () => svc.deleteVersion(externalId, version)),
  };
}

/** Admin user management (the local, break-glass path) with every change audited; never a password. */
export function auditedAdminUsers<S extends Pick<AdminIdentityService, 'createUser' | 'setRole' | 'setEnabled' | 'resetPassword'>>(svc: S, audit: AdminRecorder, who: AdminActor): S {
  const run = <T>(what: AdminAction, fn: () => Promise<T>) => auditAdminAction(audit, who, what, fn);
  return {
    ...svc,
    createUser: (input) => run({ action: 'users.create', target: input.username, change: { role: input.role } }, () => svc.createUser(input)),
    setRole: (username, role) => run({ action: 'users.update', target: username, change: { role } }, () => svc.setRole(username, role)),
    setEnabled: (username, enabled) => run({ action: 'users.update', target: username, change: { enabled } }, () => svc.setEnabled(username, enabled)),
    resetPassword: (username, opts) => run({ action: 'users.reset-password', target: username, change: { ...opts } }, () => svc.resetPassword(username, opts)),
  };
}

/** What readers of the audit log may do; exporting is itself an audited action. */
export type AuditReadService = Pick<AuditService, 'verify' | 'export' | 'usage' | 'checkpoint'> &
  /** Local only (the CLI on the data directory): archiving to a file of one's choice and checking segments with the log's keys. */
  Partial<Pick<AuditService, 'archive' | 'verifySegment'>> &
  /** Local and through the admin API (the server's archive_dir). */
  Partial<Pick<AuditService, 'rebuildUsage'>> & {
    /** Archives the records before `before` into a segment in archive_dir. */
    archiveToDir?(before: string): Promise<AuditArchiveResult>;
    /** The segments in archive_dir. */
    segments?(): Promise<AuditSegmentInfo[]>;
    /** Copies a segment of archive_dir, byte for byte, to a new file (mode 0600). */
    downloadSegment?(name: string, file: string): Promise<{ bytes: number }>;
  };

/** What the admin API's audit routes use. */
export type AuditPageService = Pick<AuditService, 'verify' | 'page' | 'usage' | 'checkpoint'>;

export function auditedAuditReads(svc: AuditService, who: AdminActor): AuditReadService {
  const what = (q: object) => ({ action: 'audit.export', target: 'audit-log', change: { ...q } });
  return {
    verify: (o) => svc.verify(o),
    usage: (keyId) => svc.usage(keyId),
    checkpoint: () => svc.checkpoint(),
    verifySegment: (text) => svc.verifySegment(text),
    rebuildUsage: (chains) => auditAdminAction(svc, who, { action: 'audit.rebuild-usage', target: 'audit-log' }, () => svc.rebuildUsage(chains), (r) => ({ ...r })),
    async archive(before, write) {
      const plan = await svc.archive(before, write);
      return {
        chains: plan.chains,
        commit: () =>
          auditAdminAction(svc, who, { action: 'audit.archive', target: 'audit-log', change: { before } }, () => plan.commit(), (removed) => ({ removed, chains: plan.chains })),
      };
    },
    async *export(q = {}) {
      let records = 0;
      try {
        for await (const r of svc.export(q)) {
          records++;
          yield r;
        }
      } catch (e) {
        await svc.admin({ ...who, ...what(q), outcome: 'error', errorName: isKeyholdError(e) ? e.code : 'Internal' }).catch(() => undefined);
        throw e;
      }
      const w = what(q);
      await svc.admin({ ...who, ...w, outcome: 'ok', change: { ...w.change, records } });
    },
  };
}
