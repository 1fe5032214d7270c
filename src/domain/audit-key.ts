import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { isoNow, systemClock, type Clock } from '../base/index.js';
import { AUDIT_ROOT_CHAIN, type SealContext } from '../crypto/index.js';
import type { AdminAuditRecord } from './audit-model.js';
import type { AuditKeyRepo, AuditMaintenance, AuditReader } from './audit-ports.js';
import type { Seal } from './ports.js';

export const AUDIT_KEY_META = 'audit.key';
export const AUDIT_KEY_SEAL_CONTEXT: SealContext = { table: 'meta', id: AUDIT_KEY_META, column: 'value' };

/** The first record of a chain (and, in the root chain, the announcement of another chain). */
function chainRecord(action: 'audit.start' | 'audit.chain.start', chain: string, node: string, clock: Clock): AdminAuditRecord {
  return { kind: 'admin', time: isoNow(clock), node, actor: 'keyhold', source: 'audit', action, target: chain, outcome: 'ok' };
}

/**
 * The HMAC key of the audit chain: 32 random bytes, sealed in storage, made on first use
 * together with the root chain's first record (one transaction): from then on the data
 * directory's log has started, and an empty root chain means its records were deleted.
 * Two processes may race to make it; the repository keeps the first and both use that one.
 */
export async function loadAuditKey(deps: { repo: AuditKeyRepo; seal: Seal; node?: string; clock?: Clock }): Promise<KeyObject> {
  let sealed = await deps.repo.getSealedAuditKey();
  if (!sealed) {
    const raw = randomBytes(32);
    try {
      const key = createSecretKey(raw);
      const genesis = chainRecord('audit.start', AUDIT_ROOT_CHAIN, deps.node ?? 'keyhold', deps.clock ?? systemClock);
      sealed = await deps.repo.initSealedAuditKey(await deps.seal.seal(raw, AUDIT_KEY_SEAL_CONTEXT), { key, genesis });
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

/**
 * Makes sure the writer's chain can be appended to, before anything is served: the root
 * chain must exist (the key does), and another chain is started once (announced in the root
 * chain, in the same transaction). A chain that started and is now empty refuses: Keyhold
 * never writes a second genesis over a wiped chain. Then usage rows that have no MAC yet
 * (written before usage rows were protected) are rebuilt from the verified records.
 */
export async function openAuditChain(deps: {
  key: KeyObject;
  chain: string;
  node: string;
  clock: Clock;
  maintenance: AuditMaintenance;
  reader: AuditReader;
  rebuildUsage: (chains: readonly string[]) => Promise<unknown>;
}): Promise<'started' | 'exists'> {
  const { chain, node, clock } = deps;
  const r = await deps.maintenance.startChain(deps.key, {
    chain,
    genesis: chainRecord('audit.start', chain, node, clock),
    announce: chain === AUDIT_ROOT_CHAIN ? undefined : chainRecord('audit.chain.start', chain, node, clock),
  });
  const stale = await deps.reader.chainsWithUnprotectedUsage();
  if (stale.length) await deps.rebuildUsage(stale);
  return r;
}
