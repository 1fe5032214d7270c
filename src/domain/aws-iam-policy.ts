/**
 * The IAM policy an AWS connection needs, per KMS action group (docs/aws.md). Printed by
 * `keyhold aws iam-policy`; `aws connection test` tries one call of each group.
 */
import type { AwsActionGroup } from './aws-model.js';

export const AWS_GROUP_ACTIONS: Record<AwsActionGroup, string[]> = {
  list: ['kms:ListKeys', 'kms:ListAliases'],
  read: ['kms:DescribeKey', 'kms:GetKeyPolicy', 'kms:ListResourceTags'],
  write: ['kms:CreateKey', 'kms:CreateAlias', 'kms:UpdateKeyDescription', 'kms:TagResource', 'kms:EnableKey', 'kms:DisableKey', 'kms:ScheduleKeyDeletion', 'kms:CancelKeyDeletion'],
  'custom-key-stores': [
    'kms:CreateCustomKeyStore',
    'kms:DescribeCustomKeyStores',
    'kms:ConnectCustomKeyStore',
    'kms:DisconnectCustomKeyStore',
    'kms:UpdateCustomKeyStore',
    'kms:DeleteCustomKeyStore',
  ],
};

export interface IamPolicyOptions {
  /** Restrict to one account (the connection's), else any account the credentials are in. */
  accountId?: string | null | undefined;
  regions?: string[] | undefined;
}

export function awsIamPolicy(o: IamPolicyOptions = {}): { Version: string; Statement: object[] } {
  const account = o.accountId ?? '*';
  const regions = o.regions && o.regions.length > 0 ? o.regions : ['*'];
  const keyArns = regions.map((r) => `arn:aws:kms:${r}:${account}:key/*`);
  const aliasArns = regions.map((r) => `arn:aws:kms:${r}:${account}:alias/*`);
  return {
    Version: '2012-10-17',
    Statement: [
      // These calls are not scoped to a resource in IAM.
      { Sid: 'KeyholdList', Effect: 'Allow', Action: AWS_GROUP_ACTIONS.list, Resource: '*' },
      { Sid: 'KeyholdCustomKeyStores', Effect: 'Allow', Action: AWS_GROUP_ACTIONS['custom-key-stores'], Resource: '*' },
      { Sid: 'KeyholdCreateKey', Effect: 'Allow', Action: ['kms:CreateKey'], Resource: '*' },
      { Sid: 'KeyholdReadKeys', Effect: 'Allow', Action: AWS_GROUP_ACTIONS.read, Resource: keyArns },
      { Sid: 'KeyholdWriteKeys', Effect: 'Allow', Action: AWS_GROUP_ACTIONS.write.filter((a) => a !== 'kms:CreateKey'), Resource: [...keyArns, ...aliasArns] },
    ],
  };
}
