/**
 * AWS-managed keys and their predefined aliases (kms-semantics §2.4, §2.6). Every account and
 * Region lists `alias/aws/<service>` aliases; until the service first needs its key, such an
 * alias has no TargetKeyId. A DescribeKey on it (what AWS services do) creates the key, with
 * KeyManager AWS: the customer cannot change it (AccessDeniedException), only use and list it.
 */
import { kmsError } from './errors.js';
import type { Call } from './context.js';
import { materialId } from './key-material.js';
import { generateMaterial } from './key-specs.js';
import { keyArn, newKeyId } from './arns.js';
import type { KmsKey, RegionState } from './model.js';

/** The services whose aliases a fresh account lists (a subset of what KMS shows). */
export const AWS_MANAGED_SERVICES = ['acm', 'dynamodb', 'ebs', 'elasticfilesystem', 'es', 'glue', 'kinesisvideo', 'lambda', 'rds', 'redshift', 's3', 'secretsmanager', 'ssm', 'xray'] as const;

/** Operations that change a key: refused on AWS-managed keys. */
const CUSTOMER_ONLY = new Set([
  'EnableKey', 'DisableKey', 'ScheduleKeyDeletion', 'CancelKeyDeletion', 'UpdateKeyDescription', 'PutKeyPolicy', 'TagResource', 'UntagResource',
  'CreateAlias', 'UpdateAlias', 'EnableKeyRotation', 'DisableKeyRotation', 'RotateKeyOnDemand', 'ReplicateKey', 'GetParametersForImport',
  'ImportKeyMaterial', 'DeleteImportedKeyMaterial',
]);

export function seedAwsManagedAliases(rs: RegionState, now: number): void {
  for (const service of AWS_MANAGED_SERVICES) {
    const name = `alias/aws/${service}`;
    if (!rs.aliases.has(name)) rs.aliases.set(name, { name, targetKeyId: undefined, createdAt: now, updatedAt: now });
  }
}

/** Throws AccessDeniedException when `call` would change an AWS-managed key. */
export function requireCustomerManaged(call: Call, key: KmsKey): void {
  if (key.keyManager === 'AWS' && CUSTOMER_ONLY.has(call.operation)) {
    throw kmsError('AccessDeniedException', `User: ${call.caller.principalArn} is not authorized to perform: kms:${call.operation} on resource: ${key.arn} because it is an AWS managed key.`);
  }
}

function awsManagedPolicy(accountId: string, region: string, service: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Id: `auto-${service}-1`,
    Statement: [
      {
        Sid: `Allow access through ${service} for all principals in the account that are authorized to use ${service}`,
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:CreateGrant', 'kms:DescribeKey'],
        Resource: '*',
        Condition: { StringEquals: { 'kms:CallerAccount': accountId, 'kms:ViaService': `${service}.${region}.amazonaws.com` } },
      },
      { Sid: 'Allow direct access to key metadata to the account', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${accountId}:root` }, Action: ['kms:Describe*', 'kms:Get*', 'kms:List*'], Resource: '*' },
    ],
  });
}

/**
 * DescribeKey on a predefined `alias/aws/<service>` (name or ARN) that has no key yet creates
 * the AWS-managed key and points the alias at it. Returns undefined for any other reference.
 */
export async function describeAwsManagedAlias(call: Call, ref: string): Promise<KmsKey | undefined> {
  const rs = call.rs;
  const prefix = `arn:aws:kms:${rs.region}:${rs.accountId}:`;
  const name = ref.startsWith(prefix) ? ref.slice(prefix.length) : ref;
  if (!name.startsWith('alias/aws/')) return undefined;
  const alias = rs.aliases.get(name);
  if (!alias || alias.targetKeyId !== undefined) return undefined;
  const service = name.slice('alias/aws/'.length);
  const id = newKeyId(false);
  const now = call.sim.clock.now();
  const bytes = await generateMaterial('SYMMETRIC_DEFAULT');
  const key: KmsKey = {
    id,
    arn: keyArn(rs.region, rs.accountId, id),
    accountId: rs.accountId,
    region: rs.region,
    createdAt: now,
    description: `Default key that protects my ${service} data when no other key is defined`,
    origin: 'AWS_KMS',
    keySpec: 'SYMMETRIC_DEFAULT',
    keyUsage: 'ENCRYPT_DECRYPT',
    keyManager: 'AWS',
    multiRegion: false,
    state: 'Enabled',
    deletionDate: undefined,
    customKeyStoreId: undefined,
    xksKeyId: undefined,
    policy: awsManagedPolicy(rs.accountId, rs.region, service),
    tags: new Map(),
    materials: [{ id: materialId(id, bytes), bytes, state: 'CURRENT' }],
    expirationModel: undefined,
    // AWS-managed keys rotate every year, always.
    rotation: { enabled: true, periodDays: 365, nextRotation: now + 365 * 86_400_000, onDemandCount: 0 },
  };
  rs.keys.set(id, key);
  alias.targetKeyId = id;
  alias.updatedAt = now;
  return key;
}
