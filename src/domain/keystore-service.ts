import { randomUUID } from 'node:crypto';
import { fail, isoNow, type Clock } from '../base/index.js';
import { ACCESS_KEY_ID_RE, generateAccessKeyId, generateSecretAccessKey, SECRET_ACCESS_KEY_RE, type SealContext } from '../crypto/index.js';
import type { CredentialInfo, KeyStore, SecondaryPolicy } from './model.js';
import type { AwsCredentialPush } from './aws-model.js';
import type { CredentialRepo, KeyRepo, KeyStoreRepo, NewCredential, Seal } from './ports.js';
import { API_SUFFIX, normalisePrefix, validateName, validateQuota, validateRegions } from './validation.js';
import { parsePolicy } from './policy.js';

/** A live credential may be shown once, at creation. */
export interface IssuedCredential {
  accessKeyId: string;
  secretAccessKey: string;
}

/** A credential added to a key store; `aws` when it was pushed to the linked custom key store. */
export type AddedCredential = IssuedCredential & { id: string; aws?: AwsCredentialPush | undefined };

/** The AWS KMS console's proxy configuration file (xks-spec §12). A secret. */
export interface ProxyConfigurationFile {
  XksProxyUriPath: string;
  XksProxyAuthenticationCredential: { AccessKeyId: string; RawSecretAccessKey: string };
}

export const MAX_LIVE_CREDENTIALS = 2;

export function credentialSealContext(credentialId: string): SealContext {
  return { table: 'credentials', id: credentialId, column: 'secret' };
}

export function uriPathOf(ks: Pick<KeyStore, 'prefix'>): string {
  return ks.prefix + API_SUFFIX;
}

export type KeyStoreService = ReturnType<typeof createKeyStoreService>;

