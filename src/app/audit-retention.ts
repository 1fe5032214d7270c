import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Clock, Logger } from '../base/index.js';
import type { AuditService } from '../domain/index.js';
import type { AuditConfig } from './config.js';
import { archiveInto } from './audit-archive.js';

export interface AuditDiskState {
  freeBytes: number;
  totalBytes: number;
  low: boolean;
}

export interface AuditDiskWatch {
  /** The latest reading (undefined before the first). */
  state(): AuditDiskState | undefined;
  /** Why health is degraded, when the disk is low. */
  degradedBy(): string | undefined;
  check(): Promise<AuditDiskState>;
  stop(): void;
}

/**
 * Free space on the file system that holds the audit log (the SQLite database), read every
 * intervalMs: below the watermark (bytes or share of the disk, whichever is larger) health
 * turns DEGRADED, `onChange` is told (the metrics), and a warning is logged once, well
 * before a full disk makes every audited call fail.
 */
export function watchAuditDisk(opts: {
  path: string;
  minFreeBytes: number;
  minFreeRatio: number;
  intervalMs: number;
  log?: Logger | undefined;
  onReading?: (s: AuditDiskState) => void;
}): AuditDiskWatch {
  let last: AuditDiskState | undefined;
  const dir = dirname(opts.path);
  async function check(): Promise<AuditDiskState> {
    const s = await statfs(dir);
    const freeBytes = s.bavail * s.bsize;
    const totalBytes = s.blocks * s.bsize;
    const low = freeBytes < Math.max(opts.minFreeBytes, opts.minFreeRatio * totalBytes);
    if (low && !last?.low) {
      opts.log?.warn({ event: 'audit_disk_low', freeBytes, totalBytes, dir }, 'the disk holding the audit log is nearly full: archive records (keyhold audit archive) or add space; health is DEGRADED');
    } else if (!low && last?.low) opts.log?.info({ event: 'audit_disk_ok', freeBytes, dir }, 'the disk holding the audit log has room again');
    last = { freeBytes, totalBytes, low };
    opts.onReading?.(last);
    return last;
  }
  const timer = setInterval(() => void check().catch(() => undefined), opts.intervalMs);
  timer.unref();
  return {
    state: () => last,
    degradedBy: () => (last?.low ? `the disk holding the audit log has ${Math.floor(last.freeBytes / 2 ** 20)} MiB free` : undefined),
    check,
    stop: () => clearInterval(timer),
  };
}

/**
 * The automatic retention policy, run by the lifecycle scheduler: records older than
 * retentionMs, and the oldest ones while more than retentionMaxRecords are in the log (down
 * to 90 % of it), are archived into a new segment file in archiveDir (written and synced
 * before anything is removed), as `keyhold audit archive` does.
 */
export function auditRetentionTask(
  audit: Pick<AuditService, 'archive' | 'admin' | 'sizeCutoff'>,
  cfg: Pick<AuditConfig, 'retentionMs' | 'retentionMaxRecords' | 'archiveDir'>,
  clock: Clock,
  log?: Logger,
): { name: string; run(): Promise<unknown> } {
  return {
    name: 'audit.retention',
    async run() {
      const byAge = cfg.retentionMs > 0 ? new Date(clock.now() - cfg.retentionMs).toISOString() : undefined;
      const bySize = cfg.retentionMaxRecords > 0 ? await audit.sizeCutoff(cfg.retentionMaxRecords, Math.floor(cfg.retentionMaxRecords * 0.9)) : undefined;
      // The later cutoff archives more: each policy's bound holds.
      const before = [byAge, bySize].filter((t): t is string => t !== undefined).sort().pop();
      if (before === undefined) return { removed: 0 };
      const r = await archiveInto(audit, cfg.archiveDir, before);
      if (r.file === undefined) return { removed: 0 };
      const { file, removed } = r;
      const policy = before === bySize ? 'size' : 'age';
      await audit.admin({ actor: 'system', source: 'scheduler', action: 'audit.archive', target: 'audit-log', outcome: 'ok', change: { before, file, removed, chains: r.chains, policy } });
      log?.info({ event: 'audit_archived', before, file, removed, policy }, 'archived old audit records');
      return { removed, file };
    },
  };
}
