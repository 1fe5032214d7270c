import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { fail } from '../base/index.js';
import type { SealContext } from '../crypto/index.js';
import { always, spec, type ApprovalActionSpec } from './approval-spec.js';
import type { Seal } from './ports.js';

/** The cluster's XKS certificate (installed in storage, served by every node). */
export interface TlsCertificateOps {
  /** Refuses a pair that would not install: not a certificate, a key of another one, expired. */
  check(certPem: string, keyPem: string): Promise<void>;
  install(certPem: string, keyPem: string): Promise<unknown>;
  remove(): Promise<void>;
}

const MAX_PEM = 64 * 1024;
const pendingKey = z.object({ id: z.string().uuid(), sealed: z.string().max(2 * MAX_PEM) }).strict();
const pendingContext = (id: string): SealContext => ({ table: 'approval_requests', id, column: 'tls-key' });

/**
 * Installing or removing the XKS certificate can stop every KMS handshake (a certificate for
 * another name, or back to files KMS does not trust): both fall under the `tls.change` rule.
 * A request that waits keeps the private key sealed (bind seals it, run unseals it), never
 * in clear: the request's parameters are stored and listed.
 */
export function tlsApprovalActions(tls: { ops: TlsCertificateOps; seal: Seal } | undefined): Record<'tls.install' | 'tls.remove', ApprovalActionSpec> {
  const has = () => tls ?? fail('Unsupported', 'this process cannot change the XKS certificate');
  const svc = () => has().ops;
  async function unseal(p: z.infer<typeof pendingKey>): Promise<string> {
    const buf = await has().seal.unseal(Buffer.from(p.sealed, 'base64'), pendingContext(p.id));
    try {
      return buf.toString('utf8');
    } finally {
      buf.fill(0);
    }
  }
  const params = z.object({ certificatePem: z.string().min(1).max(MAX_PEM), privateKeyPem: z.string().min(1).max(MAX_PEM).optional(), pendingKey: pendingKey.optional() });
  return {
    'tls.install': spec(params, {
      async bind(p) {
        if (p.privateKeyPem === undefined) return p.pendingKey ? p : fail('ValidationFailed', 'privateKeyPem is required');
        await svc().check(p.certificatePem, p.privateKeyPem);
        const id = randomUUID();
        const sealed = (await has().seal.seal(Buffer.from(p.privateKeyPem, 'utf8'), pendingContext(id))).toString('base64');
        return { certificatePem: p.certificatePem, pendingKey: { id, sealed } };
      },
      rules: always('tls.change'),
      summary: () => 'install a new XKS certificate and key for every node (served from the next handshake)',
      async check(p) {
        if (!p.pendingKey) fail('ValidationFailed', 'the request holds no sealed private key');
      },
      async run(p) {
        if (!p.pendingKey) fail('ValidationFailed', 'the request holds no sealed private key');
        return svc().install(p.certificatePem, await unseal(p.pendingKey));
      },
    }),
    'tls.remove': spec(z.object({}), {
      bind: async (p) => p,
      rules: always('tls.change'),
      summary: () => 'remove the installed XKS certificate (every node serves its certificate files again)',
      check: async () => undefined,
      async run() {
        await svc().remove();
        return { ok: true as const };
      },
    }),
  };
}