export function createKeyStoreService(deps: {
  repo: KeyStoreRepo & CredentialRepo & Pick<KeyRepo, 'countKeys'>;
  seal: Seal;
  clock: Clock;
}) {
  const { repo, seal, clock } = deps;

  async function mustGet(name: string): Promise<KeyStore> {
    return (await repo.getKeyStore(name)) ?? fail('KeyStoreNotFound', `key store '${name}' does not exist`);
  }

  async function newCredential(keyStoreId: string, existing?: IssuedCredential): Promise<{ row: NewCredential; issued: IssuedCredential }> {
    const id = randomUUID();
    const accessKeyId = existing?.accessKeyId ?? generateAccessKeyId();
    const secretAccessKey = existing?.secretAccessKey ?? generateSecretAccessKey();
    const sealedSecret = await seal.seal(Buffer.from(secretAccessKey, 'utf8'), credentialSealContext(id));
    return {
      row: { info: { id, keyStoreId, accessKeyId, createdAt: isoNow(clock), revokedAt: null }, sealedSecret },
      issued: { accessKeyId, secretAccessKey },
    };
  }

  async function liveCredentials(ks: KeyStore): Promise<CredentialInfo[]> {
    return (await repo.listCredentials(ks.id)).filter((c) => c.revokedAt === null);
  }

  return {
    /**
     * Creates a key store with a fresh credential, or with `credential` when one that AWS KMS
     * already holds is carried over (migration), so the KMS side needs no change.
     */
    async create(input: { name: string; prefix: string; regions?: string[]; enabled?: boolean; credential?: IssuedCredential }): Promise<{ keyStore: KeyStore; uriPath: string; credential: IssuedCredential }> {
      if (input.credential) {
        if (!ACCESS_KEY_ID_RE.test(input.credential.accessKeyId)) fail('ValidationFailed', 'the access key id must be 20-30 characters from A-Z and 2-7');
        if (!SECRET_ACCESS_KEY_RE.test(input.credential.secretAccessKey)) fail('ValidationFailed', 'the secret access key must be 43-64 characters from a-z A-Z 0-9 / + =');
      }
      const name = validateName(input.name);
      const { prefix, uriPath } = normalisePrefix(input.prefix);
      const now = isoNow(clock);
      const ks: KeyStore = {
        id: randomUUID(),
        name,
        prefix,
        regions: validateRegions(input.regions ?? []),
        enabled: input.enabled ?? true,
        policy: null,
        createdAt: now,
        updatedAt: now,
      };
      if (await repo.getKeyStore(name)) fail('Conflict', `key store '${name}' already exists`);
      if (await repo.getKeyStoreByPrefix(prefix)) fail('Conflict', `URI path '${uriPath}' is already used by another key store`);
      if (input.credential && (await repo.listLiveCredentials()).some((c) => c.accessKeyId === input.credential!.accessKeyId)) {
        fail('Conflict', `access key id ${input.credential.accessKeyId} is already in use`);
      }
      const cred = await newCredential(ks.id, input.credential);
      await repo.insertKeyStore(ks, cred.row);
      return { keyStore: ks, uriPath, credential: cred.issued };
    },

    list: () => repo.listKeyStores(),

    get: mustGet,

    async setEnabled(name: string, enabled: boolean): Promise<KeyStore> {
      const ks = await mustGet(name);
      const updatedAt = isoNow(clock);
      await repo.updateKeyStore(ks.id, { enabled, updatedAt });
      return { ...ks, enabled, updatedAt };
    },

    async setRegions(name: string, regions: string[]): Promise<KeyStore> {
      const ks = await mustGet(name);
      const r = validateRegions(regions);
      const updatedAt = isoNow(clock);
      await repo.updateKeyStore(ks.id, { regions: r, updatedAt });
      return { ...ks, regions: r, updatedAt };
    },

    /**
     * Sets (or, with null, removes) the key store's request-rate quota. Every running node
     * applies it within a second; with N worker processes each enforces 1/N of it.
     */
    async setQuota(name: string, quota: { rps: number; burst?: number | undefined } | null): Promise<KeyStore> {
      const ks = await mustGet(name);
      const q = quota === null ? null : validateQuota(quota);
      const updatedAt = isoNow(clock);
      await repo.updateKeyStore(ks.id, { quota: q, updatedAt });
      return { ...ks, quota: q, updatedAt };
    },

    /** Refuses while the store still holds keys: deleting it would orphan their ciphertexts. */
    async delete(name: string): Promise<void> {
      const ks = await mustGet(name);
      const n = await repo.countKeys(ks.id);
      if (n > 0) fail('Conflict', `key store '${ks.name}' still holds ${n} key(s); delete or move them first`);
      await repo.deleteKeyStore(ks.id);
    },

    async addCredential(name: string, _opts?: { awsReconnect?: boolean | undefined }): Promise<AddedCredential> {
      const ks = await mustGet(name);
      const live = await liveCredentials(ks);
      if (live.length >= MAX_LIVE_CREDENTIALS) {
        fail('LimitExceeded', `key store '${ks.name}' already has ${MAX_LIVE_CREDENTIALS} live credentials; revoke one first`);
      }
      const cred = await newCredential(ks.id);
      await repo.insertCredential(cred.row);
      return { id: cred.row.info.id, ...cred.issued };
    },

    async listCredentials(name: string): Promise<CredentialInfo[]> {
      return repo.listCredentials((await mustGet(name)).id);
    },

    async revokeCredential(name: string, accessKeyId: string): Promise<CredentialInfo> {
      const ks = await mustGet(name);
      const c = (await liveCredentials(ks)).find((x) => x.accessKeyId === accessKeyId);
      if (!c) fail('NotFound', `key store '${ks.name}' has no live credential with access key id ${accessKeyId}`);
      const revokedAt = isoNow(clock);
      await repo.revokeCredential(c.id, revokedAt);
      return { ...c, revokedAt };
    },

    async setPolicy(name: string, policy: unknown): Promise<SecondaryPolicy | null> {
      const ks = await mustGet(name);
      const parsed = policy === null ? null : parsePolicy(policy);
      await repo.updateKeyStore(ks.id, { policy: parsed, updatedAt: isoNow(clock) });
      return parsed;
    },

    /**
     * The console's proxy configuration file for the newest live credential (or the named
     * one). It contains the secret: only authorised operators may export it.
     */
    async awsConfig(name: string, accessKeyId?: string): Promise<ProxyConfigurationFile> {
      const ks = await mustGet(name);
      const live = await liveCredentials(ks);
      const pick = accessKeyId ? live.find((c) => c.accessKeyId === accessKeyId) : live[live.length - 1];
      if (!pick) fail('NotFound', accessKeyId ? `no live credential ${accessKeyId} in key store '${ks.name}'` : `key store '${ks.name}' has no live credential; add one first`);
      const row = (await repo.listLiveCredentials()).find((c) => c.id === pick.id);
      if (!row) fail('NotFound', `credential ${pick.accessKeyId} was revoked meanwhile`);
      const secret = await seal.unseal(row.sealedSecret, credentialSealContext(row.id));
      try {
        return {
          XksProxyUriPath: uriPathOf(ks),
          XksProxyAuthenticationCredential: { AccessKeyId: row.accessKeyId, RawSecretAccessKey: secret.toString('utf8') },
        };
      } finally {
        secret.fill(0);
      }
    },
  };
}
