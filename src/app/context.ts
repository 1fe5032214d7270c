import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { KeyholdError, systemClock, type Clock } from '../base/index.js';
import { createSoftwareBackend } from '../backends/index.js';
import { createKeyService, createKeyStoreService, type Backends, type KeyService, type KeyStoreService, type Seal, type Storage } from '../domain/index.js';
import { openPostgresStorage, openSqliteStorage } from '../storage/index.js';
import type { Config } from './config.js';
import { createSeal, openSeal } from './seal.js';

/** Everything a process needs to manage keys: storage, seal, backends and services. */
export interface AppContext {
  config: Readonly<Config>;
  clock: Clock;
  storage: Storage;
  seal: Seal;
  backends: Backends;
  softwareBackend: ReturnType<typeof createSoftwareBackend>;
  keyStores: KeyStoreService;
  keys: KeyService;
  close(): Promise<void>;
}

export async function openStorage(config: Config): Promise<Storage> {
  if (config.storage.type === 'postgres') return openPostgresStorage({ url: config.storage.url, poolSize: config.storage.poolSize });
  mkdirSync(dirname(config.storage.path), { recursive: true, mode: 0o700 });
  const storage = await openSqliteStorage({ path: config.storage.path });
  chmodSync(config.storage.path, 0o600);
  return storage;
}

export async function openContext(config: Readonly<Config>, opts: { creating?: boolean; clock?: Clock } = {}): Promise<AppContext> {
  const clock = opts.clock ?? systemClock;
  // Opening storage creates the directory and the database file: only init may do that.
  if (!opts.creating && config.storage.type === 'sqlite' && !existsSync(config.storage.path)) {
    throw new KeyholdError('SealError', `the data directory ${config.dataDir} is not initialised (no ${config.storage.path}); run: keyhold init`);
  }
  const storage = await openStorage(config);
  let seal: Seal;
  try {
    seal = opts.creating ? await createSeal(config, storage) : await openSeal(config, storage);
  } catch (e) {
    await storage.close();
    throw e;
  }
  const softwareBackend = createSoftwareBackend({ seal, meta: storage });
  const backends: Backends = { software: softwareBackend };
  return {
    config,
    clock,
    storage,
    seal,
    backends,
    softwareBackend,
    keyStores: createKeyStoreService({ repo: storage, seal, clock }),
    keys: createKeyService({ repo: storage, backends, clock }),
    async close() {
      for (const b of Object.values(backends)) await b?.close?.();
      await seal.close?.();
      await storage.close();
    },
  };
}
