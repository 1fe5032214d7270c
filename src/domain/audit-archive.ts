import { z } from 'zod';
import { fail } from '../base/index.js';
import { always, spec, type ApprovalActionSpec } from './approval-spec.js';

/**
 * A segment's file name in archive_dir: letters, digits, '.', '_' and '-', starting with a
 * letter or digit, ending in .jsonl. No '/' and no leading '.', so no name leaves the
 * directory or names a hidden file.
 */
export const SEGMENT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,194}\.jsonl$/;

/** What an archive into the server's archive_dir did. */
export interface AuditArchiveResult {
  /** The segment's file name in archive_dir (download it by this name). */
  file: string;
  /** The cutoff: records before this time (ISO-8601) were archived. */
  before: string;
  /** Records removed from the live log (all of them are in the segment). */
  removed: number;
  /** The segment's size in bytes. */
  bytes: number;
  chains: { chain: string; from: number; to: number; count: number }[];
}

/** An archived segment in archive_dir, as its signed trailer describes it (null: the trailer is unreadable). */
export interface AuditSegmentInfo {
  name: string;
  bytes: number;
  /** When the segment was written (its trailer's time, else the file's modification time). */
  createdAt: string;
  before: string | null;
  records: number | null;
  chains: { chain: string; from: number; to: number; count: number }[];
}

/** Archiving into archive_dir (the server's, or the data directory's for the CLI). */
export interface AuditArchiveOps {
  /** Refuses an archive that could not run (before not a time, in the future, nothing to archive); returns the cutoff. */
  check(before: string): Promise<string>;
  /** Writes and syncs the segment into archive_dir, then removes its records from the log. */
  archive(before: string): Promise<AuditArchiveResult>;
}

/**
 * Archiving removes records from the live log (they stay verifiable in the segment): it
 * falls under the `audit.archive` rule. `ops` is read when the request runs (the audit log
 * opens after the approval service); without it the action answers Unsupported.
 */
export function auditApprovalActions(ops: () => AuditArchiveOps | undefined): Record<'audit.archive', ApprovalActionSpec> {
  const svc = () => ops() ?? fail('Unsupported', 'this process cannot archive the audit log (a running server does, into its [audit] archive_dir)');
  return {
    'audit.archive': spec(z.object({ before: z.string().min(1).max(40) }), {
      // The cutoff is fixed when the request is filed: an approval archives what was asked.
      bind: async (p) => ({ before: await svc().check(p.before) }),
      rules: always('audit.archive'),
      summary: (p) => `archive the audit records before ${p.before} into a signed segment in the server's archive_dir, removing them from the live log`,
      check: async (p) => void (await svc().check(p.before)),
      run: (p) => svc().archive(p.before),
    }),
  };
}
