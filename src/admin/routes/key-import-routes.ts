import { z } from 'zod';
import { decodeBase64Strict, fail } from '../../base/index.js';
import { parseUsage } from '../../domain/index.js';
import { defineRoute, type AdminRoute } from '../route.js';
import { ERROR_RESPONSES, keyView, toKeyView } from '../views.js';
import { EXEMPT, keyIdParam, nameParam } from './common.js';
import type { RouteDeps } from './index.js';

/**
 * Bring your own key, local side: a new software key from material the operator holds. The
 * material travels Base64 in the body (its field is redacted from the audit record), is
 * sealed at once, and is never returned.
 */
export function keyImportRoutes(deps: RouteDeps): AdminRoute[] {
  const { keys, keyStores } = deps.services;
  return [
    defineRoute({
      id: 'keys.import',
      approval: EXEMPT.adds,
      method: 'POST',
      url: '/keys/import',
      access: ['custodian'],
      tag: 'keys',
      summary: 'Create a software key from existing material (32 bytes, or an RFC 5649 wrap under another key)',
      body: z
        .object({
          keyId: keyIdParam,
          keyStore: nameParam,
          material: z.string().min(1).max(1024).describe('Base64 of the 32 bytes, or of their RFC 5649 wrap when wrappedWith is given'),
          wrappedWith: keyIdParam.optional().describe('the local key whose current version unwraps material'),
          exportable: z.boolean().optional(),
          usage: z.array(z.enum(['encrypt', 'decrypt'])).max(2).optional(),
          description: z.string().max(8192).optional(),
          tags: z.record(z.string().min(1).max(128), z.string().max(256)).optional(),
        })
        .strict(),
      responses: { 200: keyView, ...ERROR_RESPONSES },
      async handle({ body, audit }) {
        audit.target = body.keyId;
        const material = decodeBase64Strict(body.material) ?? fail('ValidationFailed', 'material must be Base64');
        const { keyId, keyStore, material: _m, usage, ...rest } = body;
        const k = await keys.importKey({ externalId: keyId, keyStore, material, ...(usage ? { usage: parseUsage(usage) } : {}), ...rest });
        const ks = await keyStores.get(k.keyStoreId).catch(() => undefined);
        return toKeyView(k, ks?.name ?? k.keyStoreId, deps.clock.now());
      },
    }),
  ];
}
