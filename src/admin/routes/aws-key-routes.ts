/**
 * AWS keys (bring your own key, docs/byok.md): Keyhold's records of native KMS keys, their
 * sync, lifecycle, key policy, rotation, and the copies of local material into them. One
 * table of routes (AWS_KEY_ROUTES); a new AWS key operation is one more entry.
 */
import { z } from 'zod';
import { fail } from '../../base/index.js';
import type { AwsKeyCopy, AwsKeyRecord, AwsKeyReimportResult, AwsKeyRotateToLocalResult, AwsKeyService } from '../../domain/index.js';
import { defineRoute, type AdminRoute } from '../route.js';
import { ERROR_RESPONSES, pendingApprovalView } from '../views.js';
import { EXEMPT, gated, keyIdParam, nameParam } from './common.js';
import type { RouteDeps } from './deps.js';

const CUSTODIAN = ['custodian'] as const;
const READERS = ['custodian', 'auditor'] as const;
const iso = z.string().describe('ISO 8601 instant');
const region = z.string().min(1).max(32);
const alias = z.string().min(1).max(256).describe('alias/NAME');
const tags = z.record(z.string().min(1).max(128), z.string().max(256));
/** A key id, ARN or alias (URL-encoded in paths). */
const keyRef = z.string().min(1).max(2048).describe('key id, ARN or alias (URL-encoded)');
const keyParams = z.object({ key: keyRef });
/** The most ListKeys pages (100 keys each) one sync request reads; a sync left incomplete resumes on the next request. */
export const MAX_SYNC_PAGES = 1000;

const awsKeyFields = {
  arn: z.string(),
  keyId: z.string(),
  connectionId: z.string(),
  accountId: z.string(),
  region: z.string(),
  keySpec: z.string(),
  keyUsage: z.string(),
  origin: z.string().describe('AWS_KMS, EXTERNAL, EXTERNAL_KEY_STORE or AWS_CLOUDHSM'),
  keyManager: z.string().describe('CUSTOMER or AWS'),
  state: z.string().describe("KMS's KeyState, or Gone once a sync no longer finds the key"),
  description: z.string(),
  aliases: z.array(z.string()),
  tags: z.record(z.string(), z.string()),
  rotation: z.object({ enabled: z.boolean(), periodDays: z.number().nullable() }).nullable().describe('null: KMS does not rotate this kind of key'),
  expirationModel: z.string().nullable(),
  validTo: z.string().nullable(),
  multiRegion: z.boolean(),
  customKeyStoreId: z.string().nullable(),
  xksKeyId: z.string().nullable(),
  localKeyId: z.string().nullable().describe('the local key behind one of Keyhold\'s own XKS keys'),
  awsCreatedAt: z.string().nullable(),
  deletionDate: z.string().nullable(),
  syncRun: z.string(),
  syncedAt: iso,
  goneAt: z.string().nullable(),
};
export const awsKeySummaryView = z.object(awsKeyFields).meta({ id: 'AwsKeySummary' });
export const awsKeyView = z.object({ ...awsKeyFields, policy: z.string().nullable().describe('the key policy as last read; null when unreadable') }).meta({ id: 'AwsKey' });
const copyFields = {
  id: z.string(),
  localKeyId: z.string().describe('internal key id'),
  localVersion: z.number(),
  connectionId: z.string(),
  region: z.string(),
  awsKeyArn: z.string(),
  expirationModel: z.enum(['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE']),
  validTo: z.string().nullable(),
  keyMaterialId: z.string().nullable(),
  copiedBy: z.string(),
  copiedAt: iso,
};
export const awsKeyCopyView = z.object(copyFields).meta({ id: 'AwsKeyCopy' });
export const awsKeySupersessionView = z
  .object({ by: z.string().describe('ARN of the AWS key that replaced it'), at: iso, actor: z.string() })
  .describe('key rotate --linked made a new imported key for this link and moved the aliases to it: this key still decrypts (and can be reimported) but takes no new local versions')
  .meta({ id: 'AwsKeySupersession' });
export const awsKeyDetailView = z.object({ key: awsKeyView, copies: z.array(awsKeyCopyView.extend({ localKey: z.string() })), superseded: awsKeySupersessionView.nullable() }).meta({ id: 'AwsKeyDetail' });
export const awsKeyLinksView = z
  .object({ localKey: z.string(), copies: z.array(awsKeyCopyView.extend({ awsKey: awsKeyView.nullable(), superseded: awsKeySupersessionView.nullable() })), xksKeys: z.array(awsKeyView) })
  .meta({ id: 'AwsKeyLinks' });
