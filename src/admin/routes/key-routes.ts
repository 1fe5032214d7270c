import { z } from 'zod';
import { fail } from '../../base/index.js';
import { parseUsage, type Key } from '../../domain/index.js';
import { defineRoute, type AdminRoute } from '../route.js';
import { ERROR_RESPONSES, keyDetailView, keyView, pendingApprovalView, toKeyVersionView, toKeyView } from '../views.js';
import { EXEMPT, gated, keyIdParam, nameParam } from './common.js';
import type { RouteDeps } from './deps.js';

const CUSTODIAN = ['custodian'] as const;
const READERS = ['custodian', 'auditor'] as const;
const keyParams = z.object({ keyId: keyIdParam });
const usage = z.array(z.enum(['encrypt', 'decrypt'])).max(2);
const lifecycle = {
  description: z.string().max(8192).optional(),
  tags: z.record(z.string().min(1).max(128), z.string().max(256)).optional(),
  rotationPeriodDays: z.number().int().min(1).max(3650).nullable().optional().describe('automatic rotation every N days; null turns it off'),
  expiresAt: z.string().max(40).nullable().optional().describe('ISO 8601; after it encrypt is refused and decrypt still works'),
};

/** Keys: creation, lifecycle (rotation schedule, expiry, scheduled deletion) and versions. */
export function keyRoutes(deps: RouteDeps): AdminRoute[] {
  const { keys, keyStores } = deps.services;
  const now = () => deps.clock.now();

  async function view(k: Key) {
    const ks = await keyStores.get(k.keyStoreId).catch(() => undefined);
    return toKeyView(k, ks?.name ?? k.keyStoreId, now());
  }

  return [
    defineRoute({
      id: 'keys.list',
      method: 'GET',
      url: '/keys',
      access: READERS,
      tag: 'keys',
      summary: 'List keys',
      query: z.object({ keyStore: nameParam.optional() }).strict(),
      responses: { 200: z.array(keyView), ...ERROR_RESPONSES },
      async handle({ query }) {
        const names = new Map((await keyStores.list()).map((ks) => [ks.id, ks.name]));
        return (await keys.list(query.keyStore)).map((k) => toKeyView(k, names.get(k.keyStoreId) ?? k.keyStoreId, now()));
      },
    }),
    defineRoute({
      id: 'keys.create',
      method: 'POST',
      url: '/keys',
      access: CUSTODIAN,
      approval: EXEMPT.adds,
      tag: 'keys',
      summary: 'Create an AES-256 key',
      body: z
        .object({
          keyId: keyIdParam,
          keyStore: nameParam,
          usage: usage.optional(),
          protection: z.enum(['software', 'hsm']).optional(),
          exportable: z.boolean().optional().describe('the material may be copied into AWS KMS; off by default and cannot be turned on later'),
          ...lifecycle,
        })
        .strict(),
      responses: { 200: keyView, ...ERROR_RESPONSES },
      async handle({ body, audit }) {
        audit.target = body.keyId;
        const { keyId, keyStore, usage: u, ...rest } = body;
        return view(await keys.create({ externalId: keyId, keyStore, ...(u ? { usage: parseUsage(u) } : {}), ...rest }));
      },
    }),
    defineRoute({
      id: 'keys.adopt',
      method: 'POST',
      url: '/keys/adopt',
      access: CUSTODIAN,
      approval: EXEMPT.adds,
      tag: 'keys',
      summary: 'Serve an existing HSM key, found by its PKCS#11 label, as a key (version 1)',
      body: z
        .object({
          label: z.string().min(1).max(128),
          keyStore: nameParam,
          keyId: keyIdParam.optional(),
          usage: usage.optional(),
          aadLayout: z.enum(['keyhold-v1', 'sample-proxy']).optional(),
        })
        .strict(),
      responses: { 200: z.object({ key: keyView, warnings: z.array(z.string()) }).meta({ id: 'AdoptedKey' }), ...ERROR_RESPONSES },
      async handle({ body, audit }) {
        audit.target = body.keyId ?? body.label;
        const r = await keys.adopt({
          label: body.label,
          keyStore: body.keyStore,
          externalId: body.keyId,
          ...(body.usage ? { usage: parseUsage(body.usage) } : {}),
          ...(body.aadLayout ? { aadLayout: body.aadLayout } : {}),
        });
        return { key: await view(r.key), warnings: r.warnings };
      },
    }),
    defineRoute({
      id: 'keys.get',
      method: 'GET',
      url: '/keys/:keyId',
      access: READERS,
      tag: 'keys',
      summary: 'Show a key and its versions',
      params: keyParams,
      responses: { 200: keyDetailView, ...ERROR_RESPONSES },
      async handle({ params }) {
        const k = await keys.get(params.keyId);
        return { ...(await view(k)), versions: (await keys.versions(params.keyId)).map(toKeyVersionView) };
      },
    }),
    defineRoute({
      id: 'keys.update',
      method: 'PATCH',
      url: '/keys/:keyId',
      access: CUSTODIAN,
      approval: { rules: ['key.disable'], when: 'the usage loses encrypt or decrypt, or an expiry is set where there was none or moved earlier (the key stops serving, as if disabled)' },
      tag: 'keys',
      summary: 'Change description, tags, usage, rotation schedule or expiry',
      description: 'A change that stops or narrows service (usage narrowed or none, an earlier expiry) falls under the key.disable approval rule and answers 202 when one is set.',
      params: keyParams,
      body: z.object({ usage: usage.optional(), ...lifecycle }).strict(),
      responses: { 200: keyView, 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        const { usage: u, ...rest } = input.body;
        if (u === undefined && Object.keys(rest).length === 0) fail('ValidationFailed', 'nothing to change');
        if (u !== undefined) parseUsage(u);
        return gated(deps, input, 'key.update', { keyId: input.params.keyId, ...(u !== undefined ? { usage: u } : {}), ...rest }, (r) => view(r as Key));
      },
    }),
    defineRoute({
      id: 'keys.enable',
      method: 'POST',
      url: '/keys/:keyId/enable',
      access: CUSTODIAN,
      approval: EXEMPT.restores,
      tag: 'keys',
      summary: 'Enable a key',
      params: keyParams,
      responses: { 200: keyView, ...ERROR_RESPONSES },
      async handle({ params }) {
        return view(await keys.setEnabled(params.keyId, true));
      },
    }),
    defineRoute({
      id: 'keys.disable',
      method: 'POST',
      url: '/keys/:keyId/disable',
      access: CUSTODIAN,
      approval: 'key.disable',
      tag: 'keys',
      summary: 'Disable a key: encrypt and decrypt answer InvalidStateException',
      params: keyParams,
      responses: { 200: keyView, 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        return gated(deps, input, 'key.disable', { keyId: input.params.keyId }, (r) => view(r as Key));
      },
    }),
    defineRoute({
      id: 'keys.rotate',
      method: 'POST',
      url: '/keys/:keyId/rotate',
      access: CUSTODIAN,
      approval: { exempt: 'adds a version; every older version still decrypts' },
      tag: 'keys',
      summary: 'Add a key version; new encryptions use it, older versions still decrypt',
      params: keyParams,
      responses: { 200: keyView, ...ERROR_RESPONSES },
      async handle({ params }) {
        return view(await keys.rotate(params.keyId));
      },
    }),
    defineRoute({
      id: 'keys.schedule-deletion',
      method: 'POST',
      url: '/keys/:keyId/schedule-deletion',
      access: CUSTODIAN,
      approval: 'key.schedule-deletion',
      tag: 'keys',
      summary: 'Schedule destruction after 7-30 days (default 30); the key stops serving at once',
      description:
        'Like KMS ScheduleKeyDeletion: while pending, XKS calls answer InvalidStateException and the deletion can be cancelled. After the waiting period the material is destroyed and the key answers KeyNotFoundException.',
      params: keyParams,
      body: z.object({ pendingWindowInDays: z.number().int().min(7).max(30).optional() }).strict().nullish(),
      responses: { 200: keyView, 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        const days = input.body?.pendingWindowInDays;
        return gated(deps, input, 'key.schedule-deletion', { keyId: input.params.keyId, ...(days !== undefined ? { pendingWindowInDays: days } : {}) }, (r) => view(r as Key));
      },
    }),
    defineRoute({
      id: 'keys.cancel-deletion',
      method: 'POST',
      url: '/keys/:keyId/cancel-deletion',
      access: CUSTODIAN,
      approval: { exempt: 'ends a pending deletion; the key comes back Disabled, so nothing that served stops' },
      tag: 'keys',
      summary: 'Cancel a scheduled deletion; the key comes back Disabled (as in KMS)',
      params: keyParams,
      responses: { 200: keyView, ...ERROR_RESPONSES },
      async handle({ params }) {
        return view(await keys.cancelDeletion(params.keyId));
      },
    }),
    defineRoute({
      id: 'keys.versions.delete',
      method: 'DELETE',
      url: '/keys/:keyId/versions/:version',
      access: CUSTODIAN,
      approval: 'key.delete-version',
      tag: 'keys',
      summary: 'Destroy one non-current key version; its ciphertexts can no longer be decrypted',
      params: z.object({ keyId: keyIdParam, version: z.coerce.number().int().min(1).max(1_000_000) }),
      responses: { 200: keyView, 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        return gated(deps, input, 'key.delete-version', { keyId: input.params.keyId, version: input.params.version }, (r) => view(r as Key));
      },
    }),
  ];
}
