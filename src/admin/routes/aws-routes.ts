import { z } from 'zod';
import { fail } from '../../base/index.js';
import { awsIamPolicy, AWS_ACTION_GROUPS, type AwsConnection, type KeyAwsLink } from '../../domain/index.js';
import { defineRoute, type AdminRoute } from '../route.js';
import { ERROR_RESPONSES, pendingApprovalView } from '../views.js';
import { EXEMPT, gated, keyIdParam, nameParam } from './common.js';
import type { RouteDeps } from './deps.js';

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

const reason = z.enum(['dns', 'network', 'tls', 'credentials', 'clock-skew', 'permission', 'region', 'throttled', 'not-found', 'conflict', 'unsupported', 'invalid-request', 'service']);
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

export const keyStoreInAwsView = z
  .object({
    keyStore: z.string(),
    region: z.string(),
    customKeyStoreId: z.string(),
    customKeyStoreName: z.string(),
    connectionState: z.string(),
    connectionErrorCode: z.string().nullable(),
    hint: z.string().nullable().describe('what to fix for the ConnectionErrorCode'),
    waitedMs: z.number(),
  })
  .meta({ id: 'KeyStoreInAws' });

export const keyStoreAwsStatusView = z
  .object({
    keyStore: z.string(),
    linked: z.boolean(),
    connection: z.string().nullable(),
    region: z.string().nullable(),
    customKeyStoreId: z.string().nullable(),
    customKeyStoreName: z.string().nullable(),
    endpoint: z.string().nullable(),
    connectionState: z.string().nullable(),
    connectionErrorCode: z.string().nullable(),
    hint: z.string().nullable(),
    awsAccessKeyId: z.string().nullable(),
    kmsKeys: z.number().nullable(),
    kmsKeysCountComplete: z.boolean(),
    linkedKeys: z.number(),
  })
  .meta({ id: 'KeyStoreAwsStatus' });

export const keyAwsLinkView = z.object({ keyId: z.string(), region: z.string(), kmsKeyArn: z.string(), alias: z.string().nullable(), createdAt: iso }).meta({ id: 'KeyAwsLink' });
const awsKeyResultView = z.object({ keyId: z.string(), kmsKeyArn: z.string(), alias: z.string().nullable(), aliasError: z.string().optional() }).meta({ id: 'AwsKeyCreated' });

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
      approval: { exempt: 'removes Keyhold\'s access to an AWS account only; a connection that key stores or keys are linked to cannot be deleted, and nothing Keyhold serves changes' },
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
      approval: { exempt: 'only reads from AWS with the connection; changes nothing' },
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
    defineRoute({
      id: 'aws.keystores.create',
      approval: EXEMPT.adds,
      method: 'POST',
      url: '/aws/keystores/:name',
      access: CUSTODIAN,
      tag: 'aws',
      summary: "Create the key store's custom key store in AWS KMS (CreateCustomKeyStore, ConnectCustomKeyStore) and wait for CONNECTED",
      description: 'Waits up to waitSeconds (default 600) for the connection attempt; a FAILED state comes back with its ConnectionErrorCode and what to fix.',
      params: connParams,
      body: z
        .object({
          connection: nameParam,
          endpoint: z.string().max(200),
          region: region.optional(),
          vpcEndpointServiceName: z.string().max(64).optional(),
          awsName: z.string().max(256).optional(),
          waitSeconds: z.number().int().min(0).max(1800).optional(),
        })
        .strict(),
      responses: { 200: keyStoreInAwsView, ...ERROR_RESPONSES },
      async handle({ params, body }) {
        const { waitSeconds, ...o } = body;
        return aws().xks.createKeyStore(params.name, { ...o, waitMs: waitSeconds === undefined ? undefined : waitSeconds * 1000 });
      },
    }),
    defineRoute({
      id: 'aws.keystores.status',
      method: 'GET',
      url: '/aws/keystores/:name',
      access: READERS,
      tag: 'aws',
      summary: "The custom key store's connection state in AWS, its error code, and the number of KMS keys in it",
      params: connParams,
      responses: { 200: keyStoreAwsStatusView, ...ERROR_RESPONSES },
      async handle({ params }) {
        return aws().xks.status(params.name);
      },
    }),
    defineRoute({
      id: 'aws.keystores.connect',
      approval: EXEMPT.restores,
      method: 'POST',
      url: '/aws/keystores/:name/connect',
      access: CUSTODIAN,
      tag: 'aws',
      summary: 'Connect the custom key store again (a FAILED one is disconnected first) and wait',
      params: connParams,
      body: z.object({ waitSeconds: z.number().int().min(0).max(1800).optional() }).strict().optional(),
      responses: { 200: keyStoreInAwsView, ...ERROR_RESPONSES },
      async handle({ params, body }) {
        return aws().xks.connect(params.name, { waitMs: body?.waitSeconds === undefined ? undefined : body.waitSeconds * 1000 });
      },
    }),
    defineRoute({
      id: 'aws.keys.create',
      approval: EXEMPT.adds,
      method: 'POST',
      url: '/keys/:keyId/aws',
      access: CUSTODIAN,
      tag: 'aws',
      summary: 'Create the KMS key for a Keyhold key (Origin EXTERNAL_KEY_STORE, XksKeyId = the key id), its key policy and alias',
      params: z.object({ keyId: keyIdParam }),
      body: z
        .object({ alias: z.string().max(256).optional(), admins: z.array(z.string().max(2048)).max(50).optional(), users: z.array(z.string().max(2048)).max(50).optional(), description: z.string().max(8192).optional() })
        .strict()
        .optional(),
      responses: { 200: awsKeyResultView, ...ERROR_RESPONSES },
      async handle({ params, body }) {
        return aws().xks.createAwsKey(params.keyId, body ?? {});
      },
    }),
    defineRoute({
      id: 'aws.keys.get',
      method: 'GET',
      url: '/keys/:keyId/aws',
      access: READERS,
      tag: 'aws',
      summary: 'The KMS key made for a Keyhold key (404 when none)',
      params: z.object({ keyId: keyIdParam }),
      responses: { 200: keyAwsLinkView, ...ERROR_RESPONSES },
      async handle({ params }) {
        const l = await aws().xks.keyLink(params.keyId);
        if (!l) fail('NotFound', `key '${params.keyId}' has no KMS key`);
        return { ...toLinkView(l), keyId: params.keyId };
      },
    }),
    defineRoute({
      id: 'aws.keys.list',
      method: 'GET',
      url: '/aws/key-links',
      access: READERS,
      tag: 'aws',
      summary: 'Every KMS key made for a Keyhold key (keyId is the internal key id; see /keys for external ids)',
      responses: { 200: z.array(keyAwsLinkView.extend({ internalKeyId: z.string() })), ...ERROR_RESPONSES },
      async handle() {
        return (await aws().xks.listKeyLinks()).map((l) => ({ ...toLinkView(l), internalKeyId: l.keyId }));
      },
    }),
  ];
}

const toLinkView = (l: KeyAwsLink) => ({ keyId: l.keyId, region: l.region, kmsKeyArn: l.kmsKeyArn, alias: l.alias, createdAt: l.createdAt });
