/**
 * Who holds a database lease (an AWS sync, say), named so that the process refused can tell
 * who it waits for, and so that a holder on this host whose process died (kill -9, a crash)
 * is seen as gone at once instead of after the lease's time to live.
 */
import { hostname } from 'node:os';

/** `keyhold server (pid 123 on host)`. */
export function leaseHolderName(role: string): string {
  return `keyhold ${role} (pid ${process.pid} on ${hostname()})`;
}

/** A holder named by leaseHolderName on this host whose pid no longer exists. */
export function leaseHolderGone(holder: string): boolean {
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
