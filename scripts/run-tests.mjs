#!/usr/bin/env node
// Runs every compiled *.test.js under dist/ with node's own test runner.
// Usage: node scripts/run-tests.mjs [filter ...]   (filters match file paths)
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}
const filters = process.argv.slice(2);
const files = walk('dist').filter((f) => filters.length === 0 || filters.some((x) => f.includes(x))).sort();
if (files.length === 0) {
  console.error('no test files found under dist/ (did the build run?)');
  process.exit(1);
}
const concurrency = process.env.KEYHOLD_TEST_CONCURRENCY ?? '2';
// A test that hangs fails after this long instead of holding the whole run (and CI) forever
// (on Node 20 the limit holds for each file as a whole, on 22 and later for each test).
const timeout = process.env.KEYHOLD_TEST_TIMEOUT_MS ?? '600000';
// Files with a failure are run once more, alone (KEYHOLD_TEST_RETRY=0 turns that off). A file
// that then passes is reported as FLAKY at the end, by name, so a flaky test is seen and fixed
// rather than hidden; a file that fails twice fails the run. Retries are capped so a broken
// build still fails fast.
const retry = process.env.KEYHOLD_TEST_RETRY !== '0';
const MAX_RETRIED_FILES = 4;

function run(list, conc, failedOut) {
  const args = ['--test', `--test-concurrency=${conc}`, `--test-timeout=${timeout}`];
  args.push('--test-reporter=spec', '--test-reporter-destination=stdout');
  if (failedOut) args.push(`--test-reporter=${reporter}`, `--test-reporter-destination=${failedOut}`);
  return spawnSync(process.execPath, [...args, ...list], { stdio: 'inherit' }).status ?? 1;
}

const reporter = join(dirname(fileURLToPath(import.meta.url)), 'failed-files-reporter.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'keyhold-tests-'));
const failedList = join(scratch, 'failed.txt');
const status = run(files, concurrency, retry ? failedList : undefined);
let exit = status;
if (status !== 0 && retry) {
  const failed = existsSync(failedList) ? readFileSync(failedList, 'utf8').split('\n').filter(Boolean) : [];
  if (failed.length === 0 || failed.length > MAX_RETRIED_FILES) {
    console.error(`\n${failed.length} file(s) failed: not retried (retries are for at most ${MAX_RETRIED_FILES} files)`);
  } else {
    console.error(`\n== running the ${failed.length} file(s) with a failure again, alone:\n${failed.map((f) => `   ${f}`).join('\n')}`);
    exit = run(failed, '1', undefined);
    if (exit === 0) console.error(`\nFLAKY (failed, then passed alone; fix these):\n${failed.map((f) => `   ${relative(process.cwd(), f)}`).join('\n')}`);
    else console.error('\nfailed again when run alone: a real failure');
  }
}
rmSync(scratch, { recursive: true, force: true });
process.exit(exit);
