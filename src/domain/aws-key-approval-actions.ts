import { createHash } from 'node:crypto';
import { z } from 'zod';
import { fail, isKeyholdError } from '../base/index.js';
import type { ApprovalAction, AwsKeyOperation } from './admin-model.js';
import { always, spec, type ApprovalActionSpec } from './approval-spec.js';
import type { AwsKeyRecord } from './aws-key-model.js';
import { canonicalPolicy, type AwsKeyService } from './aws-key-service.js';
import type { KeyService } from './key-service.js';
import { EXTERNAL_KEY_ID_RE, NAME_RE } from './validation.js';

/** A key id, ARN or alias as the caller gave it, and (once bound) the ARN it named then. */
const onAwsKey = { key: z.string().min(1).max(2048), arn: z.string().min(20).max(2048).optional() };
const alias = z.string().min(1).max(256);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Removing a tag, or giving an existing tag another value, can end access granted by a tag condition (ABAC). */
export function narrowsTags(current: Record<string, string>, set: Record<string, string>, remove: readonly string[]): boolean {
  return remove.some((k) => k in current) || Object.entries(set).some(([k, v]) => k in current && current[k] !== v);
}

/**
 * AWS key changes through the approvals machinery. Each is bound to the AWS key's ARN (an
 * alias can move; an ARN names one key forever) and refused at execution when the name it
 * was filed with now names another key, or the key is no longer known. What stops or narrows
 * an AWS key's service falls under aws.key.disable; a scheduled deletion under aws.key.delete.
 */
