import type { Readable } from 'node:stream';
import { z } from 'zod';
import { fail } from '../../base/index.js';
import { SEGMENT_NAME_RE, type AuditArchiveResult, type AuditPageService, type AuditSegmentInfo, type AuditService, type KeyService } from '../../domain/index.js';
import { defineRoute, type AdminRoute } from '../route.js';
import { ERROR_RESPONSES, pendingApprovalView } from '../views.js';
import { gated, keyIdParam, nameParam } from './common.js';
import type { RouteDeps } from './deps.js';

const AUDITOR = ['auditor'] as const;
const ADMIN = ['administrator'] as const;
/** Segments hold audit records: auditors read them, administrators fetch what they archived. */
const SEGMENT_READERS = ['administrator', 'auditor'] as const;
const READERS = ['custodian', 'auditor'] as const;

const isoTime = z.string().min(1).max(40).describe('ISO 8601, e.g. 2025-01-31T12:00:00Z');

/** A record as `keyhold audit export` writes it: its fields, seq, prev and mac. */
const auditRecordView = z.record(z.string(), z.unknown()).meta({ id: 'AuditRecord' });

const verifyView = z
  .object({
    ok: z.boolean(),
    count: z.number().int(),
    chains: z.array(z.object({ chain: z.string(), count: z.number().int(), seq: z.number().int(), archived: z.number().int() })),
    problem: z.object({ chain: z.string(), seq: z.number().int(), kind: z.string(), detail: z.string() }).optional(),
    checkpoint: z.object({ time: z.string(), chains: z.number().int() }).optional(),
  })
  .meta({ id: 'AuditVerifyReport' });

/** The checkpoint query parameter: base64url of the checkpoint's JSON. */
function decodeCheckpoint(text: string): unknown {
  try {
    return checkpointView.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
  } catch {
    return fail('ValidationFailed', 'checkpoint is not a Keyhold audit checkpoint (base64url of the JSON that `keyhold audit checkpoint` prints)');
  }
}

const chainId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/).describe('an audit chain id');

const checkpointView = z
  .object({
    type: z.literal('keyhold-audit-checkpoint'),
    version: z.literal(1),
    time: z.string(),
    node: z.string(),
    chains: z.array(z.object({ chain: z.string(), seq: z.number().int(), mac: z.string() })).max(10_000),
    publicKey: z.string(),
    signature: z.string(),
  })
  .meta({ id: 'AuditCheckpoint' });

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

const chainRange = z.object({ chain: z.string(), from: z.number().int(), to: z.number().int(), count: z.number().int() });

const archiveView = z
  .object({
    file: z.string().describe("the segment's name in the server's archive_dir (GET /audit/segments/{name} downloads it)"),
    before: z.string(),
    removed: z.number().int(),
    bytes: z.number().int(),
    chains: z.array(chainRange),
  })
  .meta({ id: 'AuditArchive' });

const segmentView = z
  .object({
    name: z.string(),
    bytes: z.number().int(),
    createdAt: z.string(),
    before: z.string().nullable(),
    records: z.number().int().nullable(),
    chains: z.array(chainRange),
  })
  .meta({ id: 'AuditSegment' });

const segmentName = z.string().regex(SEGMENT_NAME_RE, "a segment file name: letters, digits, '.', '_', '-', ending in .jsonl (no directories)");

/** The segments in the server's archive_dir. */
export interface AuditSegmentSource {
  list(): Promise<AuditSegmentInfo[]>;
  open(name: string): Promise<{ bytes: number; stream: Readable }>;
}

/**
 * The audit log on the admin API: verification and paged records for auditors, and the key
 * usage view for custodians and auditors. Reading records is itself recorded.
 */
