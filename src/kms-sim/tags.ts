/** Key tags (kms-semantics §2.7): ≤ 50 per key, `aws:` reserved, no tagging while PendingDeletion. */
import { z } from 'zod';
import { kmsError } from './errors.js';
import { op, type Operation } from './context.js';
import { resolveKey } from './key-resolution.js';
import { requireNotPendingDeletion } from './key-state.js';
import { paginate, pageFields } from './pagination.js';
import { int, str, tagList } from './schemas.js';

export const MAX_TAGS = 50;

/** Checks tags that are about to be added to `existing`; throws the KMS error. */
export function checkNewTags(existing: ReadonlyMap<string, string>, tags: readonly { TagKey: string; TagValue: string }[]): void {
  const seen = new Set<string>();
  for (const t of tags) {
    if (t.TagKey.toLowerCase().startsWith('aws:')) throw kmsError('TagException', `Tag keys beginning with aws: are reserved (${t.TagKey}).`);
    if (seen.has(t.TagKey)) throw kmsError('TagException', `The tag key ${t.TagKey} appears more than once.`);
    seen.add(t.TagKey);
  }
  const keys = new Set([...existing.keys(), ...seen]);
  if (keys.size > MAX_TAGS) throw kmsError('LimitExceededException', `A KMS key can have at most ${MAX_TAGS} tags.`);
}

export const tagOperations: Record<string, Operation> = {
  TagResource: op(z.object({ KeyId: str(1, 2048), Tags: tagList() }), async (call, input) => {
    const key = resolveKey(call, input.KeyId, { aliases: false });
    call.entry.keyArn = key.arn;
    requireNotPendingDeletion(key);
    checkNewTags(key.tags, input.Tags);
    for (const t of input.Tags) key.tags.set(t.TagKey, t.TagValue);
    return {};
  }),

  UntagResource: op(z.object({ KeyId: str(1, 2048), TagKeys: z.array(str(1, 128)) }), async (call, input) => {
    const key = resolveKey(call, input.KeyId, { aliases: false });
    call.entry.keyArn = key.arn;
    requireNotPendingDeletion(key);
    for (const k of input.TagKeys) key.tags.delete(k);
    return {};
  }),

  ListResourceTags: op(z.object({ KeyId: str(1, 2048), Limit: int(1, 50).optional(), Marker: str(1, 1024, /^[\u0020-\u00FF]*$/).optional() }), async (call, input) => {
    const key = resolveKey(call, input.KeyId, { aliases: false });
    call.entry.keyArn = key.arn;
    const tags = [...key.tags].map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
    const page = paginate(tags, (t) => t.TagKey, input.Limit ?? 50, input.Marker);
    return { Tags: page.items, ...pageFields(page) };
  }),
};
