import { z } from 'zod';
import { fail } from '../../base/index.js';
import { awsIamPolicy, AWS_ACTION_GROUPS, type AwsConnection, type AwsConnectionService } from '../../domain/index.js';
import { defineRoute, type AdminRoute } from '../route.js';
import { ERROR_RESPONSES, pendingApprovalView } from '../views.js';
import { gated, nameParam } from './common.js';
import type { RouteDeps } from './index.js';

const CUSTODIAN = ['custodian'] as const;
const READERS = ['custodian', 'auditor'] as const;
const iso = z.string().describe('ISO 8601 instant');
const region = z.string().min(1).max(32);

/** What the API shows of a connection: never the secret access key (write-only). */
export const awsConnectionView = z
  .object({
    id: z.string(),
    name: z.string(),
    region: z.string(),
    regions: z.array(z.string()),
    endpoint: z.string().nullable(),
    stsEndpoint: z.string().nullable(),
    caBundle: z.boolean().describe('a custom CA bundle is set'),
    accountId: z.string().nullable(),
    credentials: z.object({
      source: z.enum(['static', 'assume-role', 'default']),
      accessKeyId: z.string().nullable(),
      roleArn: z.string().nullable(),
      externalId: z.string().nullable(),
    }),
    createdAt: iso,
    updatedAt: iso,
  })
  .meta({ id: 'AwsConnection' });

export const toAwsConnectionView = (c: AwsConnection): z.output<typeof awsConnectionView> => ({
  id: c.id,
  name: c.name,
  region: c.region,
  regions: c.regions,
  endpoint: c.endpoint,
  stsEndpoint: c.stsEndpoint,
  caBundle: c.caPem !== null,
  accountId: c.accountId,
  credentials: { source: c.credentialSource, accessKeyId: c.accessKeyId, roleArn: c.roleArn, externalId: c.externalId },
  createdAt: c.createdAt,
  updatedAt: c.updatedAt,
});

const reason = z.enum(['dns', 'network', 'tls', 'credentials', 'clock-skew', 'permission', 'region', 'throttled', 'not-found', 'unsupported', 'invalid-request', 'service']);
export const awsConnectionTestView = z
  .object({
    connection: z.string(),
    region: z.string(),
    connected: z.boolean(),
    reason: reason.optional(),
    detail: z.string().optional(),
    identity: z.object({ account: z.string(), arn: z.string() }).optional(),
    groups: z.array(z.object({ group: z.enum(AWS_ACTION_GROUPS), actions: z.array(z.string()), ok: z.boolean(), reason: reason.optional(), detail: z.string().optional() })),
  })
  .meta({ id: 'AwsConnectionTest' });

/** Credentials in a request body: the secret is accepted here and never returned. */
const credentialsBody = z.discriminatedUnion('source', [
  z.object({ source: z.literal('static'), accessKeyId: z.string().min(16).max(128), secretAccessKey: z.string().min(16).max(128) }).strict(),
  z
    .object({
      source: z.literal('assume-role'),
      roleArn: z.string().min(20).max(2048),
      externalId: z.string().min(2).max(1224).optional(),
      accessKeyId: z.string().min(16).max(128).optional(),
      secretAccessKey: z.string().min(16).max(128).optional(),
    })
    .strict(),
  z.object({ source: z.literal('default') }).strict(),
]);
const settingsBody = {
  regions: z.array(region).max(40).optional(),
  endpoint: z.string().max(2048).nullable().optional(),
  stsEndpoint: z.string().max(2048).nullable().optional(),
  caPem: z.string().max(256 * 1024).nullable().optional().describe('PEM bundle trusted for the endpoints'),
  accountId: z.string().max(12).nullable().optional(),
};

export interface AwsAdminServices {
  connections: Pick<AwsConnectionService, 'list' | 'get' | 'delete' | 'test' | 'sealPending'>;
}

const connParams = z.object({ name: nameParam });

/** What an audit record keeps of a connection request: the secret is left out. */
function changeOf(body: { credentials?: { source: string; accessKeyId?: string | undefined; roleArn?: string } | undefined } & Record<string, unknown>) {
  const { credentials, caPem, ...rest } = body;
  return {
    ...rest,
    ...(caPem !== undefined ? { caBundle: caPem !== null } : {}),
    ...(credentials ? { credentials: { source: credentials.source, accessKeyId: credentials.accessKeyId, roleArn: credentials.roleArn } } : {}),
  };
}

