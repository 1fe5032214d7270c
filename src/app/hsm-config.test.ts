import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hsmSection, resolveHsmConfig } from './hsm-config.js';

const dir = mkdtempSync(join(tmpdir(), 'keyhold-hsmcfg-'));
const module = join(dir, 'libvendor.so');
writeFileSync(module, '');
const pinFile = join(dir, 'pin');
writeFileSync(pinFile, '123456\n');
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const resolve = (section: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, sealType = 'keyfile') =>
  resolveHsmConfig(hsmSection.parse({ module, token_label: 'prod', ...section }), { env, path: (p) => (p.startsWith('/') ? p : join(dir, p)), sealType });

test('reads the PIN from the named environment variable', () => {
  const r = resolve({ pin_env: 'VENDOR_PIN' }, { VENDOR_PIN: 's3cret' });
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.config?.pin, { source: 'env', name: 'VENDOR_PIN', value: 's3cret' });
});

test('reads the PIN from a file, without its trailing newline', () => {
  const r = resolve({ pin_file: 'pin' });
  assert.deepEqual(r.config?.pin, { source: 'file', path: pinFile, value: '123456' });
});

test('lists every problem by its setting name', () => {
  const r = resolveHsmConfig(hsmSection.parse({ module: '/nope/lib.so', token_label: 'x', pin_env: 'UNSET_PIN', pin_file: 'missing' }), { env: {}, path: (p) => join(dir, p), sealType: 'keyfile' });
  assert.equal(r.config, undefined);
  assert.ok(r.problems.some((p) => p.startsWith('hsm.module:')));
  assert.ok(r.problems.some((p) => p.includes('choose one PIN source')));
  assert.ok(r.problems.some((p) => p.startsWith('hsm.pin_env:')));
});

test('a PIN cannot be sealed by the HSM seal it unlocks', () => {
  const r = resolve({ pin_sealed: true }, {}, 'hsm');
  assert.match(r.problems.join('\n'), /hsm.pin_sealed/);
  assert.deepEqual(resolve({ pin_sealed: true }).config?.pin, { source: 'sealed' });
});

test('there is no PIN in the file and no default PIN', () => {
  assert.throws(() => hsmSection.parse({ module, token_label: 'x', user_pin: '1234' }));
  assert.deepEqual(resolve({}).config?.pin, { source: 'none' });
});

test('applies the profile and its overrides; bounds the time budget below 250 ms', () => {
  const r = resolve({ profile: 'cloudhsm', iv_strategy: 'caller', timeout_ms: 120 });
  assert.equal(r.config?.profile.name, 'cloudhsm');
  assert.equal(r.config?.profile.ivStrategy, 'caller');
  assert.equal(r.config?.timeoutMs, 120);
  assert.throws(() => hsmSection.parse({ module, token_label: 'x', timeout_ms: 300 }));
  assert.throws(() => hsmSection.parse({ module, token_label: 'x', profile: 'unknown' }));
});

test('PKCS#11 calls run on worker threads unless dispatch = "inline" is chosen', () => {
  assert.equal(resolve({}).config?.dispatch, 'threads');
  assert.equal(resolve({ dispatch: 'inline' }).config?.dispatch, 'inline');
  for (const profile of ['nshield', 'luna', 'cloudhsm', 'fortanix', 'generic'] as const) assert.equal(resolve({ profile }).config?.dispatch, 'threads', `${profile}: a network HSM keeps worker threads`);
  assert.throws(() => hsmSection.parse({ module, token_label: 'x', dispatch: 'async' }));
});

test('the softhsm2 profile runs PKCS#11 calls on the event loop by default; dispatch = "threads" still chooses threads', () => {
  assert.equal(resolve({ profile: 'softhsm2' }).config?.dispatch, 'inline');
  assert.equal(resolve({ profile: 'softhsm2', dispatch: 'threads' }).config?.dispatch, 'threads');
});
