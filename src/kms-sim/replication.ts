/**
 * Multi-Region keys (kms-semantics §2.4, §5.3): ReplicateKey makes a replica of a primary in
 * another Region of the same account, with the same key id, spec and key material, so a
 * ciphertext of one decrypts in the other. A replica of an imported (EXTERNAL) key has the
 * same material ids but no material: it is PendingImport until the same material is imported
 * into it. Not simulated: UpdatePrimaryRegion, PendingReplicaDeletion, and rotation
 * propagating from the primary to its replicas.
 */
import { z } from 'zod';
import { kmsError } from './errors.js';
import { op, type Operation } from './context.js';
import { keyMetadata } from './key-metadata.js';
import { checkLockout, checkPolicy, defaultKeyPolicy, policySchema } from './key-policy.js';
import { keyArn, resolveKey } from './key-resolution.js';
import { requireNotPendingDeletion } from './key-state.js';
import { checkNewTags } from './tags.js';
import { str, tagList } from './schemas.js';
import type { KmsKey } from './model.js';

export const replicationOperations: Record<string, Operation> = {
  ReplicateKey: op(
    z.object({
      KeyId: str(1, 2048),
      ReplicaRegion: str(1, 32, /^([a-z]+-){2,3}\d+$/),
      Policy: policySchema().optional(),
      BypassPolicyLockoutSafetyCheck: z.boolean().optional(),
      Description: str(0, 8192).optional(),
      Tags: tagList().optional(),
    }),
    async (call, input) => {
      const key = resolveKey(call, input.KeyId, { aliases: false });
      call.entry.keyArn = key.arn;
      if (!key.mrk) throw kmsError('UnsupportedOperationException', `${key.arn} is not a multi-Region key; only multi-Region primary keys can be replicated.`);
      if (key.mrk.primaryRegion !== call.rs.region) throw kmsError('UnsupportedOperationException', `${key.arn} is a replica key; replicate its primary key in ${key.mrk.primaryRegion}.`);
      requireNotPendingDeletion(key);
      if (input.ReplicaRegion === call.rs.region) throw kmsError('ValidationException', `The replica Region must differ from the primary key's Region ${call.rs.region}.`);
      if (input.Policy !== undefined) {
        checkPolicy(input.Policy);
        if (!input.BypassPolicyLockoutSafetyCheck) checkLockout(call, input.Policy);
      }
      checkNewTags(new Map(), input.Tags ?? []);
      const target = call.sim.region(call.rs.accountId, input.ReplicaRegion);
      if (target.keys.has(key.id)) throw kmsError('AlreadyExistsException', `${keyArn(input.ReplicaRegion, key.accountId, key.id)} already exists.`);
      const imported = key.origin === 'EXTERNAL';
      const replica: KmsKey = {
        ...key,
        arn: keyArn(input.ReplicaRegion, key.accountId, key.id),
        region: input.ReplicaRegion,
        createdAt: call.sim.clock.now(),
        description: input.Description ?? key.description,
        state: imported ? 'PendingImport' : 'Enabled',
        deletionDate: undefined,
        policy: input.Policy ?? defaultKeyPolicy(key.accountId),
        tags: new Map((input.Tags ?? []).map((t) => [t.TagKey, t.TagValue])),
        // Same material ids; KMS-generated material is shared, imported material must be imported again.
        materials: key.materials.map((m) => ({ ...m, bytes: imported || !m.bytes ? undefined : Buffer.from(m.bytes) })),
        rotation: { ...key.rotation },
      };
      target.keys.set(replica.id, replica);
      key.mrk.replicaRegions.push(input.ReplicaRegion);
      return {
        ReplicaKeyMetadata: keyMetadata(target, replica),
        ReplicaPolicy: replica.policy,
        ReplicaTags: [...replica.tags].map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
      };
    },
  ),
};
