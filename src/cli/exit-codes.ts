import { CommanderError } from 'commander';
import { isKeyholdError, type ErrorCode } from '../base/index.js';
import { PendingApprovalError } from './remote/index.js';
import { UsageError } from './shared.js';

/**
 * Exit codes: 0 success, 1 an operational failure, 2 bad usage or configuration, 3 not
 * found, 4 the action now waits for approvals (and 5 when `audit verify` finds a bad record,
 * set by that command in audit-commands.ts).
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, notFound: 3, pendingApproval: 4 } as const;

export function exitCodeFor(code: ErrorCode): number {
  if (code === 'ValidationFailed' || code === 'ConfigInvalid') return EXIT.usage;
  if (code === 'NotFound' || code === 'KeyNotFound' || code === 'KeyStoreNotFound') return EXIT.notFound;
  if (code === 'ApprovalPending') return EXIT.pendingApproval;
  return EXIT.failure;
}

/** Prints what went wrong (one line, no stack for the errors we expect) and returns the exit code. */
export function reportError(e: unknown, io: { stdout: (s: string) => void; stderr: (s: string) => void; json: boolean }): number {
  if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (e instanceof PendingApprovalError) {
    if (io.json) io.stdout(JSON.stringify({ pendingApproval: e.approval }, null, 2) + '\n');
    io.stderr(`keyhold: ${e.message}\n`);
    return EXIT.pendingApproval;
  }
  if (isKeyholdError(e)) {
    io.stderr(`keyhold: ${e.message}\n`);
    return exitCodeFor(e.code);
  }
  if (e instanceof UsageError) {
    io.stderr(`keyhold: ${e.message}\n`);
    return EXIT.usage;
  }
  io.stderr(`keyhold: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return EXIT.failure;
}
