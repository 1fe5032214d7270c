import { z } from 'zod';
import type { AuditPageService, KeyService } from '../../domain/index.js';
import { defineRoute, type AdminRoute } from '../route.js';
import { ERROR_RESPONSES } from '../views.js';
import { keyIdParam, nameParam } from './common.js';

const AUDITOR = ['auditor'] as const;
const READERS = ['custodian', 'auditor'] as const;

const isoTime = z.string().min(1).max(40).describe('ISO 8601, e.g. 2025-01-31T12:00:00Z');

/** A record as `keyhold audit export` writes it: its fields, seq, prev and mac. */
const auditRecordView = z.record(z.string(), z.unknown()).meta({ id: 'AuditRecord' });

const verifyView = z
  .object({
    ok: z.boolean(),
    count: z.number().int(),
    problem: z.object({ seq: z.number().int(), kind: z.string(), detail: z.string() }).optional(),
  })
  .meta({ id: 'AuditVerifyReport' });

const usageTotal = { calls: z.number().int(), lastUsedAt: z.string() };
const keyUsageView = z
  .object({
    keyId: z.string(),
    keyStore: z.string().nullable(),
    calls: z.number().int(),
    firstUsedAt: z.string().nullable(),
    lastUsedAt: z.string().nullable(),
    kmsKeyArns: z.array(z.object({ kmsKeyArn: z.string(), ...usageTotal })),
    principals: z.array(z.object({ principal: z.string(), ...usageTotal })),
    operations: z.array(z.object({ operation: z.string(), kmsOperation: z.string(), outcome: z.string(), ...usageTotal })),
    rows: z.array(
      z.object({
        keyId: z.string(),
        keyStore: z.string(),
        kmsKeyArn: z.string(),
        principal: z.string(),
        operation: z.string(),
        kmsOperation: z.string(),
        outcome: z.string(),
        count: z.number().int(),
        firstAt: z.string(),
        lastAt: z.string(),
      }),
    ),
  })
  .meta({ id: 'KeyUsage' });

/**
 * The audit log on the admin API: verification and paged records for auditors, and the key
 * usage view for custodians and auditors. Reading records is itself recorded.
 */
export function auditRoutes(deps: { audit: AuditPageService; keys: Pick<KeyService, 'get'> }): AdminRoute[] {
  const { audit, keys } = deps;
  return [
    defineRoute({
      id: 'audit.verify',
      method: 'GET',
      url: '/audit/verify',
      access: AUDITOR,
      tag: 'audit',
      summary: 'Verify the hash chain of the whole audit log',
      description: 'Reads every record. ok with the count, or the first edited, deleted, inserted or reordered record.',
      responses: { 200: verifyView, ...ERROR_RESPONSES },
      handle: () => audit.verify(),
    }),
    defineRoute({
      id: 'audit.records',
      method: 'GET',
      url: '/audit/records',
      access: AUDITOR,
      tag: 'audit',
      summary: 'Audit records, oldest first, a page at a time',
      description: 'Pass the answer\'s "next" as "after" for the following page; next is null on the last page.',
      audited: true,
      query: z
        .object({
          since: isoTime.optional(),
          until: isoTime.optional(),
          keyId: keyIdParam.optional(),
          keyStore: nameParam.optional(),
          after: z.coerce.number().int().min(0).optional(),
          limit: z.coerce.number().int().min(1).max(1000).optional(),
        })
        .strict(),
      responses: { 200: z.object({ records: z.array(auditRecordView), next: z.number().int().nullable() }).meta({ id: 'AuditRecordPage' }), ...ERROR_RESPONSES },
      async handle({ query, audit: notes }) {
        notes.target = 'audit-log';
        notes.change = { since: query.since, until: query.until, keyId: query.keyId, keyStore: query.keyStore, after: query.after ?? 0 };
        return audit.page({ since: query.since, until: query.until, keyId: query.keyId, keyStore: query.keyStore }, query.after ?? 0, query.limit ?? 1000);
      },
    }),
    defineRoute({
      id: 'keys.usage',
      method: 'GET',
      url: '/keys/:keyId/usage',
      access: READERS,
      tag: 'keys',
      summary: 'Who used a key: KMS key ARNs, principals, calls per operation and outcome, last use',
      params: z.object({ keyId: keyIdParam }),
      responses: { 200: keyUsageView, ...ERROR_RESPONSES },
      async handle({ params }) {
        const view = await audit.usage(params.keyId);
        if (view.calls === 0) await keys.get(params.keyId); // an unknown key is 404, not "never used"
        return view;
      },
    }),
  ];
}
