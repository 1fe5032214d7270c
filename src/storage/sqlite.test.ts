import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Storage } from '../domain/index.js';
import { storageConformance, type StorageFactory } from '../../test/storage-conformance.js';
import { adminStorageConformance } from '../../test/storage-admin-conformance.js';
import { awsStorageConformance } from '../../test/storage-aws-conformance.js';
import { openSqliteStorage } from './sqlite.js';

/** The storage behaviour suite on the embedded SQLite implementation (a new file per test). */
const sqliteFactory: StorageFactory = {
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'keyhold-sqlite-'));
    const path = join(dir, 'keyhold.db');
    const open = () => openSqliteStorage({ path, pollMs: 20 });
    const opened: Storage[] = [];
    const storage = await open();
    opened.push(storage);
    return {
      storage,
      async openAnother() {
        const s = await open();
        opened.push(s);
        return s;
      },
      async dispose() {
        for (const s of opened) await s.close().catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};
storageConformance('sqlite', sqliteFactory);
adminStorageConformance('sqlite', sqliteFactory);
awsStorageConformance('sqlite', sqliteFactory);
