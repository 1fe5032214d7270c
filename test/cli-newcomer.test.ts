import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './support/keyhold-harness.js';
import { createSoftHsm } from './support/softhsm.js';

/**
 * A newcomer's first hour (issue 15): a failed init leaves nothing behind, a second start
 * on one data directory is refused, errors are one clear line naming their source,
 * `keyhold status`, nested help, and what init writes.
 */

const roots: string[] = [];
const hsm = createSoftHsm();
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
  hsm.cleanup();
});
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'keyhold-newcomer-'));
  roots.push(d);
  return d;
}
const env = { KEYHOLD_LOG_LEVEL: 'warn', KEYHOLD_WORKERS: '1' };

test('a failed init (HSM seal, no PIN source) leaves nothing behind, and the next init works', async () => {
  const token = hsm.addToken();
  for (const existing of [false, true]) {
    const dir = join(scratch(), 'data');
    if (existing) mkdirSync(dir);
    const failed = await runCli(['--data-dir', dir, 'init', '--seal', 'hsm', '--hsm-module', hsm.module, '--hsm-token-label', token.label, '--hsm-profile', 'softhsm2'], { env });
    assert.notEqual(failed.code, 0, failed.stdout);
    assert.match(failed.stderr, /^keyhold: /);
    if (existing) assert.deepEqual(readdirSync(dir), [], 'a directory that existed is left as it was: empty');
    else assert.equal(existsSync(dir), false, `init created ${dir} and must remove it: ${existsSync(dir) ? readdirSync(dir).join(', ') : ''}`);
    const again = await runCli(['--data-dir', dir, '--json', 'init', '--no-demo'], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { seal: string }).seal, 'keyfile');
  }
});
