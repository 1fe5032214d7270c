import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isKeyholdError } from '../base/index.js';
import { CONFIG_FILE_NAME, defaultConfigToml, loadConfig, type Config } from './config.js';

const root = mkdtempSync(join(tmpdir(), 'keyhold-config-'));
after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A fresh data directory, optionally with a keyhold.toml. */
function dataDir(toml?: string): string {
  const dir = join(root, `d${n++}`);
  mkdirSync(dir);
  if (toml !== undefined) writeFileSync(join(dir, CONFIG_FILE_NAME), toml);
  return dir;
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(isKeyholdError(e, 'ConfigInvalid'), `ConfigInvalid expected, got ${String(e)}`);
    return e.message;
  }
  assert.fail('the configuration was accepted');
}

test('defaults without a file: loopback 8443, paths inside the data directory, spec-safe limits, key file seal', () => {
  const dir = dataDir();
  const c = loadConfig({ dataDir: dir, env: {} });
  assert.equal(c.configFile, undefined);
  assert.deepEqual(c.xks.listen, { host: '127.0.0.1', port: 8443 });
  assert.equal((c.storage as { path: string }).path, join(dir, 'keyhold.db'));
  assert.deepEqual(c.seal, { type: 'keyfile', keyFile: join(dir, 'seal.key') });
  assert.equal(c.xks.tls.certFile, join(dir, 'tls/server.crt'));
  assert.equal(c.xks.tls.keyFile, join(dir, 'tls/server.key'));
  assert.equal(c.xks.tls.clientCaFile, undefined);
  assert.deepEqual(c.xks.tls.clientSubjects, []);
  assert.ok(c.xks.limits.maxPlaintextBytes >= 4300 && c.xks.limits.maxAadBytes >= 8192);
  assert.equal(c.xks.maxClockSkewMs, 300_000);
  assert.ok(c.xks.maxBodyBytes >= 32_768);
  assert.ok(c.health.maxAgeMs <= 60_000, 'the spec allows health results at most a minute old');
  assert.equal(c.log.level, 'info');
});

test('the file init writes states exactly the defaults', () => {
  const withFile = loadConfig({ dataDir: dataDir(defaultConfigToml()), env: {} });
  const without = loadConfig({ dataDir: dataDir(), env: {} });
  const strip = (c: Readonly<Config>) => JSON.parse(JSON.stringify({ ...c, dataDir: undefined, configFile: undefined }).split(c.dataDir).join('<dir>')) as unknown;
  assert.deepEqual(strip(withFile), strip(without));
  assert.ok(withFile.configFile?.endsWith(CONFIG_FILE_NAME));
});

test('the configuration is frozen', () => {
  const c = loadConfig({ dataDir: dataDir(), env: {} });
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.xks) && Object.isFrozen(c.xks.listen) && Object.isFrozen(c.xks.tls.clientSubjects));
  assert.throws(() => {
    (c.xks.listen as { port: number }).port = 1;
  }, TypeError);
});

test('every problem is listed with its setting name, all at once', () => {
  const dir = dataDir(`
[storage]
type = "mysql"
[seal]
type = "tpm"
[xks]
listen = "everywhere"
max_plaintext_bytes = 4299
max_aad_bytes = 100
max_clock_skew_seconds = 0
max_body_bytes = "big"
mtls_client_subjects = "cks.kms.eu-west-1.amazonaws.com"
[health]
max_age_seconds = 120
[log]
level = "loud"
[surprise]
x = 1
`);
  const message = configError(() => loadConfig({ dataDir: dir, env: {} }));
  assert.ok(message.includes(join(dir, CONFIG_FILE_NAME)), 'names the file');
  for (const setting of [
    'storage.type',
    'seal.type',
    'xks.listen',
    'xks.max_plaintext_bytes',
    'xks.max_aad_bytes',
    'xks.max_clock_skew_seconds',
    'xks.max_body_bytes',
    'xks.mtls_client_subjects',
    'health.max_age_seconds',
    'log.level',
  ]) {
    assert.match(message, new RegExp(`^  - ${setting.replace('.', '\\.')}: `, 'm'), `lists ${setting}:\n${message}`);
  }
  assert.match(message, /surprise/, 'names the unknown section');
});

