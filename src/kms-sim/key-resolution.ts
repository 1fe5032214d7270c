/**
 * Identifiers and how a `KeyId` parameter finds a key (kms-semantics §2.2): key id, key ARN,
 * and, only for the operations that accept them, alias name and alias ARN.
 */
import { kmsError } from './errors.js';
import type { Call } from './context.js';
import { requireCustomerManaged } from './aws-managed.js';

import { aliasArn } from './arns.js';

export { aliasArn, keyArn, newCustomKeyStoreId, newKeyId } from './arns.js';
import type { KmsKey, RegionState } from './model.js';

const KEY_ID_RE = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;
const KEY_ARN_RE = /^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):key\/(.+)$/;
const ALIAS_ARN_RE = /^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):(alias\/.+)$/;


export function isKeyId(s: string): boolean {
  return KEY_ID_RE.test(s);
}

/**
 * Finds the key named by `ref`. `aliases` allows alias names and ARNs (DescribeKey and
 * the cryptographic operations). Anything that names no key of the caller's account and
 * Region is NotFoundException, as KMS answers it.
 */
export function resolveKey(call: Call, ref: string, opts: { aliases: boolean }): KmsKey {
  const key = findKey(call, ref, opts);
  requireCustomerManaged(call, key);
  return key;
}

function findKey(call: Call, ref: string, opts: { aliases: boolean }): KmsKey {
  const rs = call.rs;
  const missing = () => kmsError('NotFoundException', `Key '${ref}' does not exist`);
  let m = KEY_ARN_RE.exec(ref);
  if (m) {
    const [, , region, account, id] = m as unknown as [string, string, string, string, string];
    if (region !== rs.region || account !== rs.accountId) throw missing();
    return byId(rs, id) ?? throwIt(missing());
  }
  if (ref.startsWith('alias/') || ALIAS_ARN_RE.test(ref)) {
    if (!opts.aliases) throw kmsError('NotFoundException', `Invalid keyId ${ref}`);
    let name = ref;
    m = ALIAS_ARN_RE.exec(ref);
    if (m) {
      const [, , region, account, alias] = m as unknown as [string, string, string, string, string];
      if (region !== rs.region || account !== rs.accountId) throw kmsError('NotFoundException', `Alias ${ref} is not found.`);
      name = alias;
    }
    const a = rs.aliases.get(name);
    if (!a || a.targetKeyId === undefined) throw kmsError('NotFoundException', `Alias ${aliasArn(rs.region, rs.accountId, name)} is not found.`);
    return byId(rs, a.targetKeyId) ?? throwIt(missing());
  }
  if (!isKeyId(ref)) throw kmsError('NotFoundException', `Invalid keyId ${ref}`);
  return byId(rs, ref) ?? throwIt(missing());
}

function byId(rs: RegionState, id: string): KmsKey | undefined {
  return rs.keys.get(id);
}

function throwIt(e: Error): never {
  throw e;
}
