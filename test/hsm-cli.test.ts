/**
 * The HSM from the command line, without a server: `keyhold init --seal hsm` with flags, and
 * a PIN kept sealed in storage (`keyhold hsm set-pin`).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runCli } from './support/keyhold-harness.js';
import { createSoftHsm } from './support/softhsm.js';

const hsm = createSoftHsm();
const token = hsm.addToken('hsm-cli');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  hsm.cleanup();
});

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'keyhold-hsmcli-'));
  dirs.push(d);
  return d;
}

test('init --seal hsm with --hsm-* flags writes the [hsm] section and seals with a token key', async () => {
  const dir = dataDir();
  const env = { KEYHOLD_HSM_PIN: token.userPin };
  const init = await runCli(
    [
      '--data-dir', dir, '--json', 'init', '--no-demo', '--seal', 'hsm',
      '--hsm-module', hsm.module, '--hsm-token-label', token.label, '--hsm-pin-env', 'KEYHOLD_HSM_PIN', '--hsm-profile', 'softhsm2', '--hsm-seal-key-label', 'cli-seal',
    ],
    { env },
  );
  assert.equal(init.code, 0, init.stderr);
  assert.equal((JSON.parse(init.stdout) as { seal: string }).seal, 'hsm');
  const toml = readFileSync(join(dir, 'keyhold.toml'), 'utf8');
  assert.match(toml, /\[seal\]\n(#.*\n)*type = "hsm"\nhsm_key_label = "cli-seal"/);
  assert.match(toml, /\[hsm\][\s\S]*token_label = "hsm-cli"[\s\S]*pin_env = "KEYHOLD_HSM_PIN"[\s\S]*profile = "softhsm2"/);
  assert.ok(!toml.includes(token.userPin), 'the PIN is not written to the file');

  const ks = await runCli(['--data-dir', dir, '--json', 'keystore', 'create', 'cli', '--prefix', '/cli'], { env });
  assert.equal(ks.code, 0, ks.stderr);
  const key = await runCli(['--data-dir', dir, '--json', 'key', 'create', 'cli-key', '--keystore', 'cli', '--protection', 'hsm'], { env });
  assert.equal(key.code, 0, key.stderr);
  const status = await runCli(['--data-dir', dir, '--json', 'hsm', 'status'], { env });
  assert.equal(status.code, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as { health: { status: string } }).health.status, 'ACTIVE');
});

test('a PIN sealed in storage: set-pin stores it sealed, then HSM keys work without PIN in the environment', async () => {
  const dir = dataDir();
  const init = await runCli(['--data-dir', dir, '--json', 'init', '--no-demo'], {});
  assert.equal(init.code, 0, init.stderr);
  // Add an [hsm] section that takes the PIN from storage.
  const file = join(dir, 'keyhold.toml');
  const { appendFileSync } = await import('node:fs');
  appendFileSync(file, `\n[hsm]\nmodule = "${hsm.module}"\ntoken_label = "${token.label}"\npin_sealed = true\nprofile = "softhsm2"\n`);

  const before = await runCli(['--data-dir', dir, '--json', 'hsm', 'status']);
  assert.equal(before.code, 0, before.stderr);
  assert.equal((JSON.parse(before.stdout) as { health: { status: string } }).health.status, 'UNAVAILABLE', 'no PIN stored yet');

  const set = await runCli(['--data-dir', dir, 'hsm', 'set-pin'], { input: `${token.userPin}\n` });
  assert.equal(set.code, 0, set.stderr);
  const db = new Database(join(dir, 'keyhold.db'), { readonly: true });
  const row = db.prepare("SELECT value FROM meta WHERE name = 'hsm.pin'").get() as { value: string };
  db.close();
  const sealed = Buffer.from(row.value, 'base64');
  assert.equal(sealed[0], 0x01, 'sealed under the key-file seal');
  assert.ok(!sealed.includes(Buffer.from(token.userPin)) && !row.value.includes(token.userPin));

  const ks = await runCli(['--data-dir', dir, '--json', 'keystore', 'create', 'sealedpin', '--prefix', '/sealedpin']);
  assert.equal(ks.code, 0, ks.stderr);
  const key = await runCli(['--data-dir', dir, '--json', 'key', 'create', 'sealed-pin-key', '--keystore', 'sealedpin', '--protection', 'hsm']);
  assert.equal(key.code, 0, key.stderr);
  const after = await runCli(['--data-dir', dir, '--json', 'hsm', 'status']);
  assert.equal((JSON.parse(after.stdout) as { pinSource: string; health: { status: string } }).health.status, 'ACTIVE');
});
