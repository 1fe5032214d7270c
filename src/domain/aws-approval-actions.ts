import { z } from 'zod';
import { fail } from '../base/index.js';
import type { ApprovalActionSpec } from './approval-actions.js';
import { spec } from './approval-actions.js';
import type { AwsConnectionInput, AwsConnectionPatch, AwsConnectionService } from './aws-connection-service.js';
import { NAME_RE } from './validation.js';

const pendingSecret = z.object({ id: z.string().uuid(), sealed: z.string().max(4096) }).strict();
const credentials = z.discriminatedUnion('source', [
  z.object({ source: z.literal('static'), accessKeyId: z.string().max(128), pendingSecret }).strict(),
  z.object({ source: z.literal('assume-role'), roleArn: z.string().max(2048), externalId: z.string().max(1224).optional(), accessKeyId: z.string().max(128).optional(), pendingSecret: pendingSecret.optional() }).strict(),
  z.object({ source: z.literal('default') }).strict(),
]);
const settings = {
  region: z.string().max(32),
  regions: z.array(z.string().max(32)).max(40).optional(),
  endpoint: z.string().max(2048).nullable().optional(),
  stsEndpoint: z.string().max(2048).nullable().optional(),
  caPem: z.string().max(256 * 1024).nullable().optional(),
  accountId: z.string().max(12).nullable().optional(),
};
const connection = z.string().regex(NAME_RE);

/**
 * Adding or changing an AWS connection can wait for M-of-N approvals. The request keeps a
 * static secret sealed (AwsConnectionService.sealPending), never in clear.
 */
export function awsApprovalActions(aws: AwsConnectionService | undefined): Record<'aws.connection.add' | 'aws.connection.update', ApprovalActionSpec> {
  const svc = () => aws ?? fail('Unsupported', 'this process has no AWS plane');
  return {
    'aws.connection.add': spec(z.object({ input: z.object({ name: connection, ...settings, credentials }).strict() }), {
      summary: (p) => `add AWS connection '${p.input.name}' (${p.input.region}, ${p.input.credentials.source} credentials)`,
      async check(p) {
        if ((await svc().list()).some((c) => c.name === p.input.name)) fail('Conflict', `AWS connection '${p.input.name}' already exists`);
      },
      run: (p) => svc().create(p.input as AwsConnectionInput),
    }),
    'aws.connection.update': spec(z.object({ connection, patch: z.object({ ...settings, region: settings.region.optional(), credentials: credentials.optional() }).strict() }), {
      summary: (p) => `change AWS connection '${p.connection}'${p.patch.credentials ? ` (new ${p.patch.credentials.source} credentials)` : ''}`,
      check: async (p) => void (await svc().get(p.connection)),
      run: (p) => svc().update(p.connection, p.patch as AwsConnectionPatch),
    }),
  };
}
