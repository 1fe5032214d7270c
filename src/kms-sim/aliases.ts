/**
 * Aliases (kms-semantics §2.6): `alias/` names, `alias/aws/` reserved for AWS, targets named
 * by key id or ARN only, ≤ 50 per key, deleted with their key.
 */
import { z } from 'zod';
import { kmsError } from './errors.js';
import { op, wireTime, type Call, type Operation } from './context.js';
import { aliasArn, resolveKey } from './key-resolution.js';
import { paginate, pageFields } from './pagination.js';
import { keyKind } from './key-specs.js';
import { int, str } from './schemas.js';
import type { Alias, KmsKey } from './model.js';

export const MAX_ALIASES_PER_KEY = 50;
const aliasName = () => str(1, 256, /^[a-zA-Z0-9:/_-]+$/);

function checkName(name: string): void {
  if (!name.startsWith('alias/') || name.length === 'alias/'.length) {
    throw kmsError('ValidationException', 'Alias must start with the prefix "alias/" followed by a name.');
  }
  if (name.startsWith('alias/aws/')) throw kmsError('NotAuthorizedException', `The alias prefix alias/aws/ is reserved for AWS managed keys (${name}).`);
  if (name.includes(':')) throw kmsError('InvalidAliasNameException', `Alias name ${name} must not contain a colon.`);
}

function targetOf(call: Call, ref: string): KmsKey {
  const key = resolveKey(call, ref, { aliases: false });
  if (key.state === 'PendingDeletion') throw kmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
  return key;
}

function typeOf(key: KmsKey): string {
  const kind = keyKind(key.keySpec);
  return kind === 'rsa' || kind === 'ecc' ? 'asymmetric' : kind;
}

function aliasesOf(call: Call, keyId: string): Alias[] {
  return [...call.rs.aliases.values()].filter((a) => a.targetKeyId === keyId);
}

function missingAlias(call: Call, name: string): Error {
  return kmsError('NotFoundException', `Alias ${aliasArn(call.rs.region, call.rs.accountId, name)} is not found.`);
}

export const aliasOperations: Record<string, Operation> = {
  CreateAlias: op(z.object({ AliasName: aliasName(), TargetKeyId: str(1, 2048) }), async (call, input) => {
    checkName(input.AliasName);
    const key = targetOf(call, input.TargetKeyId);
    call.entry.keyArn = key.arn;
    if (call.rs.aliases.has(input.AliasName)) throw kmsError('AlreadyExistsException', `An alias with the name ${aliasArn(call.rs.region, call.rs.accountId, input.AliasName)} already exists.`);
    if (aliasesOf(call, key.id).length >= MAX_ALIASES_PER_KEY) throw kmsError('LimitExceededException', `A KMS key can have at most ${MAX_ALIASES_PER_KEY} aliases.`);
    const now = call.sim.clock.now();
    call.rs.aliases.set(input.AliasName, { name: input.AliasName, targetKeyId: key.id, createdAt: now, updatedAt: now });
    return {};
  }),

  UpdateAlias: op(z.object({ AliasName: aliasName(), TargetKeyId: str(1, 2048) }), async (call, input) => {
    checkName(input.AliasName);
    const alias = call.rs.aliases.get(input.AliasName);
    if (!alias) throw missingAlias(call, input.AliasName);
    const key = targetOf(call, input.TargetKeyId);
    call.entry.keyArn = key.arn;
    // Old and new targets must have the same type (symmetric, asymmetric, HMAC) and usage.
    const old = alias.targetKeyId !== undefined ? call.rs.keys.get(alias.targetKeyId) : undefined;
    if (old && (typeOf(old) !== typeOf(key) || old.keyUsage !== key.keyUsage)) {
      throw kmsError('ValidationException', `${input.AliasName} points to a ${typeOf(old)} ${old.keyUsage} key; it cannot move to ${key.arn}, a ${typeOf(key)} ${key.keyUsage} key.`);
    }
    if (alias.targetKeyId !== key.id && aliasesOf(call, key.id).length >= MAX_ALIASES_PER_KEY) {
      throw kmsError('LimitExceededException', `A KMS key can have at most ${MAX_ALIASES_PER_KEY} aliases.`);
    }
    alias.targetKeyId = key.id;
    alias.updatedAt = call.sim.clock.now();
    return {};
  }),

  DeleteAlias: op(z.object({ AliasName: aliasName() }), async (call, input) => {
    checkName(input.AliasName);
    if (!call.rs.aliases.delete(input.AliasName)) throw missingAlias(call, input.AliasName);
    return {};
  }),

  ListAliases: op(
    z.object({ KeyId: str(1, 2048).optional(), Limit: int(1, 1000).optional(), Marker: str(1, 1024, /^[\u0020-\u00FF]*$/).optional() }),
    async (call, input) => {
      let aliases = [...call.rs.aliases.values()];
      if (input.KeyId !== undefined) {
        const key = resolveKey(call, input.KeyId, { aliases: false });
        aliases = aliases.filter((a) => a.targetKeyId === key.id);
      }
      // The model allows 1000, KMS returns at most 100 per page.
      const page = paginate(aliases, (a) => a.name, Math.min(input.Limit ?? 50, 100), input.Marker);
      return {
        Aliases: page.items.map((a) => ({
          AliasName: a.name,
          AliasArn: aliasArn(call.rs.region, call.rs.accountId, a.name),
          TargetKeyId: a.targetKeyId,
          CreationDate: wireTime(a.createdAt),
          LastUpdatedDate: wireTime(a.updatedAt),
        })),
        ...pageFields(page),
      };
    },
  ),
};
