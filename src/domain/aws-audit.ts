import { auditAdminAction, type AdminActor, type AdminAction } from './admin-audit.js';
import type { AuditService } from './audit-service.js';
import type { AwsConnectionInput, AwsConnectionPatch, AwsConnectionService, AwsCredentialInput } from './aws-connection-service.js';
import type { AwsXksService } from './aws-xks-service.js';

type AdminRecorder = Pick<AuditService, 'admin'>;

/** What an audit record says about a credential input: never the secret. */
export function describeAwsCredentialInput(c: AwsCredentialInput | undefined): Record<string, unknown> | undefined {
  if (!c) return undefined;
  if (c.source === 'static') return { source: 'static', accessKeyId: c.accessKeyId };
  if (c.source === 'assume-role') return { source: 'assume-role', roleArn: c.roleArn, externalId: c.externalId !== undefined ? true : undefined, baseAccessKeyId: c.accessKeyId };
  return { source: 'default' };
}

export function describeAwsConnectionInput(i: AwsConnectionPatch | AwsConnectionInput): Record<string, unknown> {
  return {
    region: i.region,
    regions: i.regions,
    endpoint: i.endpoint,
    stsEndpoint: i.stsEndpoint,
    caBundle: i.caPem === undefined ? undefined : i.caPem !== null,
    accountId: i.accountId,
    credentials: describeAwsCredentialInput(i.credentials),
  };
}

/** Connections with every change recorded; action names are the admin API's route ids. */
export function auditedAwsConnections<S extends Pick<AwsConnectionService, 'create' | 'update' | 'delete' | 'test'>>(svc: S, audit: AdminRecorder, who: AdminActor): S {
  const run = <T>(what: AdminAction, fn: () => Promise<T>, after?: (r: T) => Record<string, unknown>) => auditAdminAction(audit, who, what, fn, after);
  return {
    ...svc,
    create: (input: AwsConnectionInput) => run({ action: 'aws.connections.create', target: input.name, change: describeAwsConnectionInput(input) }, () => svc.create(input)),
    update: (name: string, patch: AwsConnectionPatch) => run({ action: 'aws.connections.update', target: name, change: describeAwsConnectionInput(patch) }, () => svc.update(name, patch)),
    delete: (name: string) => run({ action: 'aws.connections.delete', target: name }, () => svc.delete(name)),
    test: (name: string, region?: string) =>
      run({ action: 'aws.connections.test', target: name, change: { region } }, () => svc.test(name, region), (r) => ({ connected: r.connected, reason: r.reason })),
  };
}

/** The XKS side in AWS with every change recorded. */
export function auditedAwsXks<S extends Pick<AwsXksService, 'createKeyStore' | 'connect' | 'createAwsKey'>>(svc: S, audit: AdminRecorder, who: AdminActor): S {
  const run = <T>(what: AdminAction, fn: () => Promise<T>, after?: (r: T) => Record<string, unknown>) => auditAdminAction(audit, who, what, fn, after);
  return {
    ...svc,
    createKeyStore: (name: string, o: Parameters<AwsXksService['createKeyStore']>[1], progress?: (m: string) => void) =>
      run(
        { action: 'aws.keystores.create', target: name, keyStore: name, change: { connection: o.connection, endpoint: o.endpoint, region: o.region, vpcEndpointServiceName: o.vpcEndpointServiceName, awsName: o.awsName } },
        () => svc.createKeyStore(name, o, progress),
        (r) => ({ customKeyStoreId: r.customKeyStoreId, connectionState: r.connectionState, connectionErrorCode: r.connectionErrorCode }),
      ),
    connect: (name: string, o?: { waitMs?: number | undefined }, progress?: (m: string) => void) =>
      run({ action: 'aws.keystores.connect', target: name, keyStore: name }, () => svc.connect(name, o, progress), (r) => ({ connectionState: r.connectionState, connectionErrorCode: r.connectionErrorCode })),
    createAwsKey: (keyId: string, input?: Parameters<AwsXksService['createAwsKey']>[1]) =>
      run({ action: 'aws.keys.create', target: keyId, keyId, change: { alias: input?.alias, admins: input?.admins, users: input?.users } }, () => svc.createAwsKey(keyId, input), (r) => ({ kmsKeyArn: r.kmsKeyArn, alias: r.alias })),
  };
}
