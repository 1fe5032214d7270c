#!/usr/bin/env node
// Runs every compiled *.test.js under dist/ with node's own test runner.
// Usage: node scripts/run-tests.mjs [filter ...]   (filters match file paths)
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
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
// A test that hangs fails after this long instead of holding the whole run (and CI) forever.
const timeout = process.env.KEYHOLD_TEST_TIMEOUT_MS ?? '300000';
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, `--test-timeout=${timeout}`, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
