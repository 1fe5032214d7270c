import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const LOGGING = fileURLToPath(new URL('./logging.js', import.meta.url));

/** Runs `body` in a child process with `log` = createLogger at info, stdout captured. */
function child(body: string): { stdout: string; status: number | null } {
  const script = `const { createLogger } = await import(${JSON.stringify(LOGGING)}); const log = createLogger({ log: { level: 'info' } }); ${body}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return { stdout: r.stdout, status: r.status };
}

const lines = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l) as { n?: number; msg: string; level: number });

test('log lines of one turn and of later turns reach stdout whole and in order', () => {
  const r = child(`for (let i = 0; i < 500; i++) log.info({ n: i }, 'line'); setImmediate(() => { for (let i = 500; i < 1000; i++) log.info({ n: i }, 'line'); });`);
  assert.equal(r.status, 0);
  assert.deepEqual(lines(r.stdout).map((l) => l.n), Array.from({ length: 1000 }, (_, i) => i));
});

test('lines still held when the process exits are written', () => {
  const r = child(`log.info({ n: 1 }, 'before'); setImmediate(() => { log.info({ n: 2 }, 'last words'); process.exit(3); });`);
  assert.equal(r.status, 3);
  // Both lines, in either order: at exit sonic-boom writes what it holds synchronously while
  // an earlier asynchronous write may still be in flight.
  assert.deepEqual(lines(r.stdout).map((l) => [l.n, l.msg]).sort(), [[1, 'before'], [2, 'last words']]);
});
