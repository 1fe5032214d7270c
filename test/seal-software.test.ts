import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeyFile, openSeal } from '../src/seal/index.js';
import { sealConformance } from './seal-conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'keyhold-seal-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

sealConformance('key file', async () => {
  const settings = { dataDir: dir, seal: { type: 'keyfile' as const, keyFile: join(dir, 'seal.key') } };
  return {
    kind: 'keyfile',
    settings,
    async openWrong(meta) {
      const other = join(dir, 'other-seal.key');
      await createKeyFile(other);
      return openSeal({ ...settings, seal: { type: 'keyfile', keyFile: other } }, meta);
    },
    async close() {},
  };
});

sealConformance('passphrase', async () => {
  const settings = { dataDir: dir, seal: { type: 'passphrase' as const, passphrase: 'correct horse battery staple' } };
  return {
    kind: 'passphrase',
    settings,
    openWrong: (meta) => openSeal({ ...settings, seal: { type: 'passphrase', passphrase: 'incorrect horse battery staple' } }, meta),
    async close() {},
  };
});
