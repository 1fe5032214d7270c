import type { z } from 'zod';
import type {
  awsImportResultView,
  awsKeyDetailView,
  awsKeyLinksView,
  awsKeySummaryView,
  awsKeyView,
  awsPolicyPutView,
  awsReimportView,
  awsRotateResultView,
  awsRotateToLocalView,
  awsSyncReportView,
  rotateLinkedView,
} from '../../admin/routes/aws-key-routes.js';
import type { AwsKeyImportResult, AwsKeyRecord, AwsKeyReimportResult, AwsKeyRotateToLocalResult, SyncReport } from '../../domain/index.js';
import type { AwsKeyOperations } from '../host.js';
import type { ApiClient } from './api-client.js';

type Out<T extends z.ZodType> = z.output<T>;
const seg = encodeURIComponent;
/** A sync through the API asks for this many ListKeys pages per request, and goes on until the report is complete. */
const SYNC_PAGES_PER_REQUEST = 100;

const summary = (v: Out<typeof awsKeySummaryView>): AwsKeyRecord => ({ ...v, policy: null });
const record = (v: Out<typeof awsKeyView>): AwsKeyRecord => ({ ...v });

/**
 * `keyhold aws sync`, `aws key ...`, `key links` and `key rotate --linked` through a running
 * server's admin API. A change that waits for approvals rejects with PendingApprovalError.
 */
export function remoteAwsKeyOperations(api: ApiClient, slow: ApiClient = api): AwsKeyOperations {
  const key = (ref: string) => `/aws/keys/${seg(ref)}`;
  return {
    async sync(name, opts = {}) {
      let total: SyncReport | undefined;
      for (;;) {
        const r = await slow.call<Out<typeof awsSyncReportView>>('POST', `/aws/connections/${seg(name)}/sync`, {
          ...(opts.region !== undefined ? { region: opts.region } : {}),
          ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
          maxPages: opts.stopAfterPages !== undefined ? Math.min(opts.stopAfterPages, SYNC_PAGES_PER_REQUEST) : SYNC_PAGES_PER_REQUEST,
        });
        total = total
          ? { ...r, resumed: total.resumed, pages: total.pages + r.pages, seen: total.seen + r.seen, added: total.added + r.added, updated: total.updated + r.updated, unchanged: total.unchanged + r.unchanged, vanishedDuringSync: total.vanishedDuringSync + r.vanishedDuringSync, linked: total.linked + r.linked, retries: total.retries + r.retries }
          : r;
        opts.onProgress?.({ region: total.region, pages: total.pages, keys: total.seen });
        if (r.complete || (opts.stopAfterPages !== undefined && total.pages >= opts.stopAfterPages)) return total;
      }
    },
    list: async (filter = {}) => {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(filter)) if (v !== undefined) q.set(k, v);
      return (await api.call<Out<typeof awsKeySummaryView>[]>('GET', `/aws/keys${q.size ? `?${q.toString()}` : ''}`)).map(summary);
    },
    show: async (ref) => {
      const r = await api.call<Out<typeof awsKeyDetailView>>('GET', key(ref));
      return { key: record(r.key), copies: r.copies, superseded: r.superseded };
    },
    links: async (localKey) => {
      const r = await api.call<Out<typeof awsKeyLinksView>>('GET', `/keys/${seg(localKey)}/links`);
      return { localKey: r.localKey, copies: r.copies.map((c) => ({ ...c, awsKey: c.awsKey ? record(c.awsKey) : null })), xksKeys: r.xksKeys.map(record) };
    },
    createNative: async (input) => record(await slow.call('POST', '/aws/keys', input)),
    importLocal: async (input) => (await slow.call<Out<typeof awsImportResultView>>('POST', '/aws/keys/import', input)) as AwsKeyImportResult,
    enable: async (ref) => record(await api.call('POST', `${key(ref)}/enable`)),
    disable: async (ref) => record(await api.call('POST', `${key(ref)}/disable`)),
    scheduleDeletion: async (ref, days) => record(await api.call('POST', `${key(ref)}/schedule-deletion`, days === undefined ? {} : { days })),
    cancelDeletion: async (ref) => record(await api.call('POST', `${key(ref)}/cancel-deletion`)),
    setTags: async (ref, set, remove = []) => record(await api.call('PATCH', `${key(ref)}/tags`, { set, remove })),
    addAlias: async (ref, alias) => record(await api.call('POST', `${key(ref)}/aliases`, { alias })),
    removeAlias: async (ref, alias) => record(await api.call('DELETE', `${key(ref)}/aliases/${seg(alias)}`)),
    policyDiff: async (ref, policy) => {
      const r = await api.call<Out<typeof awsPolicyPutView>>('PUT', `${key(ref)}/policy`, { policy, preview: true });
      return { before: r.before, after: r.after, diff: r.diff };
    },
    putPolicy: async (ref, policy) => {
      const r = await api.call<Out<typeof awsPolicyPutView>>('PUT', `${key(ref)}/policy`, { policy });
      return record(r.key!);
    },
    setRotation: async (ref, on, periodDays) => record(await api.call('PUT', `${key(ref)}/rotation`, { enabled: on, ...(periodDays !== undefined ? { periodDays } : {}) })),
    forget: (ref) => api.call<{ forgotten: string }>('DELETE', key(ref)),
    rotateNative: async (ref, opts = {}) => {
      const r = await slow.call<Out<typeof awsRotateResultView>>('POST', `${key(ref)}/rotate`, { disableOld: !!opts.disableOld });
      return { old: record(r.old), new: record(r.new), movedAliases: r.movedAliases };
    },
    rotateToLocal: async (ref, localKey, opts) => {
      const r = await slow.call<Out<typeof awsRotateToLocalView>>('POST', `${key(ref)}/rotate-to-local`, { localKey, ...(opts.validTo !== undefined ? { validTo: opts.validTo } : {}), disableOld: !!opts.disableOld });
      return { ...r, old: record(r.old), new: record(r.new), wrappingAlgorithm: r.wrappingAlgorithm as AwsKeyRotateToLocalResult['wrappingAlgorithm'] };
    },
    deleteImportedMaterial: async (ref) => record(await api.call('POST', `${key(ref)}/delete-material`)),
    reimport: async (ref, opts) => {
      const r = await slow.call<Out<typeof awsReimportView>>('POST', `${key(ref)}/reimport`, opts.validTo !== undefined ? { validTo: opts.validTo } : {});
      return { ...r, key: record(r.key), wrappingAlgorithm: r.wrappingAlgorithm as AwsKeyReimportResult['wrappingAlgorithm'] };
    },
    rotateLinked: (localKey, opts) => slow.call<Out<typeof rotateLinkedView>>('POST', `/keys/${seg(localKey)}/rotate-linked`, opts.strategy ? { strategy: opts.strategy } : {}),
  };
}
