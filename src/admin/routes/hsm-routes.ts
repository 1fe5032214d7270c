import { z } from 'zod';
import { fail } from '../../base/index.js';
import { defineRoute, type AdminRoute } from '../route.js';
import { ERROR_RESPONSES } from '../views.js';
import { okView } from './common.js';
import type { RouteDeps } from './deps.js';

/** The PKCS#11 token and the import from the AWS sample proxy. */
export function hsmRoutes({ services }: RouteDeps): AdminRoute[] {
  const hsm = () => services.hsm ?? fail('Unsupported', 'this server has no [hsm] section (see docs/hsm.md)');
  return [
    defineRoute({
      id: 'hsm.status',
      method: 'GET',
      url: '/hsm',
      access: ['administrator', 'custodian', 'auditor'],
      tag: 'hsm',
      summary: 'Token, capability profile, sessions, and a test encryption on the health key',
      responses: { 200: z.looseObject({}), ...ERROR_RESPONSES },
      async handle() {
        return hsm().status();
      },
    }),
    defineRoute({
      id: 'hsm.set-pin',
      method: 'PUT',
      url: '/hsm/pin',
      // The PIN unlocks the key material in the token: custody, not administration.
      access: ['custodian'],
      // A pending request would have to hold the PIN, a secret, until it is approved.
      approval: { exempt: 'stores the PIN for the next start; a secret cannot wait in a pending request, and what is served now does not change' },
      tag: 'hsm',
      summary: 'Store the token user PIN sealed in storage (for hsm.pin_sealed = true)',
      body: z.object({ pin: z.string().min(1).max(256) }).strict(),
      responses: { 200: okView, ...ERROR_RESPONSES },
      async handle({ body, audit }) {
        audit.change = {};
        await hsm().setPin(body.pin);
        return { ok: true as const };
      },
    }),
    defineRoute({
      id: 'import.sample-proxy-config',
      method: 'POST',
      url: '/import/sample-proxy-config',
      access: ['custodian'],
      approval: { exempt: 'only adds key stores, credentials and keys; what exists is skipped, never changed' },
      tag: 'hsm',
      summary: "Import the AWS sample XKS proxy's settings.toml: key stores, credentials, and its HSM keys by label",
      description: 'The report lists new credentials once (issuedCredentials). The file itself holds SigV4 secrets, so only its size is recorded.',
      body: z.object({ text: z.string().min(1).max(1024 * 1024), dryRun: z.boolean().optional() }).strict(),
      responses: { 200: z.looseObject({}), ...ERROR_RESPONSES },
      async handle({ body, audit }) {
        audit.change = { dryRun: body.dryRun ?? false, bytes: Buffer.byteLength(body.text) };
        if (!services.importSampleProxyConfig) fail('Unsupported', 'this server cannot import sample proxy settings');
        return services.importSampleProxyConfig(body.text, { dryRun: body.dryRun ?? false });
      },
    }),
  ];
}