export function auditRoutes(deps: {
  audit: AuditPageService & Pick<AuditService, 'rebuildUsage'>;
  keys: Pick<KeyService, 'get'>;
  approvals: RouteDeps['services']['approvals'];
  segments: AuditSegmentSource;
}): AdminRoute[] {
  const { audit, keys, segments } = deps;
  const gate = { services: { approvals: deps.approvals } } as RouteDeps;
  return [
    defineRoute({
      id: 'audit.verify',
      method: 'GET',
      url: '/audit/verify',
      access: AUDITOR,
      tag: 'audit',
      summary: 'Verify every chain of the audit log, optionally against a signed checkpoint',
      description:
        'Reads every record. ok with the count, or the first edited, deleted, inserted or reordered record. With checkpoint (the checkpoint document as base64url JSON), also proves the log still holds everything up to it.',
      query: z.object({ checkpoint: z.string().max(12_000).regex(/^[A-Za-z0-9_-]*$/).optional() }).strict(),
      responses: { 200: verifyView, ...ERROR_RESPONSES },
      handle: ({ query }) => audit.verify(query.checkpoint === undefined ? {} : { checkpoint: decodeCheckpoint(query.checkpoint) }),
    }),
    defineRoute({
      id: 'audit.checkpoint',
      method: 'GET',
      url: '/audit/checkpoint',
      access: AUDITOR,
      tag: 'audit',
      summary: 'A signed checkpoint of every chain head, to keep outside Keyhold',
      description: 'Signed with the Ed25519 key derived from the audit key; publicKey verifies it.',
      responses: { 200: checkpointView, ...ERROR_RESPONSES },
      handle: () => audit.checkpoint(),
    }),
    defineRoute({
      id: 'audit.records',
      method: 'GET',
      url: '/audit/records',
      access: AUDITOR,
      tag: 'audit',
      summary: 'Audit records, oldest first, a page at a time',
      description:
        'Chain by chain (main first), each record verified before the filter reads it. Pass the answer\'s "next" as "after" and "nextChain" as "chain" for the following page; next is null on the last page.',
      audited: true,
      query: z
        .object({
          since: isoTime.optional(),
          until: isoTime.optional(),
          keyId: keyIdParam.optional(),
          keyStore: nameParam.optional(),
          chain: chainId.optional(),
          after: z.coerce.number().int().min(0).optional(),
          limit: z.coerce.number().int().min(1).max(1000).optional(),
        })
        .strict(),
      responses: {
        200: z.object({ records: z.array(auditRecordView), next: z.number().int().nullable(), nextChain: z.string().nullable() }).meta({ id: 'AuditRecordPage' }),
        ...ERROR_RESPONSES,
      },
      async handle({ query, audit: notes }) {
        notes.target = 'audit-log';
        notes.change = { since: query.since, until: query.until, keyId: query.keyId, keyStore: query.keyStore, chain: query.chain, after: query.after ?? 0 };
        return audit.page({ since: query.since, until: query.until, keyId: query.keyId, keyStore: query.keyStore }, { chain: query.chain ?? 'main', after: query.after ?? 0 }, query.limit ?? 1000);
      },
    }),
    defineRoute({
      id: 'audit.archive',
      approval: 'audit.archive',
      method: 'POST',
      url: '/audit/archive',
      access: ADMIN,
      tag: 'audit',
      summary: "Archive the records before a time into a signed segment in the server's archive_dir, and remove them from the live log",
      description:
        'The whole log must verify first. The segment (the same format `keyhold audit archive` and automatic retention write) is written and synced before any record is removed; a signed anchor keeps the rest verifiable, and the last record of each chain always stays. Refused when before is not a time, is in the future, or would archive nothing. Under the audit.archive approval rule (202 with the request).',
      body: z.object({ before: isoTime }).strict(),
      responses: { 200: archiveView, 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        input.audit.target = 'audit-log';
        input.audit.change = { before: input.body.before };
        return gated(gate, input, 'audit.archive', { before: input.body.before }, (r) => {
          const a = r as AuditArchiveResult;
          input.audit.change = { before: a.before, file: a.file, removed: a.removed, chains: a.chains };
          return a;
        });
      },
    }),
    defineRoute({
      id: 'audit.segments',
      method: 'GET',
      url: '/audit/segments',
      access: SEGMENT_READERS,
      tag: 'audit',
      summary: "The archived segments in the server's archive_dir, oldest first",
      description: "Name, size, when it was written and the records it holds, as its signed trailer says (before, records null: the trailer is unreadable). In a cluster, each node lists its own archive_dir.",
      responses: { 200: z.array(segmentView), ...ERROR_RESPONSES },
      handle: () => segments.list(),
    }),
    defineRoute({
      id: 'audit.segment',
      method: 'GET',
      url: '/audit/segments/:name',
      access: SEGMENT_READERS,
      tag: 'audit',
      summary: 'Download one archived segment, byte for byte (JSON Lines)',
      description: 'Check it offline with `keyhold audit verify --segment FILE`. Downloading is recorded.',
      audited: true,
      raw: true,
      params: z.object({ name: segmentName }),
      responses: { 200: z.string(), ...ERROR_RESPONSES },
      async handle({ params, reply, audit: notes }) {
        notes.target = 'audit-log';
        notes.change = { segment: params.name };
        const s = await segments.open(params.name);
        notes.change = { segment: params.name, bytes: s.bytes };
        reply.type('application/x-ndjson; charset=utf-8');
        reply.header('content-length', String(s.bytes));
        reply.header('content-disposition', `attachment; filename="${params.name}"`);
        return s.stream;
      },
    }),
    defineRoute({
      id: 'audit.rebuild-usage',
      approval: { exempt: 'recomputes the key usage aggregate from the verified records; it removes, stops or narrows nothing' },
      method: 'POST',
      url: '/audit/rebuild-usage',
      access: ADMIN,
      tag: 'audit',
      summary: 'Recompute the key usage aggregate from the verified records',
      description: 'Refused (409, nothing changed) when the records do not verify.',
      responses: { 200: z.object({ chains: z.number().int(), rows: z.number().int() }).meta({ id: 'AuditUsageRebuild' }), ...ERROR_RESPONSES },
      async handle({ audit: notes }) {
        notes.target = 'audit-log';
        const r = await audit.rebuildUsage();
        notes.change = { ...r };
        return r;
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
