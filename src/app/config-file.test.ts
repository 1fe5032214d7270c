import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_FILE_NAME, defaultConfigToml, loadConfig, settingNames, type Config } from './config.js';

/** `section.key` for every `key = ...` line, commented out or not, under its [section]. */
function listedSettings(toml: string): Set<string> {
  const out = new Set<string>();
  let section = '';
  for (const line of toml.split('\n')) {
    const s = /^#?\s*\[([a-z_.]+)\]\s*$/.exec(line);
    if (s) section = s[1]!;
    const k = /^#?\s*([a-z_]+)\s*=/.exec(line);
    if (k && section) out.add(`${section}.${k[1]}`);
  }
  return out;
}

const hsmConfig = {
  hsm: {
    module: '/usr/lib/softhsm/libsofthsm2.so',
    tokenLabel: 't',
    pin: { source: 'env', name: 'KEYHOLD_HSM_PIN', value: 'x' },
    profile: { name: 'softhsm2', ivStrategy: 'token-generated', callerIvSource: 'host' },
    sessions: 4,
    timeoutMs: 150,
    keyLabelPrefix: 'keyhold',
    dispatch: 'threads',
  },
} as unknown as Pick<Config, 'hsm'>;

test('the keyhold.toml init writes lists every setting of the schema (set, or commented out)', () => {
  const all = settingNames();
  assert.ok(all.length > 50 && all.includes('audit.syslog.queue_size') && all.includes('hsm.caller_iv_source'), 'the schema is read');
  const plain = listedSettings(defaultConfigToml());
  assert.deepEqual(all.filter((n) => !n.startsWith('hsm.') && !plain.has(n)), []);
  const withHsm = listedSettings(defaultConfigToml({ seal: { type: 'hsm', keyLabel: 'keyhold-seal' }, ...hsmConfig }));
  assert.deepEqual(all.filter((n) => !withHsm.has(n)), []);
});

test('the written file loads to the very defaults a data directory without one runs with', () => {
  const root = mkdtempSync(join(tmpdir(), 'keyhold-config-file-'));
  try {
    const withFile = join(root, 'with');
    const without = join(root, 'without');
    mkdirSync(withFile);
    mkdirSync(without);
    writeFileSync(join(withFile, CONFIG_FILE_NAME), defaultConfigToml());
    const a = loadConfig({ dataDir: withFile, env: {} });
    const b = loadConfig({ dataDir: without, env: {} });
    assert.equal(a.configFile, join(withFile, CONFIG_FILE_NAME));
    const norm = (c: Config, dir: string) => JSON.stringify({ ...c, configFile: undefined }).split(dir).join('<data-dir>');
    assert.equal(norm(a, withFile), norm(b, without));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
