import { isKeyholdError, KeyholdError } from '../base/index.js';
import type { AuditService } from './audit-service.js';
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

/** The key store service with every change (and every export of a secret) audited. */
export function auditedKeyStoreService(svc: KeyStoreService, audit: AdminRecorder, who: AdminActor): KeyStoreService {
  const run = <T>(what: AdminAction, fn: () => Promise<T>, after?: (r: T) => Record<string, unknown>) => auditAdminAction(audit, who, what, fn, after);
  return {
    ...svc,
    create: (input) =>
      run({ action: 'keystore.create', target: input.name, keyStore: input.name, change: { prefix: input.prefix, regions: input.regions, enabled: input.enabled } }, () => svc.create(input), (r) => ({
        uriPath: r.uriPath,
        accessKeyId: r.credential.accessKeyId,
      })),
    setEnabled: (name, enabled) => run({ action: enabled ? 'keystore.enable' : 'keystore.disable', target: name, keyStore: name }, () => svc.setEnabled(name, enabled)),
    setRegions: (name, regions) => run({ action: 'keystore.set-regions', target: name, keyStore: name, change: { regions } }, () => svc.setRegions(name, regions)),
    delete: (name) => run({ action: 'keystore.delete', target: name, keyStore: name }, () => svc.delete(name)),
    addCredential: (name) => run({ action: 'credential.add', target: name, keyStore: name }, () => svc.addCredential(name), (r) => ({ accessKeyId: r.accessKeyId })),
    revokeCredential: (name, accessKeyId) => run({ action: 'credential.revoke', target: name, keyStore: name, change: { accessKeyId } }, () => svc.revokeCredential(name, accessKeyId)),
    setPolicy: (name, policy) =>
      run({ action: policy === null ? 'policy.clear' : 'policy.set', target: name, keyStore: name }, () => svc.setPolicy(name, policy), (p) => ({ policy: p })),
    awsConfig: (name, accessKeyId) =>
      run({ action: 'credential.export', target: name, keyStore: name, change: { accessKeyId } }, () => svc.awsConfig(name, accessKeyId), (f) => ({
        accessKeyId: f.XksProxyAuthenticationCredential.AccessKeyId,
      })),
  };
}

/** The key service with every change audited. */
export function auditedKeyService(svc: KeyService, audit: AdminRecorder, who: AdminActor): KeyService {
  const run = <T>(what: AdminAction, fn: () => Promise<T>, after?: (r: T) => Record<string, unknown>) => auditAdminAction(audit, who, what, fn, after);
  return {
    ...svc,
    create: (input) =>
      run({ action: 'key.create', target: input.externalId, keyId: input.externalId, keyStore: input.keyStore, change: { usage: input.usage, protection: input.protection } }, () => svc.create(input), (k) => ({
        usage: k.usage,
        protection: k.protection,
        version: k.currentVersion,
      })),
    adopt: (input) =>
      run(
        { action: 'key.adopt', target: input.externalId ?? input.label, keyId: input.externalId, keyStore: input.keyStore, change: { hsmLabel: input.label, usage: input.usage, aadLayout: input.aadLayout } },
        () => svc.adopt(input),
        (r) => ({ keyId: r.key.externalId, version: r.key.currentVersion }),
      ),
    setEnabled: (externalId, enabled) => run({ action: enabled ? 'key.enable' : 'key.disable', target: externalId, keyId: externalId }, () => svc.setEnabled(externalId, enabled)),
    setUsage: (externalId, usage) => run({ action: 'key.set-usage', target: externalId, keyId: externalId, change: { usage } }, () => svc.setUsage(externalId, usage)),
    rotate: (externalId) => run({ action: 'key.rotate', target: externalId, keyId: externalId }, () => svc.rotate(externalId), (k) => ({ version: k.currentVersion })),
  };
}

/** What readers of the audit log may do; exporting is itself an audited action. */
export type AuditReadService = Pick<AuditService, 'verify' | 'export' | 'usage'>;

export function auditedAuditReads(svc: AuditService, who: AdminActor): AuditReadService {
  const what = (q: object) => ({ action: 'audit.export', target: 'audit-log', change: { ...q } });
  return {
    verify: () => svc.verify(),
    usage: (keyId) => svc.usage(keyId),
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
