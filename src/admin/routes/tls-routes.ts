import { z } from 'zod';
import { defineRoute, type AdminRoute } from '../route.js';
import { ERROR_RESPONSES, pendingApprovalView } from '../views.js';
import { okView, gated } from './common.js';
import type { RouteDeps } from './deps.js';

const certificateView = z.object({ subject: z.string(), issuer: z.string(), dnsNames: z.array(z.string()), notAfter: z.string(), fingerprint256: z.string() });

interface TlsOps {
  install(certPem: string, keyPem: string): Promise<z.output<typeof certificateView>>;
  remove(): Promise<void>;
  status(): Promise<{ installed: z.output<typeof certificateView> | null }>;
}

/**
 * The XKS certificate every node serves, its private key sealed in storage. Installing and
 * removing it fall under the `tls.change` approval rule: a certificate KMS does not accept
 * stops every handshake.
 */
export function tlsRoutes({ tls, approvals }: { tls: Pick<TlsOps, 'status'>; approvals: RouteDeps['services']['approvals'] }): AdminRoute[] {
  const deps = { services: { approvals } } as RouteDeps;
  return [
    defineRoute({
      id: 'tls.status',
      method: 'GET',
      url: '/tls',
      access: ['administrator', 'custodian', 'auditor'],
      tag: 'tls',
      summary: 'The XKS certificate installed for the cluster (null: each node serves its certificate files)',
      responses: { 200: z.object({ installed: certificateView.nullable() }), ...ERROR_RESPONSES },
      async handle() {
        return tls.status();
      },
    }),
    defineRoute({
      id: 'tls.install',
      approval: 'tls.change',
      method: 'PUT',
      url: '/tls',
      access: ['administrator'],
      tag: 'tls',
      summary: 'Install the XKS certificate (with its chain) and private key for every node; the key is sealed in storage',
      description:
        'Every node serves the pair from its next TLS handshake, within seconds. Only the fingerprint is recorded. Under the tls.change approval rule (202 with the request): the waiting request keeps the key sealed.',
      body: z.object({ certificatePem: z.string().min(1).max(65536), privateKeyPem: z.string().min(1).max(65536) }).strict(),
      responses: { 200: certificateView, 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        input.audit.change = {};
        return gated(deps, input, 'tls.install', { certificatePem: input.body.certificatePem, privateKeyPem: input.body.privateKeyPem }, (r) => {
          const c = r as z.output<typeof certificateView>;
          input.audit.change = { fingerprint256: c.fingerprint256, notAfter: c.notAfter };
          return c;
        });
      },
    }),
    defineRoute({
      id: 'tls.remove',
      approval: 'tls.change',
      method: 'DELETE',
      url: '/tls',
      access: ['administrator'],
      tag: 'tls',
      summary: 'Remove the installed certificate: every node serves its certificate files again',
      responses: { 200: okView, 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        return gated(deps, input, 'tls.remove', {}, () => ({ ok: true as const }));
      },
    }),
  ];
}
