/**
 * Wiring of the AWS key service (bring your own key): sessions on a connection's
 * credentials, unsealed only in memory, with the BYOK operations of src/aws.
 */
import { hostname } from 'node:os';
import { fail, type Clock } from '../base/index.js';
import { byokSessionOf, createAwsClients, type AwsProxySettings } from '../aws/index.js';
import { awsSecretSealContext, createAwsKeyService, type AwsConnectionRecord, type AwsKeyService, type KeyService, type Seal, type Storage } from '../domain/index.js';

/** Who holds a sync lease, as the process refused sees it: `keyhold server (pid 123 on host)`. */
export function syncLeaseHolder(role: string): string {
  return `keyhold ${role} (pid ${process.pid} on ${hostname()})`;
}

/** A holder named by syncLeaseHolder on this host whose pid no longer exists: its process died. */
export function syncLeaseHolderGone(holder: string): boolean {
  const m = /\(pid (\d+) on ([^)]+)\)/.exec(holder);
  if (!m || m[2] !== hostname()) return false;
  const pid = Number(m[1]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export function createAppAwsKeys(deps: { storage: Storage; seal: Seal; keys: KeyService; clock: Clock; proxy: AwsProxySettings; role?: string; syncLeaseMs?: number; backoffMs?: number; sleep?: (ms: number) => Promise<void> }): AwsKeyService {
  const { storage, seal } = deps;
  return createAwsKeyService({
    repo: storage,
    keys: deps.keys,
    clock: deps.clock,
    // One sync per connection and Region across every process on this database.
    syncLease: { leases: storage.cluster, holder: syncLeaseHolder(deps.role ?? 'CLI'), holderGone: syncLeaseHolderGone, ...(deps.syncLeaseMs !== undefined ? { ttlMs: deps.syncLeaseMs } : {}) },
    ...(deps.backoffMs !== undefined ? { backoffMs: deps.backoffMs } : {}),
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    async open(name) {
      const rec = (await storage.getAwsConnection(name)) ?? fail('NotFound', `AWS connection '${name}' does not exist`);
      let secretAccessKey: string | null = null;
      if (rec.sealedSecret) {
        const buf = await seal.unseal(rec.sealedSecret, awsSecretSealContext(rec.id));
        secretAccessKey = buf.toString('utf8');
        buf.fill(0);
      }
      const { sealedSecret: _s, ...connection } = rec satisfies AwsConnectionRecord;
      return { connection, session: byokSessionOf(createAwsClients(connection, { secretAccessKey }, { proxy: deps.proxy })) };
    },
  });
}
