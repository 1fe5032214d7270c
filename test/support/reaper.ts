/**
 * Servers a test file starts (Keyhold, moto, PostgreSQL) die with the file's process. When
 * the test runner stops a file (a timeout on Node 20 ends the whole file with SIGTERM) its
 * `after` hooks never run, and children left behind would keep running, loading the machine
 * for every later file. Children passed to reap() are killed when this process exits, for
 * whatever reason.
 */
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
let installed = false;

function install(): void {
  installed = true;
  process.once('exit', () => {
    for (const c of live) {
      try {
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  // A signal's default action skips 'exit' handlers; exiting on it runs them.
  for (const [sig, n] of [['SIGTERM', 15], ['SIGINT', 2], ['SIGHUP', 1]] as const) process.once(sig, () => process.exit(128 + n));
}

export function reap<T extends ChildProcess>(child: T): T {
  if (!installed) install();
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}