/** AWS connections (docs/aws.md). Adding or changing one can require approvals. */
export function awsRoutes(deps: RouteDeps): AdminRoute[] {
  const aws = () => {
    const a = deps.services.aws;
    return a ?? fail('Unsupported', 'this server has no AWS plane');
  };
  return [
    defineRoute({
      id: 'aws.connections.list',
      method: 'GET',
      url: '/aws/connections',
      access: READERS,
      tag: 'aws',
      summary: 'List AWS connections (secrets are write-only and never shown)',
      responses: { 200: z.array(awsConnectionView), ...ERROR_RESPONSES },
      async handle() {
        return (await aws().connections.list()).map(toAwsConnectionView);
      },
    }),
    defineRoute({
      id: 'aws.connections.create',
      method: 'POST',
      url: '/aws/connections',
      access: CUSTODIAN,
      approval: 'aws.connection.add',
      tag: 'aws',
      summary: 'Add an AWS connection; it is saved even when it cannot connect yet',
      description: 'A static secretAccessKey is sealed at once (also while the request waits for approvals) and never returned by any route.',
      body: z.object({ name: nameParam, region, ...settingsBody, credentials: credentialsBody }).strict(),
      responses: { 200: awsConnectionView, 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        input.audit.target = input.body.name;
        input.audit.change = changeOf(input.body);
        const sealed = await aws().connections.sealPending(input.body);
        return gated(deps, input, 'aws.connection.add', { input: sealed }, (r) => toAwsConnectionView(r as AwsConnection));
      },
    }),
    defineRoute({
      id: 'aws.connections.get',
      method: 'GET',
      url: '/aws/connections/:name',
      access: READERS,
      tag: 'aws',
      summary: 'Show an AWS connection',
      params: connParams,
      responses: { 200: awsConnectionView, ...ERROR_RESPONSES },
      async handle({ params }) {
        return toAwsConnectionView(await aws().connections.get(params.name));
      },
    }),
    defineRoute({
      id: 'aws.connections.update',
      method: 'PATCH',
      url: '/aws/connections/:name',
      access: CUSTODIAN,
      approval: 'aws.connection.update',
      tag: 'aws',
      summary: 'Change an AWS connection (Regions, endpoints, CA, account, credentials)',
      params: connParams,
      body: z.object({ region: region.optional(), ...settingsBody, credentials: credentialsBody.optional() }).strict(),
      responses: { 200: awsConnectionView, 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        input.audit.change = changeOf(input.body);
        const sealed = await aws().connections.sealPending(input.body);
        return gated(deps, input, 'aws.connection.update', { connection: input.params.name, patch: sealed }, (r) => toAwsConnectionView(r as AwsConnection));
      },
    }),
    defineRoute({
      id: 'aws.connections.delete',
      method: 'DELETE',
      url: '/aws/connections/:name',
      access: CUSTODIAN,
      tag: 'aws',
      summary: 'Delete an AWS connection that no key store or key is linked through',
      params: connParams,
      responses: { 200: z.object({ deleted: z.string() }), ...ERROR_RESPONSES },
      async handle({ params }) {
        await aws().connections.delete(params.name);
        return { deleted: params.name };
      },
    }),
    defineRoute({
      id: 'aws.connections.test',
      method: 'POST',
      url: '/aws/connections/:name/test',
      access: CUSTODIAN,
      tag: 'aws',
      summary: 'Try the connection: identity, then one harmless call per KMS action group',
      params: connParams,
      body: z.object({ region: region.optional() }).strict().optional(),
      responses: { 200: awsConnectionTestView, ...ERROR_RESPONSES },
      async handle({ params, body }) {
        return aws().connections.test(params.name, body?.region);
      },
    }),
    defineRoute({
      id: 'aws.iam-policy',
      method: 'GET',
      url: '/aws/iam-policy',
      access: READERS,
      tag: 'aws',
      summary: 'The IAM policy a connection needs (optionally for one connection: its account and Regions)',
      query: z.object({ connection: nameParam.optional() }).strict(),
      responses: { 200: z.object({ Version: z.string(), Statement: z.array(z.record(z.string(), z.unknown())) }).meta({ id: 'IamPolicy' }), ...ERROR_RESPONSES },
      async handle({ query }) {
        if (!query.connection) return awsIamPolicy();
        const c = await aws().connections.get(query.connection);
        return awsIamPolicy({ accountId: c.accountId, regions: c.regions });
      },
    }),
  ];
}