export const awsSyncReportView = z
  .object({
    connection: z.string(),
    region: z.string(),
    run: z.string(),
    resumed: z.boolean(),
    complete: z.boolean().describe('false: maxPages was reached; the next sync request resumes where this one stopped'),
    pages: z.number(),
    seen: z.number(),
    added: z.number(),
    updated: z.number(),
    unchanged: z.number(),
    vanishedDuringSync: z.number(),
    gone: z.array(z.string()),
    linked: z.number(),
    awsManagedAliasesWithoutKey: z.number(),
    retries: z.number(),
  })
  .meta({ id: 'AwsSyncReport' });
export const awsPolicyPutView = z
  .object({ applied: z.boolean(), before: z.string(), after: z.string(), diff: z.array(z.string()).describe('"- " removed, "+ " added, "  " kept'), key: awsKeyView.optional() })
  .meta({ id: 'AwsKeyPolicyPut' });
export const awsImportResultView = z
  .object({ localKey: z.string(), localVersion: z.number(), copies: z.array(awsKeyCopyView.extend({ wrappingAlgorithm: z.string(), alias: z.string().nullable() })) })
  .meta({ id: 'AwsKeyImported' });
export const awsRotateToLocalView = z
  .object({ old: awsKeyView, new: awsKeyView, movedAliases: z.array(z.string()), localKey: z.string(), localVersion: z.number(), wrappingAlgorithm: z.string(), link: awsKeyCopyView })
  .meta({ id: 'AwsKeyRotatedToLocal' });
export const awsReimportView = z.object({ key: awsKeyView, localKey: z.string(), localVersion: z.number(), wrappingAlgorithm: z.string(), link: awsKeyCopyView }).meta({ id: 'AwsKeyReimported' });
export const awsRotateResultView = z.object({ old: awsKeyView, new: awsKeyView, movedAliases: z.array(z.string()) }).meta({ id: 'AwsKeyRotated' });
export const rotateLinkedView = z
  .object({ localKey: z.string(), version: z.number(), links: z.array(z.object({ awsKeyArn: z.string(), strategy: z.enum(['in-place', 'new-key']).nullable(), newArn: z.string().nullable(), error: z.string().nullable() })) })
  .meta({ id: 'RotateLinked' });

export const toAwsKeyView = (k: AwsKeyRecord): z.output<typeof awsKeyView> => ({ ...k });
const toSummary = ({ policy: _p, ...k }: AwsKeyRecord): z.output<typeof awsKeySummaryView> => k;
const toCopy = (c: AwsKeyCopy) => ({ ...c });
const keyResult = (r: unknown) => toAwsKeyView(r as AwsKeyRecord);

/** Whole seconds of work per sync request are bounded by pages, and one sync per connection and Region runs at a time. */
function syncGuard() {
  const running = new Set<string>();
  return async <T>(connectionId: string, region: string, fn: () => Promise<T>): Promise<T> => {
    const k = `${connectionId}/${region}`;
    if (running.has(k)) fail('Conflict', `a sync of this connection in ${region} is already running; wait for its report`);
    running.add(k);
    try {
      return await fn();
    } finally {
      running.delete(k);
    }
  };
}

