import { isoNow, type Clock, type Logger } from '../base/index.js';
import type { AdminActionRecord } from './admin-model.js';
import type { AdminAuditSink } from './admin-ports.js';
import type { DueWork, KeyService } from './key-service.js';
import type { ScheduledLinkRun } from './aws-key-service.js';

export interface LifecycleRun extends DueWork {
  expiredApprovals: number;
  purgedSessions: number;
  /** Linked AWS keys of the keys rotated (and earlier failures retried): one outcome per link. */
  links: ScheduledLinkRun['outcomes'];
}

export type LifecycleScheduler = ReturnType<typeof createLifecycleScheduler>;

/**
 * The server's housekeeping loop: rotates keys whose rotation is due, destroys keys whose
 * deletion date has passed, expires overdue approval requests and purges dead sessions.
 * Rotations of keys linked to AWS keys (bring your own key) are carried to those keys.
 * Every key change it makes is recorded as an admin action by "system". Runs do not
 * overlap. In a cluster only the node holding the lease runs passes (src/domain/cluster.ts),
 * and the storage's optimistic checks still keep a key from rotating twice.
 */
export function createLifecycleScheduler(deps: {
  keys: Pick<KeyService, 'runDue'>;
  /**
   * Bring your own key: carries a scheduled rotation to the AWS keys linked to the key, as
   * `key rotate --linked` does; links that fail are retried on the next pass.
   */
  linkedKeys?: { rotateScheduledLinks(rotated: readonly string[], opts: { actor: string }): Promise<ScheduledLinkRun> };
  approvals?: { expireDue(): Promise<number> };
  identity?: { purgeExpiredSessions(): Promise<number> };
  /** More periodic work (e.g. the audit log's retention policy): run after the rest, failures logged. */
  housekeeping?: { name: string; run(): Promise<unknown> }[];
  audit: AdminAuditSink;
  clock: Clock;
  intervalMs: number;
  log: Logger;
  /** In a cluster: whether this node holds the background-work lease right now; a pass runs only then. */
  mayRun?: () => boolean;
}) {
  const { clock, log } = deps;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<LifecycleRun> | undefined;
  const reported = new Map<string, string>();

  function record(action: string, target: string, outcome: AdminActionRecord['outcome'], change: unknown): AdminActionRecord {
    return {
      at: isoNow(clock),
      actor: { userId: null, username: 'system', role: null, via: 'system' },
      sourceIp: null,
      action,
      method: null,
      path: null,
      target,
      outcome,
      status: null,
      errorCode: outcome === 'failed' ? 'Internal' : null,
      change,
      approvalId: null,
    };
  }

  /** Never throws: a failure of the AWS side is logged and recorded, and retried next pass. */
  async function carryToLinkedKeys(rotated: string[]): Promise<LifecycleRun['links']> {
    if (!deps.linkedKeys) return [];
    let outcomes: LifecycleRun['links'];
    try {
      outcomes = (await deps.linkedKeys.rotateScheduledLinks(rotated, { actor: 'system' })).outcomes;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      log.error({ event: 'linked_rotation_failed', err: message }, 'carrying scheduled rotations to linked AWS keys failed; retrying on the next run');
      return [];
    }
    for (const o of outcomes) {
      const id = `aws:${o.awsKeyArn}`;
      const change = { localKey: o.localKey, version: o.version, strategy: o.strategy, newArn: o.newArn, retry: o.retry, ...(o.error !== null ? { message: o.error } : {}) };
      if (o.error === null) {
        reported.delete(id);
        await deps.audit.recordAdminAction(record('aws.keys.rotate-linked.scheduled', o.awsKeyArn, 'ok', change));
        continue;
      }
      // Retried every run; recorded again only when the failure changes.
      if (reported.get(id) === o.error) continue;
      reported.set(id, o.error);
      log.error({ event: 'linked_rotation_failed', key: o.localKey, awsKey: o.awsKeyArn, err: o.error }, 'carrying a scheduled rotation to a linked AWS key failed; retrying on every run');
      await deps.audit.recordAdminAction(record('aws.keys.rotate-linked.scheduled', o.awsKeyArn, 'failed', change));
    }
    return outcomes;
  }

  async function run(): Promise<LifecycleRun> {
    if (deps.mayRun && !deps.mayRun()) return { rotated: [], destroyed: [], failed: [], expiredApprovals: 0, purgedSessions: 0, links: [] };
    const work = await deps.keys.runDue();
    for (const k of work.rotated) await deps.audit.recordAdminAction(record('keys.rotate.scheduled', k, 'ok', { reason: 'rotation period elapsed' }));
    for (const k of work.destroyed) await deps.audit.recordAdminAction(record('keys.destroy', k, 'ok', { reason: 'deletion waiting period elapsed' }));
    for (const f of work.failed) {
      // A failure that repeats every run is logged and recorded once, not every minute.
      if (reported.get(f.keyId) === f.message) continue;
      reported.set(f.keyId, f.message);
      log.error({ event: 'lifecycle_failed', key: f.keyId, err: f.message }, 'scheduled key work failed; retrying on every run');
      await deps.audit.recordAdminAction(record('keys.scheduled-work', f.keyId, 'failed', { message: f.message }));
    }
    for (const k of [...work.rotated, ...work.destroyed]) reported.delete(k);
    const links = await carryToLinkedKeys(work.rotated);
    const expiredApprovals = (await deps.approvals?.expireDue()) ?? 0;
    const purgedSessions = (await deps.identity?.purgeExpiredSessions()) ?? 0;
    for (const h of deps.housekeeping ?? []) {
      await h.run().catch((e: unknown) => log.error({ event: 'housekeeping_failed', task: h.name, err: e instanceof Error ? e.message : String(e) }, `${h.name} failed; retrying on the next run`));
    }
    if (work.rotated.length || work.destroyed.length || expiredApprovals) {
      log.info({ event: 'lifecycle', rotated: work.rotated, destroyed: work.destroyed, expiredApprovals }, 'scheduled key work done');
    }
    return { ...work, expiredApprovals, purgedSessions, links };
  }

  return {
    /** One pass now (tests call this with a moved clock); joins a pass already in flight. */
    runOnce(): Promise<LifecycleRun> {
      running ??= run().finally(() => (running = undefined));
      return running;
    },
    start(): void {
      if (timer) return;
      timer = setInterval(() => {
        this.runOnce().catch((e) => log.error({ event: 'lifecycle_failed', err: e instanceof Error ? e.message : String(e) }, 'scheduled key work failed'));
      }, deps.intervalMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
  };
}
