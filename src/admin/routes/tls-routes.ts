import { z } from 'zod';
import { defineRoute, type AdminRoute } from '../route.js';
import { ERROR_RESPONSES } from '../views.js';
import { okView } from './common.js';

const certificateView = z.object({ subject: z.string(), issuer: z.string(), dnsNames: z.array(z.string()), notAfter: z.string(), fingerprint256: z.string() });

interface TlsOps {
  install(certPem: string, keyPem: string): Promise<z.output<typeof certificateView>>;
  remove(): Promise<void>;
  status(): Promise<{ installed: z.output<typeof certificateView> | null }>;
}

/** The XKS certificate every node serves, its private key sealed in storage. */
export function tlsRoutes({ tls }: { tls: TlsOps }): AdminRoute[] {
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
      // Not yet under a rule: a pair is refused unless its key belongs to a certificate valid now, but
      // a certificate for the wrong name would still stop KMS's handshakes (an open item).
      approval: { exempt: 'checked before anything changes (the key must belong to a certificate that is valid now); administrators only' },
      method: 'PUT',
      url: '/tls',
      access: ['administrator'],
      tag: 'tls',
      summary: 'Install the XKS certificate (with its chain) and private key for every node; the key is sealed in storage',
      description: 'Every node serves the pair from its next TLS handshake, within seconds. Only the fingerprint is recorded.',
      body: z.object({ certificatePem: z.string().min(1).max(65536), privateKeyPem: z.string().min(1).max(65536) }).strict(),
      responses: { 200: certificateView, ...ERROR_RESPONSES },
      async handle({ body, audit }) {
        audit.change = {};
        const c = await tls.install(body.certificatePem, body.privateKeyPem);
        audit.change = { fingerprint256: c.fingerprint256, notAfter: c.notAfter };
        return c;
      },
    }),
    defineRoute({
      id: 'tls.remove',
      approval: { exempt: 'every node goes back to the certificate files it was started with; administrators only' },
      method: 'DELETE',
      url: '/tls',
      access: ['administrator'],
      tag: 'tls',
      summary: 'Remove the installed certificate: every node serves its certificate files again',
      responses: { 200: okView, ...ERROR_RESPONSES },
      async handle() {
        await tls.remove();
        return { ok: true as const };
      },
    }),
  ];
}
