import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDirectory } from './directory.js';
import type { Seal } from './ports.js';

type Repo = Parameters<typeof createDirectory>[0]['repo'];

test('a reload still running when the directory closes reports nothing and keeps no unsealed secret', async () => {
  let notify = () => {};
  let release = () => {};
  let slow = false;
  const unsealed: Buffer[] = [];
  const errors: unknown[] = [];
  const repo = {
    listKeyStores: async () => {
      if (slow) await new Promise<void>((r) => (release = r));
      return [{ id: 'ks-1', name: 'payments', prefix: '/payments', regions: [] }];
    },
    listLiveCredentials: async () => [{ id: 'c-1', keyStoreId: 'ks-1', accessKeyId: 'AKID', sealedSecret: Buffer.from('sealed') }],
    changes: {
      subscribe(l: () => void) {
        notify = l;
        return () => {};
      },
    },
  } as unknown as Repo;
  let sealOpen = true;
  const seal = {
    unseal: async () => {
      if (!sealOpen) throw new Error('the seal is closed');
      const s = Buffer.from('secret-bytes');
      unsealed.push(s);
      return s;
    },
  } as unknown as Seal;
  const dir = await createDirectory({ repo, seal, onError: (e) => errors.push(e) });
  assert.equal(dir.credential('ks-1', 'AKID')?.secret.toString(), 'secret-bytes');

  slow = true;
  notify(); // a change arrives; the reload waits in listKeyStores
  dir.close();
  sealOpen = false;
  release();
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(errors, []);
  for (const s of unsealed) assert.ok(s.every((b) => b === 0), 'every unsealed secret was wiped');
  assert.equal(dir.credential('ks-1', 'AKID'), undefined);

});