/** The AWS key routes (docs/byok.md). Changes that stop or narrow an AWS key's service can wait for approvals. */
export function awsKeyRoutes(deps: RouteDeps): AdminRoute[] {
  const svc = (): AwsKeyService => deps.services.aws?.keys ?? fail('Unsupported', 'this server has no AWS plane');
  const connections = () => deps.services.aws?.connections ?? fail('Unsupported', 'this server has no AWS plane');
  const guard = syncGuard();
  const withResponses = <T extends Record<number, z.ZodType>>(r: T) => ({ ...r, ...ERROR_RESPONSES });

  return [
    defineRoute({
      id: 'aws.keys.sync',
      method: 'POST',
      url: '/aws/connections/:name/sync',
      access: CUSTODIAN,
      approval: { exempt: "only reads from AWS into Keyhold's records of AWS keys; nothing changes in AWS" },
      tag: 'aws-keys',
      summary: "Read the KMS keys of a connection's Region into Keyhold (idempotent) and return the report",
      description: `Reads at most maxPages ListKeys pages (100 keys each; default and most ${MAX_SYNC_PAGES}); a report with complete=false is resumed by the next request. A second sync of the same connection and Region while one runs answers 409.`,
      params: z.object({ name: nameParam }),
      body: z.object({ region: region.optional(), concurrency: z.number().int().min(1).max(32).optional(), maxPages: z.number().int().min(1).max(MAX_SYNC_PAGES).optional() }).strict().nullish(),
      responses: withResponses({ 200: awsSyncReportView }),
      async handle({ params, body, audit }) {
        const c = await connections().get(params.name);
        const r = body?.region ?? c.region;
        audit.change = { region: r };
        return guard(c.id, r, () => svc().sync(params.name, { region: r, concurrency: body?.concurrency, stopAfterPages: body?.maxPages ?? MAX_SYNC_PAGES }));
      },
    }),
    defineRoute({
      id: 'aws.keys.records.list',
      method: 'GET',
      url: '/aws/keys',
      access: READERS,
      tag: 'aws-keys',
      summary: 'List AWS keys as last synced (without their key policies)',
      query: z.object({ connection: nameParam.optional(), region: region.optional(), state: z.string().min(1).max(32).optional() }).strict(),
      responses: withResponses({ 200: z.array(awsKeySummaryView) }),
      async handle({ query }) {
        return (await svc().list(query)).map(toSummary);
      },
    }),
    defineRoute({
      id: 'aws.keys.records.create',
      method: 'POST',
      url: '/aws/keys',
      access: CUSTODIAN,
      approval: EXEMPT.adds,
      tag: 'aws-keys',
      summary: 'Create a native KMS key of any spec, with aliases and tags',
      body: z
        .object({
          connection: nameParam,
          region: region.optional(),
          keySpec: z.string().max(32).optional(),
          keyUsage: z.string().max(32).optional(),
          aliases: z.array(alias).max(20).optional(),
          tags: tags.optional(),
          description: z.string().max(8192).optional(),
          multiRegion: z.boolean().optional(),
        })
        .strict(),
      responses: withResponses({ 200: awsKeyView }),
      async handle({ body, audit }) {
        audit.target = body.connection;
        return toAwsKeyView(await svc().createNative(body));
      },
    }),
    defineRoute({
      id: 'aws.keys.import',
      method: 'POST',
      url: '/aws/keys/import',
      access: CUSTODIAN,
      approval: { rules: ['aws.key.disable'], when: 'the material is given an expiry (validTo): the AWS key stops working on that date' },
      tag: 'aws-keys',
      summary: 'Copy an exportable local key into AWS KMS: a new key with imported material in each Region, or into one existing key awaiting material (into), each copy recorded as a link',
      description:
        'Without into, connection is required and a new EXTERNAL-origin key is made in each Region. With into (key id, ARN or alias of a synced AWS key), the material goes into that key: it must have origin EXTERNAL, be PendingImport, and hold no other local key\'s material (409 otherwise; a key this local key was copied into before takes that version back); connection, when given, must be the key\'s; regions at most the key\'s one Region.',
      body: z
        .object({
          localKey: keyIdParam,
          connection: nameParam.optional(),
          into: keyRef.optional(),
          regions: z.array(region).max(20).optional(),
          alias: alias.optional(),
          validTo: z.string().max(40).optional(),
          description: z.string().max(8192).optional(),
        })
        .strict(),
      responses: withResponses({ 200: awsImportResultView, 202: pendingApprovalView }),
      async handle(input) {
        input.audit.target = input.body.localKey;
        return gated(deps, input, 'aws.key.import', input.body, (r) => r as z.output<typeof awsImportResultView>);
      },
    }),
    defineRoute({
      id: 'aws.keys.records.get',
      method: 'GET',
      url: '/aws/keys/:key',
      access: READERS,
      tag: 'aws-keys',
      summary: 'Show an AWS key and the local material copied into it',
      params: keyParams,
      responses: withResponses({ 200: awsKeyDetailView }),
      async handle({ params }) {
        const r = await svc().show(params.key);
        return { key: toAwsKeyView(r.key), copies: r.copies.map((c) => ({ ...toCopy(c), localKey: c.localKey })), superseded: r.superseded };
      },
    }),
    defineRoute({
      id: 'aws.keys.enable',
      method: 'POST',
      url: '/aws/keys/:key/enable',
      access: CUSTODIAN,
      approval: EXEMPT.restores,
      tag: 'aws-keys',
      summary: 'Enable the key in AWS',
      params: keyParams,
      responses: withResponses({ 200: awsKeyView }),
      async handle({ params, audit }) {
        audit.target = params.key;
        return toAwsKeyView(await svc().enable(params.key));
      },
    }),
    defineRoute({
      id: 'aws.keys.disable',
      method: 'POST',
      url: '/aws/keys/:key/disable',
      access: CUSTODIAN,
      approval: 'aws.key.disable',
      tag: 'aws-keys',
      summary: 'Disable the key in AWS: every use fails until it is enabled',
      params: keyParams,
      responses: withResponses({ 200: awsKeyView, 202: pendingApprovalView }),
      async handle(input) {
        input.audit.target = input.params.key;
        return gated(deps, input, 'aws.key.disable', { key: input.params.key }, keyResult);
      },
    }),
    defineRoute({
      id: 'aws.keys.schedule-deletion',
      method: 'POST',
      url: '/aws/keys/:key/schedule-deletion',
      access: CUSTODIAN,
      approval: 'aws.key.delete',
      tag: 'aws-keys',
      summary: 'Delete the key in AWS after 7-30 days (default 30); it stops serving at once',
      params: keyParams,
      body: z.object({ days: z.number().int().min(7).max(30).optional() }).strict().nullish(),
      responses: withResponses({ 200: awsKeyView, 202: pendingApprovalView }),
      async handle(input) {
        input.audit.target = input.params.key;
        return gated(deps, input, 'aws.key.schedule-deletion', { key: input.params.key, days: input.body?.days ?? 30 }, keyResult);
      },
    }),
    defineRoute({
      id: 'aws.keys.cancel-deletion',
      method: 'POST',
      url: '/aws/keys/:key/cancel-deletion',
      access: CUSTODIAN,
      approval: { exempt: 'ends a pending deletion; the key comes back Disabled (as in KMS), so nothing that served stops' },
      tag: 'aws-keys',
      summary: 'Cancel a scheduled deletion (the key comes back Disabled)',
      params: keyParams,
      responses: withResponses({ 200: awsKeyView }),
      async handle({ params, audit }) {
        audit.target = params.key;
        return toAwsKeyView(await svc().cancelDeletion(params.key));
      },
    }),
    defineRoute({
      id: 'aws.keys.tags',
      method: 'PATCH',
      url: '/aws/keys/:key/tags',
      access: CUSTODIAN,
      approval: { rules: ['aws.key.disable'], when: 'a tag is removed or given another value (access granted by a tag condition can end)' },
      tag: 'aws-keys',
      summary: 'Set and remove tags',
      params: keyParams,
      body: z.object({ set: tags.optional(), remove: z.array(z.string().min(1).max(128)).max(50).optional() }).strict(),
      responses: withResponses({ 200: awsKeyView, 202: pendingApprovalView }),
      async handle(input) {
        input.audit.target = input.params.key;
        const set = input.body.set ?? {};
        const remove = input.body.remove ?? [];
        if (!Object.keys(set).length && !remove.length) fail('ValidationFailed', 'give set or remove');
        return gated(deps, input, 'aws.key.tags', { key: input.params.key, set, remove }, keyResult);
      },
    }),
    defineRoute({
      id: 'aws.keys.aliases.add',
      method: 'POST',
      url: '/aws/keys/:key/aliases',
      access: CUSTODIAN,
      approval: { rules: ['aws.key.disable'], when: 'the alias names another key of the Region: it moves here, and that key loses its callers by alias' },
      tag: 'aws-keys',
      summary: 'Add an alias (an alias of another key in the Region moves here)',
      params: keyParams,
      body: z.object({ alias }).strict(),
      responses: withResponses({ 200: awsKeyView, 202: pendingApprovalView }),
      async handle(input) {
        input.audit.target = input.params.key;
        return gated(deps, input, 'aws.key.alias-add', { key: input.params.key, alias: input.body.alias }, keyResult);
      },
    }),
    defineRoute({
      id: 'aws.keys.aliases.remove',
      method: 'DELETE',
      url: '/aws/keys/:key/aliases/:alias',
      access: CUSTODIAN,
      approval: 'aws.key.disable',
      tag: 'aws-keys',
      summary: 'Remove an alias (callers that use it stop reaching the key)',
      params: z.object({ key: keyRef, alias }),
      responses: withResponses({ 200: awsKeyView, 202: pendingApprovalView }),
      async handle(input) {
        input.audit.target = input.params.key;
        return gated(deps, input, 'aws.key.alias-remove', { key: input.params.key, alias: input.params.alias }, keyResult);
      },
    }),
    defineRoute({
      id: 'aws.keys.policy.get',
      method: 'GET',
      url: '/aws/keys/:key/policy',
      access: READERS,
      tag: 'aws-keys',
      summary: 'The key policy, as last read from AWS',
      params: keyParams,
      responses: withResponses({ 200: z.object({ arn: z.string(), policy: z.string().nullable() }).meta({ id: 'AwsKeyPolicy' }) }),
      async handle({ params }) {
        const r = await svc().show(params.key);
        return { arn: r.key.arn, policy: r.key.policy };
      },
    }),
    defineRoute({
      id: 'aws.keys.policy.put',
      method: 'PUT',
      url: '/aws/keys/:key/policy',
      access: CUSTODIAN,
      approval: 'aws.key.disable',
      tag: 'aws-keys',
      summary: 'Replace the key policy (validated as JSON); with preview=true only the diff is returned and nothing changes',
      description: 'A key policy can lock every caller out, so a put always falls under the aws.key.disable rule; an approved request is refused when the policy changed since it was filed.',
      params: keyParams,
      body: z.object({ policy: z.string().min(1).max(64 * 1024), preview: z.boolean().optional() }).strict(),
      responses: withResponses({ 200: awsPolicyPutView, 202: pendingApprovalView }),
      async handle(input) {
        input.audit.target = input.params.key;
        const d = await svc().policyDiff(input.params.key, input.body.policy);
        if (input.body.preview) {
          input.audit.change = { preview: true };
          return { applied: false, ...d };
        }
        input.audit.change = { bytes: d.after.length };
        return gated(deps, input, 'aws.key.policy-put', { key: input.params.key, policy: input.body.policy }, (r) => ({ applied: true, ...d, key: keyResult(r) }));
      },
    }),
    defineRoute({
      id: 'aws.keys.rotation',
      method: 'PUT',
      url: '/aws/keys/:key/rotation',
      access: CUSTODIAN,
      approval: { exempt: "turns KMS's automatic rotation on or off: older material keeps decrypting either way, nothing stops" },
      tag: 'aws-keys',
      summary: 'Automatic rotation in KMS (symmetric keys with KMS-made material), with its period',
      params: keyParams,
      body: z.object({ enabled: z.boolean(), periodDays: z.number().int().min(90).max(2560).optional() }).strict(),
      responses: withResponses({ 200: awsKeyView }),
      async handle({ params, body, audit }) {
        audit.target = params.key;
        return toAwsKeyView(await svc().setRotation(params.key, body.enabled, body.periodDays));
      },
    }),
    defineRoute({
      id: 'aws.keys.rotate',
      method: 'POST',
      url: '/aws/keys/:key/rotate',
      access: CUSTODIAN,
      approval: { rules: ['aws.key.disable'], when: 'disableOld is set: the old key stops serving' },
      tag: 'aws-keys',
      summary: 'A new native key with the same spec, tags and policy; the aliases move to it; the old key keeps decrypting unless disableOld',
      params: keyParams,
      body: z.object({ disableOld: z.boolean().optional() }).strict().nullish(),
      responses: withResponses({ 200: awsRotateResultView, 202: pendingApprovalView }),
      async handle(input) {
        input.audit.target = input.params.key;
        return gated(deps, input, 'aws.key.rotate', { key: input.params.key, disableOld: input.body?.disableOld ?? false }, (r) => {
          const x = r as { old: AwsKeyRecord; new: AwsKeyRecord; movedAliases: string[] };
          return { old: toAwsKeyView(x.old), new: toAwsKeyView(x.new), movedAliases: x.movedAliases };
        });
      },
    }),
    defineRoute({
      id: 'aws.keys.rotate-to-local',
      method: 'POST',
      url: '/aws/keys/:key/rotate-to-local',
      access: CUSTODIAN,
      approval: { rules: ['aws.key.disable'], when: 'disableOld is set (the old key stops serving) or the imported material is given an expiry (validTo)' },
      tag: 'aws-keys',
      summary: "Move a native key's aliases to a new imported key backed by an exportable local key (rotate to a key Keyhold holds); recorded as a link",
      params: keyParams,
      body: z.object({ localKey: keyIdParam, validTo: z.string().max(40).optional(), disableOld: z.boolean().optional() }).strict(),
      responses: withResponses({ 200: awsRotateToLocalView, 202: pendingApprovalView }),
      async handle(input) {
        input.audit.target = input.params.key;
        return gated(deps, input, 'aws.key.rotate-to-local', { key: input.params.key, localKey: input.body.localKey, validTo: input.body.validTo, disableOld: input.body.disableOld ?? false }, (r) => {
          const x = r as AwsKeyRotateToLocalResult;
          return { ...x, old: toAwsKeyView(x.old), new: toAwsKeyView(x.new), link: toCopy(x.link) };
        });
      },
    }),
    defineRoute({
      id: 'aws.keys.delete-material',
      method: 'POST',
      url: '/aws/keys/:key/delete-material',
      access: CUSTODIAN,
      approval: 'aws.key.disable',
      tag: 'aws-keys',
      summary: 'Delete the imported key material now (DeleteImportedKeyMaterial): the key is PendingImport and serves nothing until reimport',
      params: keyParams,
      responses: withResponses({ 200: awsKeyView, 202: pendingApprovalView }),
      async handle(input) {
        input.audit.target = input.params.key;
        return gated(deps, input, 'aws.key.delete-material', { key: input.params.key }, keyResult);
      },
    }),
    defineRoute({
      id: 'aws.keys.reimport',
      method: 'POST',
      url: '/aws/keys/:key/reimport',
      access: CUSTODIAN,
      approval: { rules: ['aws.key.disable'], when: 'the material is given an expiry (validTo): the AWS key stops working on that date' },
      tag: 'aws-keys',
      summary: "Import again the local key version recorded on the key's link (the same material, as KMS requires)",
      params: keyParams,
      body: z.object({ validTo: z.string().max(40).optional() }).strict().nullish(),
      responses: withResponses({ 200: awsReimportView, 202: pendingApprovalView }),
      async handle(input) {
        input.audit.target = input.params.key;
        return gated(deps, input, 'aws.key.reimport', { key: input.params.key, validTo: input.body?.validTo }, (r) => {
          const x = r as AwsKeyReimportResult;
          return { ...x, key: toAwsKeyView(x.key), link: toCopy(x.link) };
        });
      },
    }),
    defineRoute({
      id: 'aws.keys.forget',
      method: 'DELETE',
      url: '/aws/keys/:key',
      access: CUSTODIAN,
      approval: { exempt: "drops Keyhold's record only, and only of a key AWS deleted or is deleting; nothing changes in AWS" },
      tag: 'aws-keys',
      summary: "Drop Keyhold's record of a key AWS deleted (or is deleting)",
      params: keyParams,
      responses: withResponses({ 200: z.object({ forgotten: z.string() }) }),
      async handle({ params, audit }) {
        audit.target = params.key;
        return svc().forget(params.key);
      },
    }),
    defineRoute({
      id: 'keys.links',
      method: 'GET',
      url: '/keys/:keyId/links',
      access: READERS,
      tag: 'aws-keys',
      summary: "Where a local key's material went in AWS: copies, and the XKS keys backed by it",
      params: z.object({ keyId: keyIdParam }),
      responses: withResponses({ 200: awsKeyLinksView }),
      async handle({ params }) {
        const r = await svc().links(params.keyId);
        return { localKey: r.localKey, copies: r.copies.map((c) => ({ ...toCopy(c), awsKey: c.awsKey ? toAwsKeyView(c.awsKey) : null, superseded: c.superseded })), xksKeys: r.xksKeys.map(toAwsKeyView) };
      },
    }),
    defineRoute({
      id: 'keys.rotate-linked',
      method: 'POST',
      url: '/keys/:keyId/rotate-linked',
      access: CUSTODIAN,
      approval: { exempt: 'adds a local version and imports it into the linked AWS keys (in place, or a new key with the aliases moved); every older version and AWS key still decrypts' },
      tag: 'aws-keys',
      summary: 'Rotate a local key and bring the new material to each AWS key it was copied into',
      params: z.object({ keyId: keyIdParam }),
      body: z.object({ strategy: z.enum(['auto', 'in-place', 'new-key']).optional() }).strict().nullish(),
      responses: withResponses({ 200: rotateLinkedView }),
      async handle({ params, body, principal, audit }) {
        audit.target = params.keyId;
        return svc().rotateLinked(params.keyId, { strategy: body?.strategy, actor: principal.user.username });
      },
    }),
  ];
}