export function awsKeyApprovalActions(awsKeys: AwsKeyService | undefined, keys: Pick<KeyService, 'get'>): Record<AwsKeyOperation | 'aws.key.disable', ApprovalActionSpec> {
  const svc = () => awsKeys ?? fail('Unsupported', 'this process has no AWS plane');

  const bindKey = async <P extends { key: string }>(p: P): Promise<P & { arn: string }> => ({ ...p, arn: (await svc().show(p.key)).key.arn });

  /** The AWS key the request was filed for, refused when its name now means another key. */
  async function bound(p: { key: string; arn?: string | undefined }): Promise<AwsKeyRecord> {
    if (p.arn === undefined) fail('InvalidState', `the request for AWS key '${p.key}' is not bound to the key's ARN; file it again`);
    const key = await svc()
      .show(p.arn)
      .catch((e: unknown) => {
        if (isKeyholdError(e, 'NotFound')) fail('Conflict', `AWS key ${p.arn} is no longer known to Keyhold; the approval does not apply`);
        throw e;
      });
    if (p.key !== p.arn) {
      const now = await svc()
        .show(p.key)
        .then((r) => r.key.arn)
        .catch(() => null);
      if (now !== p.arn) fail('Conflict', `'${p.key}' now names ${now ?? 'no AWS key'}, not ${p.arn} that this request was filed for; the approval does not apply`);
    }
    return key.key;
  }
  const mustExist = async (p: { key: string; arn?: string | undefined }) => void (await bound(p));
  /** The local key the request was filed with, still that key and still exportable. */
  async function exportableLocal(p: { localKey: string; keyUid?: string | undefined }): Promise<void> {
    const k = await keys.get(p.localKey);
    if (k.id !== p.keyUid) fail('Conflict', `key '${p.localKey}' was deleted and created again after this request was filed; the approval does not apply to the new key`);
    if (!k.exportable) fail('AccessDenied', `key '${p.localKey}' is not exportable: its material never leaves Keyhold`);
  }
  const when = (narrows: boolean, rule: ApprovalAction = 'aws.key.disable'): ApprovalAction[] => (narrows ? [rule] : []);

  return {
    'aws.key.disable': spec(z.object(onAwsKey), {
      bind: bindKey,
      rules: always('aws.key.disable'),
      summary: (p) => `disable AWS key ${p.arn ?? p.key}`,
      check: mustExist,
      run: async (p) => (await bound(p), svc().disable(p.arn!)),
    }),
    'aws.key.schedule-deletion': spec(z.object({ ...onAwsKey, days: z.number().int().min(7).max(30) }), {
      bind: bindKey,
      rules: always('aws.key.delete'),
      summary: (p) => `schedule deletion of AWS key ${p.arn ?? p.key} after ${p.days} days`,
      async check(p) {
        const k = await bound(p);
        if (k.state === 'PendingDeletion') fail('InvalidState', `AWS key ${k.arn} is already pending deletion`);
      },
      run: async (p) => (await bound(p), svc().scheduleDeletion(p.arn!, p.days)),
    }),
    // A key policy can lock every caller out of a key: always under aws.key.disable. It is
    // bound to the policy the approvers saw the diff against: a policy changed since refuses.
    'aws.key.policy-put': spec(z.object({ ...onAwsKey, policy: z.string().min(1).max(32 * 1024), before: z.string().length(64).nullable().optional() }), {
      bind: async (p) => {
        const k = (await svc().show(p.key)).key;
        return { ...p, arn: k.arn, before: k.policy === null ? null : sha256(canonicalPolicy(k.policy)) };
      },
      rules: always('aws.key.disable'),
      summary: (p) => `put a new key policy on AWS key ${p.arn ?? p.key}`,
      async check(p) {
        await bound(p);
        canonicalPolicy(p.policy);
      },
      async run(p) {
        const k = await bound(p);
        const now = k.policy === null ? null : sha256(canonicalPolicy(k.policy));
        if (p.before !== undefined && now !== p.before) fail('Conflict', `the key policy of ${k.arn} changed after this request was filed; the diff the approvers saw no longer applies`);
        return svc().putPolicy(p.arn!, p.policy);
      },
    }),
    // Adding an alias that another key holds moves it: callers of the alias lose that key.
    'aws.key.alias-add': spec(z.object({ ...onAwsKey, alias }), {
      bind: bindKey,
      async rules(p) {
        const k = await bound(p);
        const holder = await svc()
          .show(p.alias)
          .then((r) => r.key)
          .catch(() => undefined);
        return when(holder !== undefined && holder.arn !== k.arn && holder.region === k.region && holder.connectionId === k.connectionId);
      },
      summary: (p) => `add alias ${p.alias} to AWS key ${p.arn ?? p.key} (moving it if another key holds it)`,
      check: mustExist,
      run: async (p) => (await bound(p), svc().addAlias(p.arn!, p.alias)),
    }),
    'aws.key.alias-remove': spec(z.object({ ...onAwsKey, alias }), {
      bind: bindKey,
      rules: always('aws.key.disable'),
      summary: (p) => `remove alias ${p.alias} of AWS key ${p.arn ?? p.key}`,
      async check(p) {
        const k = await bound(p);
        if (!k.aliases.includes(p.alias)) fail('NotFound', `${k.arn} has no alias ${p.alias}`);
      },
      run: async (p) => (await bound(p), svc().removeAlias(p.arn!, p.alias)),
    }),
    'aws.key.tags': spec(z.object({ ...onAwsKey, set: z.record(z.string().min(1).max(128), z.string().max(256)), remove: z.array(z.string().min(1).max(128)).max(50) }), {
      bind: bindKey,
      rules: async (p) => when(narrowsTags((await bound(p)).tags, p.set, p.remove)),
      summary: (p) => `change tags of AWS key ${p.arn ?? p.key} (set ${Object.keys(p.set).join(', ') || 'none'}; remove ${p.remove.join(', ') || 'none'})`,
      check: mustExist,
      run: async (p) => (await bound(p), svc().setTags(p.arn!, p.set, p.remove)),
    }),
    // The aliases move to the new key either way; disabling the old one stops it.
    'aws.key.rotate': spec(z.object({ ...onAwsKey, disableOld: z.boolean() }), {
      bind: bindKey,
      rules: async (p) => when(p.disableOld),
      summary: (p) => `rotate AWS key ${p.arn ?? p.key} to a new native key${p.disableOld ? ' and disable the old one' : ''}`,
      check: mustExist,
      run: async (p) => (await bound(p), svc().rotateNative(p.arn!, { disableOld: p.disableOld })),
    }),
    // The aliases move to a new imported key either way; expiring material or a disabled old
    // key stops service: then under aws.key.disable.
    'aws.key.rotate-to-local': spec(z.object({ ...onAwsKey, localKey: z.string().regex(EXTERNAL_KEY_ID_RE), keyUid: z.string().min(1).max(64).optional(), validTo: z.string().max(40).optional(), disableOld: z.boolean() }), {
      bind: async (p) => ({ ...(await bindKey(p)), keyUid: (await keys.get(p.localKey)).id }),
      rules: async (p) => when(p.disableOld || p.validTo !== undefined),
      summary: (p) => `rotate AWS key ${p.arn ?? p.key} to a new key imported from local key '${p.localKey}'${p.validTo ? `, material expiring ${p.validTo}` : ''}${p.disableOld ? ', and disable the old one' : ''}`,
      async check(p) {
        await bound(p);
        await exportableLocal(p);
      },
      async run(p, ctx) {
        await bound(p);
        await exportableLocal(p);
        return svc().rotateToLocal(p.arn!, p.localKey, { validTo: p.validTo, disableOld: p.disableOld, actor: ctx.requestedBy.username });
      },
    }),
    // Without its material the key serves nothing until reimport.
    'aws.key.delete-material': spec(z.object(onAwsKey), {
      bind: bindKey,
      rules: always('aws.key.disable'),
      summary: (p) => `delete the imported key material of AWS key ${p.arn ?? p.key} (unusable until reimport)`,
      check: mustExist,
      run: async (p) => (await bound(p), svc().deleteImportedMaterial(p.arn!)),
    }),
    'aws.key.reimport': spec(z.object({ ...onAwsKey, validTo: z.string().max(40).optional() }), {
      bind: bindKey,
      rules: async (p) => when(p.validTo !== undefined),
      summary: (p) => `import the linked local material into AWS key ${p.arn ?? p.key} again${p.validTo ? `, expiring ${p.validTo}` : ''}`,
      check: mustExist,
      run: async (p, ctx) => (await bound(p), svc().reimport(p.arn!, { validTo: p.validTo, actor: ctx.requestedBy.username })),
    }),
    // Material that expires makes the AWS key stop on that date: under aws.key.disable.
    'aws.key.import': spec(
      z.object({
        localKey: z.string().regex(EXTERNAL_KEY_ID_RE),
        keyUid: z.string().min(1).max(64).optional(),
        connection: z.string().regex(NAME_RE).optional(),
        /** An existing AWS key to import into, and (once bound) the ARN it named then. */
        into: z.string().min(1).max(2048).optional(),
        intoArn: z.string().min(20).max(2048).optional(),
        regions: z.array(z.string().min(1).max(32)).max(20).optional(),
        alias: alias.optional(),
        validTo: z.string().max(40).optional(),
        description: z.string().max(8192).optional(),
      }),
      {
        bind: async (p) => ({ ...p, keyUid: (await keys.get(p.localKey)).id, ...(p.into !== undefined ? { intoArn: (await svc().show(p.into)).key.arn } : {}) }),
        rules: async (p) => when(p.validTo !== undefined),
        summary: (p) =>
          p.into !== undefined
            ? `copy local key '${p.localKey}' into AWS key ${p.intoArn ?? p.into}${p.validTo ? `, material expiring ${p.validTo}` : ''}`
            : `copy local key '${p.localKey}' into AWS KMS (${p.connection ?? '?'}${p.regions?.length ? `, ${p.regions.join(', ')}` : ''})${p.validTo ? `, material expiring ${p.validTo}` : ''}`,
        async check(p) {
          await exportableLocal(p);
          if (p.into !== undefined) await bound({ key: p.into, arn: p.intoArn });
        },
        async run(p, ctx) {
          await exportableLocal(p);
          const { keyUid: _u, intoArn, ...input } = p;
          // Into the key the request was filed for, refused when its name now means another.
          if (input.into !== undefined) input.into = (await bound({ key: input.into, arn: intoArn })).arn;
          return svc().importLocal({ ...input, actor: ctx.requestedBy.username });
        },
      },
    ),
  };
}
