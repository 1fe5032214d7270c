import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import type { SealContext } from '../crypto/index.js';
import type { AuditKeyRepo } from './audit-ports.js';
import type { Seal } from './ports.js';

export const AUDIT_KEY_META = 'audit.key';
export const AUDIT_KEY_SEAL_CONTEXT: SealContext = { table: 'meta', id: AUDIT_KEY_META, column: 'value' };

/**
 * The HMAC key of the audit chain: 32 random bytes, sealed in storage, made on first use.
 * Two processes may race to make it; the repository keeps the first and both use that one.
 */
export async function loadAuditKey(deps: { repo: AuditKeyRepo; seal: Seal }): Promise<KeyObject> {
  let sealed = await deps.repo.getSealedAuditKey();
  if (!sealed) {
    const raw = randomBytes(32);
    try {
      sealed = await deps.repo.initSealedAuditKey(await deps.seal.seal(raw, AUDIT_KEY_SEAL_CONTEXT));
    } finally {
      raw.fill(0);
    }
  }
  const raw = await deps.seal.unseal(sealed, AUDIT_KEY_SEAL_CONTEXT);
  try {
    return createSecretKey(raw);
  } finally {
    raw.fill(0);
  }
}
