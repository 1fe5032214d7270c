import type { z } from 'zod';
import type { awsConnectionView, awsConnectionTestView, keyAwsLinkView, keyStoreAwsStatusView, keyStoreInAwsView } from '../../admin/routes/aws-routes.js';
import { isKeyholdError } from '../../base/index.js';
import type { AwsOperations } from '../host.js';
import type { AwsConnection, AwsConnectionTestResult, AwsKeyResult, KeyAwsLink } from '../../domain/index.js';
import type { ApiClient } from './api-client.js';

type Out<T extends z.ZodType> = z.output<T>;
const seg = encodeURIComponent;

/** The API shows whether a CA bundle is set, not the bundle; the CLI prints only that. */
const toConnection = (v: Out<typeof awsConnectionView>): AwsConnection => ({
  id: v.id,
  name: v.name,
  region: v.region,
  regions: v.regions,
  endpoint: v.endpoint,
  stsEndpoint: v.stsEndpoint,
  caPem: v.caBundle ? '(set)' : null,
  accountId: v.accountId,
  credentialSource: v.credentials.source,
  accessKeyId: v.credentials.accessKeyId,
  roleArn: v.credentials.roleArn,
  externalId: v.credentials.externalId,
  createdAt: v.createdAt,
  updatedAt: v.updatedAt,
});

/** The AWS commands through a running server's admin API. */
export function remoteAwsOperations(api: ApiClient, slow: ApiClient = api): AwsOperations {
  return {
    connections: {
      create: async (input) => toConnection(await api.call('POST', '/aws/connections', input)),
      list: async () => (await api.call<Out<typeof awsConnectionView>[]>('GET', '/aws/connections')).map(toConnection),
      get: async (name) => toConnection(await api.call('GET', `/aws/connections/${seg(name)}`)),
      update: async (name, patch) => toConnection(await api.call('PATCH', `/aws/connections/${seg(name)}`, patch)),
      async delete(name) {
        await api.call('DELETE', `/aws/connections/${seg(name)}`);
      },
      test: async (name, region) => (await api.call<Out<typeof awsConnectionTestView>>('POST', `/aws/connections/${seg(name)}/test`, region ? { region } : {})) as AwsConnectionTestResult,
    },
    xks: {
      createKeyStore: (name, o) => {
        const { waitMs, ...rest } = o;
        return slow.call<Out<typeof keyStoreInAwsView>>('POST', `/aws/keystores/${seg(name)}`, { ...rest, ...(waitMs !== undefined ? { waitSeconds: Math.ceil(waitMs / 1000) } : {}) });
      },
      connect: (name, o = {}) => slow.call<Out<typeof keyStoreInAwsView>>('POST', `/aws/keystores/${seg(name)}/connect`, o.waitMs !== undefined ? { waitSeconds: Math.ceil(o.waitMs / 1000) } : {}),
      status: (name) => api.call<Out<typeof keyStoreAwsStatusView>>('GET', `/aws/keystores/${seg(name)}`),
      createAwsKey: (keyId, input = {}) => api.call<AwsKeyResult>('POST', `/keys/${seg(keyId)}/aws`, input),
      async keyLink(keyId) {
        try {
          const v = await api.call<Out<typeof keyAwsLinkView>>('GET', `/keys/${seg(keyId)}/aws`);
          return { ...v, connectionId: '' } satisfies KeyAwsLink;
        } catch (e) {
          if (isKeyholdError(e, 'NotFound')) return undefined;
          throw e;
        }
      },
      listKeyLinks: async () =>
        (await api.call<(Out<typeof keyAwsLinkView> & { internalKeyId: string })[]>('GET', '/aws/key-links')).map((v) => ({ keyId: v.internalKeyId, connectionId: '', region: v.region, kmsKeyArn: v.kmsKeyArn, alias: v.alias, createdAt: v.createdAt })),
    },
  };
}
