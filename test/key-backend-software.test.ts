import { randomBytes } from 'node:crypto';
import { createSoftwareBackend } from '../src/backends/index.js';
import { createSoftwareSeal } from '../src/seal/index.js';
import { keyBackendConformance } from './key-backend-conformance.js';

keyBackendConformance('software keys under a key-file seal', 'software', async () => {
  const seal = createSoftwareSeal(randomBytes(32), 'keyfile');
  const meta = new Map<string, string>();
  const backend = createSoftwareBackend({
    seal,
    meta: { getMeta: async (n) => meta.get(n), setMeta: async (n, v) => void meta.set(n, v) },
  });
  await backend.ensureHealthKey();
  return {
    backend,
    async close() {
      await backend.close?.();
      await seal.close?.();
    },
  };
});