test('unknown keys are refused, not ignored (a typo must not silently keep a default)', () => {
  const message = configError(() => loadConfig({ dataDir: dataDir('[xks]\nlisten_addr = "0.0.0.0:443"\n'), env: {} }));
  assert.match(message, /xks/);
  assert.match(message, /listen_addr/);
});

test('a file that is not TOML is reported with its path', () => {
  const dir = dataDir('[xks\nlisten = ');
  assert.match(configError(() => loadConfig({ dataDir: dir, env: {} })), new RegExp(`cannot read ${join(dir, CONFIG_FILE_NAME).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.match(configError(() => loadConfig({ dataDir: dataDir(), configFile: join(root, 'absent.toml'), env: {} })), /absent\.toml/);
});

test('environment variables override the file, flags override both; empty variables are ignored', () => {
  const dir = dataDir('[xks]\nlisten = "127.0.0.1:9000"\n[log]\nlevel = "warn"\n[storage]\npath = "file.db"\n');
  assert.equal(loadConfig({ dataDir: dir, env: {} }).xks.listen.port, 9000);
  const env = { KEYHOLD_XKS_LISTEN: '0.0.0.0:9443', KEYHOLD_LOG_LEVEL: 'debug', KEYHOLD_STORAGE_PATH: '/var/lib/keyhold/k.db', KEYHOLD_SEAL_KEY_FILE: 'other.key' };
  const c = loadConfig({ dataDir: dir, env });
  assert.deepEqual(c.xks.listen, { host: '0.0.0.0', port: 9443 });
  assert.equal(c.log.level, 'debug');
  assert.equal((c.storage as { path: string }).path, '/var/lib/keyhold/k.db');
  assert.deepEqual(c.seal, { type: 'keyfile', keyFile: join(dir, 'other.key') });
  assert.deepEqual(loadConfig({ dataDir: dir, env, overrides: { 'xks.listen': '[::1]:7443' } }).xks.listen, { host: '::1', port: 7443 });
  assert.equal(loadConfig({ dataDir: dir, env, overrides: { 'xks.listen': undefined } }).xks.listen.port, 9443, 'an absent flag overrides nothing');
  assert.equal(loadConfig({ dataDir: dir, env: { KEYHOLD_XKS_LISTEN: '' } }).xks.listen.port, 9000);
  // A bad override is reported under the setting's name, like a bad file value.
  assert.match(configError(() => loadConfig({ dataDir: dir, env: { KEYHOLD_LOG_LEVEL: 'loud' } })), /log\.level/);
  assert.match(configError(() => loadConfig({ dataDir: dir, env: {}, overrides: { 'xks.listen': '127.0.0.1:65536' } })), /xks\.listen/);
});

test('KEYHOLD_DATA_DIR and KEYHOLD_CONFIG choose the directory and the file; an argument wins over the variable', () => {
  const fromEnv = dataDir('[xks]\nlisten = "127.0.0.1:9100"\n');
  assert.equal(loadConfig({ env: { KEYHOLD_DATA_DIR: fromEnv } }).dataDir, fromEnv);
  assert.equal(loadConfig({ env: { KEYHOLD_DATA_DIR: fromEnv } }).xks.listen.port, 9100);
  const other = dataDir();
  assert.equal(loadConfig({ dataDir: other, env: { KEYHOLD_DATA_DIR: fromEnv } }).dataDir, other);

  // Relative paths in a file are relative to that file's directory.
  const confDir = join(root, 'etc-keyhold');
  mkdirSync(confDir);
  const file = join(confDir, 'custom.toml');
  writeFileSync(file, '[storage]\npath = "db/keyhold.db"\n[xks]\ntls_cert = "/abs/cert.pem"\nmtls_client_ca = "ca.pem"\nmtls_client_subjects = ["cks.kms.eu-west-1.amazonaws.com"]\n');
  const c = loadConfig({ dataDir: other, env: { KEYHOLD_CONFIG: file } });
  assert.equal(c.configFile, file);
  assert.equal((c.storage as { path: string }).path, join(confDir, 'db/keyhold.db'));
  assert.equal(c.xks.tls.certFile, '/abs/cert.pem');
  assert.equal(c.xks.tls.clientCaFile, join(confDir, 'ca.pem'));
  assert.deepEqual(c.xks.tls.clientSubjects, ['cks.kms.eu-west-1.amazonaws.com']);
});

test('mTLS subject names need a client CA', () => {
  const message = configError(() => loadConfig({ dataDir: dataDir('[xks]\nmtls_client_subjects = ["cks.kms.eu-west-1.amazonaws.com"]\n'), env: {} }));
  assert.match(message, /xks\.mtls_client_subjects: needs xks\.mtls_client_ca/);
});

test('secrets have no defaults and never come from the file', () => {
  // The passphrase seal without a passphrase: nothing is made up.
  const c = loadConfig({ dataDir: dataDir('[seal]\ntype = "passphrase"\n'), env: {} });
  assert.deepEqual(c.seal, { type: 'passphrase', passphrase: undefined });
  assert.deepEqual(loadConfig({ dataDir: dataDir(), env: { KEYHOLD_SEAL_TYPE: 'passphrase' } }).seal, { type: 'passphrase', passphrase: undefined });
  // It comes from the environment ...
  const fromEnv = loadConfig({ dataDir: dataDir(), env: { KEYHOLD_SEAL_TYPE: 'passphrase', KEYHOLD_SEAL_PASSPHRASE: 'correct horse battery staple' } });
  assert.deepEqual(fromEnv.seal, { type: 'passphrase', passphrase: 'correct horse battery staple' });
  // ... or from a file named by the environment (one trailing newline dropped) ...
  const pf = join(root, 'passphrase.txt');
  writeFileSync(pf, 'from a file, with spaces \n');
  assert.deepEqual(loadConfig({ dataDir: dataDir(), env: { KEYHOLD_SEAL_TYPE: 'passphrase', KEYHOLD_SEAL_PASSPHRASE_FILE: pf } }).seal, { type: 'passphrase', passphrase: 'from a file, with spaces ' });
  assert.match(configError(() => loadConfig({ dataDir: dataDir(), env: { KEYHOLD_SEAL_TYPE: 'passphrase', KEYHOLD_SEAL_PASSPHRASE_FILE: join(root, 'nope.txt') } })), /KEYHOLD_SEAL_PASSPHRASE_FILE/);
  // ... never from keyhold.toml.
  for (const toml of ['[seal]\ntype = "passphrase"\npassphrase = "in-the-file"\n', 'passphrase = "x"\n', '[xks]\nsecret_access_key = "x"\n']) {
    assert.throws(() => loadConfig({ dataDir: dataDir(toml), env: {} }), (e: unknown) => isKeyholdError(e, 'ConfigInvalid'), toml);
  }
  // The key file seal names a file; no key material is part of the configuration.
  const keyfile = loadConfig({ dataDir: dataDir(), env: {} });
  assert.deepEqual(Object.keys(keyfile.seal).sort(), ['keyFile', 'type']);
});

test('the passphrase is not read when the key file seal is configured', () => {
  const c = loadConfig({ dataDir: dataDir(), env: { KEYHOLD_SEAL_PASSPHRASE: 'unused but present' } });
  assert.ok(!JSON.stringify(c).includes('unused but present'));
});

test('a body cap too small for the plaintext and AAD limits is refused', () => {
  const dir = dataDir(`
[xks]
max_plaintext_bytes = 65536
max_body_bytes = 65536
`);
  assert.match(configError(() => loadConfig({ dataDir: dir, env: {} })), /xks\.max_body_bytes: 65536 is too small/);
});

test('a postgres URL must not carry a password', () => {
  const dir = dataDir(`
[storage]
type = "postgres"
url = "postgres://keyhold:hunter2@db.example.com/keyhold"
`);
  assert.match(configError(() => loadConfig({ dataDir: dir, env: {} })), /storage\.url: must not contain a password/);
});
