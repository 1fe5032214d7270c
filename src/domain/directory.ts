import type { CredentialSecret } from '../crypto/index.js';
import type { Key, KeyStore, KeyVersion } from './model.js';
import type { CredentialRepo, KeyRepo, KeyStoreRepo, Seal } from './ports.js';
import { credentialSealContext } from './keystore-service.js';

export interface ResolvedKey {
  key: Key;
  versions: ReadonlyMap<number, KeyVersion>;
}

/**
 * The hot path's read model: key stores by prefix, unsealed SigV4 secrets by access key id,
 * and keys by external id, all in memory. Any change in storage (from this process, the
 * CLI on the same database, or another node) drops the caches; a generation counter keeps a
 * lookup that raced with a change from caching stale data.
 */
export interface Directory {
  keyStoreByPrefix(prefix: string): KeyStore | undefined;
  keyStoreById(id: string): KeyStore | undefined;
  /** The credential only if it belongs to this key store and is live. */
  credential(keyStoreId: string, accessKeyId: string): CredentialSecret | undefined;
  key(externalId: string): Promise<ResolvedKey | undefined>;
  refresh(): Promise<void>;
  /** Called after every successful refresh (to drop other caches, such as key material). */
  onRefresh(listener: () => void): void;
  close(): void;
}

interface CachedCredential extends CredentialSecret {
  keyStoreId: string;
}

export async function createDirectory(deps: {
  repo: KeyStoreRepo & CredentialRepo & KeyRepo & { changes: { subscribe(l: () => void): () => void } };
  seal: Seal;
  maxCachedKeys?: number;
  onError?: (e: unknown) => void;
}): Promise<Directory> {
  const maxKeys = deps.maxCachedKeys ?? 200_000;
  let byPrefix = new Map<string, KeyStore>();
  let byId = new Map<string, KeyStore>();
  let credentials = new Map<string, CachedCredential>();
  const keys = new Map<string, ResolvedKey | null>();
  const listeners: (() => void)[] = [];
  let generation = 0;
  let refreshing: Promise<void> | undefined;
  let again = false;
  let closed = false;

  async function load(): Promise<void> {
    const gen = ++generation;
    keys.clear();
    const stores = await deps.repo.listKeyStores();
    const creds = await deps.repo.listLiveCredentials();
    const nextCreds = new Map<string, CachedCredential>();
    const discard = () => {
      for (const c of nextCreds.values()) c.secret.fill(0);
    };
    for (const c of creds) {
      // Closed while loading: the seal may be closed too, and nothing would wipe these secrets.
      if (closed) return discard();
      const ks = stores.find((s) => s.id === c.keyStoreId);
      const secret = await deps.seal.unseal(c.sealedSecret, credentialSealContext(c.id));
      nextCreds.set(c.accessKeyId, { keyStoreId: c.keyStoreId, secret, regions: ks?.regions });
    }
    if (closed || gen !== generation) return discard(); // closed, or a newer refresh started; let it win
    for (const old of credentials.values()) if (![...nextCreds.values()].some((n) => n.secret === old.secret)) old.secret.fill(0);
    byPrefix = new Map(stores.map((s) => [s.prefix, s]));
    byId = new Map(stores.map((s) => [s.id, s]));
    credentials = nextCreds;
    keys.clear();
    for (const l of listeners) l();
  }

  /** Coalesces bursts of change notifications into at most one reload in flight plus one queued. */
  function refresh(): Promise<void> {
    generation++;
    keys.clear();
    if (refreshing) {
      again = true;
      return refreshing;
    }
    refreshing = (async () => {
      try {
        do {
          again = false;
          await load();
        } while (again);
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  }

  await load();
  const unsubscribe = deps.repo.changes.subscribe(() => {
    // A reload still running when the directory is closed fails as the seal and storage close: not worth a report.
    refresh().catch((e) => {
      if (!closed) deps.onError?.(e);
    });
  });

  return {
    keyStoreByPrefix: (p) => byPrefix.get(p),
    keyStoreById: (id) => byId.get(id),
    credential(keyStoreId, accessKeyId) {
      const c = credentials.get(accessKeyId);
      return c && c.keyStoreId === keyStoreId ? c : undefined;
    },
    async key(externalId) {
      const hit = keys.get(externalId);
      if (hit !== undefined) return hit ?? undefined;
      const gen = generation;
      const key = await deps.repo.getKeyByExternalId(externalId);
      const resolved = key ? { key, versions: new Map((await deps.repo.listVersions(key.id)).map((v) => [v.version, v])) } : null;
      if (gen === generation) {
        if (keys.size >= maxKeys) keys.delete(keys.keys().next().value as string);
        keys.set(externalId, resolved);
      }
      return resolved ?? undefined;
    },
    refresh,
    onRefresh: (l) => void listeners.push(l),
    close() {
      closed = true;
      unsubscribe();
      for (const c of credentials.values()) c.secret.fill(0);
      credentials.clear();
      keys.clear();
    },
  };
}
