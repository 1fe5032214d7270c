import { z } from 'zod';
import { fail } from '../base/index.js';
import type { ApprovalAction } from './admin-model.js';
import type { KeyService } from './key-service.js';
import type { KeyStoreService } from './keystore-service.js';
import { parsePolicy } from './policy.js';
import { EXTERNAL_KEY_ID_RE, NAME_RE } from './validation.js';
import type { AwsConnectionService } from './aws-connection-service.js';
import { awsApprovalActions } from './aws-approval-actions.js';

/**
 * The actions an approval rule can guard, each with its parameter schema, a check that
 * runs when the request is made (so a request that could never succeed is refused at
 * once), and the call that runs it when the quorum is reached.
 */
export interface ApprovalActionSpec {
  params: z.ZodType<Record<string, unknown>>;
  summary(p: Record<string, unknown>): string;
  check(p: Record<string, unknown>): Promise<void>;
  run(p: Record<string, unknown>): Promise<unknown>;
  /** The result is a secret: sealed in storage and handed once to the requester. */
  secretResult?: boolean;
}

export type ApprovalActions = Record<ApprovalAction, ApprovalActionSpec>;

const keyId = z.string().regex(EXTERNAL_KEY_ID_RE);
const keyStore = z.string().regex(NAME_RE);
const accessKeyId = z.string().min(1).max(64);

export function spec<S extends z.ZodObject>(
  schema: S,
  parts: {
    summary(p: z.infer<S>): string;
    check(p: z.infer<S>): Promise<void>;
    run(p: z.infer<S>): Promise<unknown>;
    secretResult?: boolean;
  },
): ApprovalActionSpec {
  return {
    params: schema.strict() as unknown as z.ZodType<Record<string, unknown>>,
    summary: (p) => parts.summary(p as z.infer<S>),
    check: (p) => parts.check(p as z.infer<S>),
    run: (p) => parts.run(p as z.infer<S>),
    ...(parts.secretResult ? { secretResult: true } : {}),
  };
}

export function createApprovalActions(deps: { keyStores: KeyStoreService; keys: KeyService; aws?: AwsConnectionService | undefined }): ApprovalActions {
  const { keyStores, keys } = deps;
  const keyMustExist = async (p: { keyId: string }) => void (await keys.get(p.keyId));
  const storeMustExist = async (p: { keyStore: string }) => void (await keyStores.get(p.keyStore));
  return {
    'key.schedule-deletion': spec(z.object({ keyId, pendingWindowInDays: z.number().int().min(7).max(30).optional() }), {
      summary: (p) => `schedule deletion of key '${p.keyId}' after ${p.pendingWindowInDays ?? 30} days`,
      async check(p) {
        const k = await keys.get(p.keyId);
        if (k.deletionDate !== null) fail('InvalidState', `key '${p.keyId}' is already pending deletion`);
      },
      run: (p) => keys.scheduleDeletion(p.keyId, p.pendingWindowInDays),
    }),
    'key.delete-version': spec(z.object({ keyId, version: z.number().int().min(1) }), {
      summary: (p) => `delete version ${p.version} of key '${p.keyId}'`,
      async check(p) {
        const k = await keys.get(p.keyId);
        if (p.version === k.currentVersion) fail('InvalidState', `version ${p.version} is the current version of '${p.keyId}'; rotate the key first`);
        if (!(await keys.versions(p.keyId)).some((v) => v.version === p.version)) fail('NotFound', `key '${p.keyId}' has no version ${p.version}`);
      },
      run: (p) => keys.deleteVersion(p.keyId, p.version),
    }),
    'key.disable': spec(z.object({ keyId }), {
      summary: (p) => `disable key '${p.keyId}'`,
      check: keyMustExist,
      run: (p) => keys.setEnabled(p.keyId, false),
    }),
    'keystore.disable': spec(z.object({ keyStore }), {
      summary: (p) => `disable key store '${p.keyStore}'`,
      check: storeMustExist,
      run: (p) => keyStores.setEnabled(p.keyStore, false),
    }),
    'keystore.delete': spec(z.object({ keyStore }), {
      summary: (p) => `delete key store '${p.keyStore}'`,
      check: storeMustExist,
      run: async (p) => {
        await keyStores.delete(p.keyStore);
        return { deleted: p.keyStore };
      },
    }),
    'credential.add': spec(z.object({ keyStore }), {
      summary: (p) => `add a SigV4 credential to key store '${p.keyStore}'`,
      check: storeMustExist,
      run: (p) => keyStores.addCredential(p.keyStore),
      secretResult: true,
    }),
    'credential.revoke': spec(z.object({ keyStore, accessKeyId }), {
      summary: (p) => `revoke credential ${p.accessKeyId} of key store '${p.keyStore}'`,
      async check(p) {
        const live = (await keyStores.listCredentials(p.keyStore)).filter((c) => c.revokedAt === null);
        if (!live.some((c) => c.accessKeyId === p.accessKeyId)) fail('NotFound', `key store '${p.keyStore}' has no live credential ${p.accessKeyId}`);
      },
      run: (p) => keyStores.revokeCredential(p.keyStore, p.accessKeyId),
    }),
    'policy.change': spec(z.object({ keyStore, policy: z.unknown() }), {
      summary: (p) => (p.policy === null ? `remove the policy of key store '${p.keyStore}'` : `set a new policy on key store '${p.keyStore}'`),
      async check(p) {
        await keyStores.get(p.keyStore);
        if (p.policy !== null) parsePolicy(p.policy);
      },
      run: (p) => keyStores.setPolicy(p.keyStore, p.policy ?? null),
    }),
    'keystore.aws-config': spec(z.object({ keyStore, accessKeyId: accessKeyId.optional() }), {
      summary: (p) => `export the AWS proxy configuration (with its secret) of key store '${p.keyStore}'`,
      check: storeMustExist,
      run: (p) => keyStores.awsConfig(p.keyStore, p.accessKeyId),
      secretResult: true,
    }),
    ...awsApprovalActions(deps.aws),
  };
}
