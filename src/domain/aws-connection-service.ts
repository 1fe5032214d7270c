import { randomUUID } from 'node:crypto';
import { fail, isoNow, type Clock } from '../base/index.js';
import type { SealContext } from '../crypto/index.js';
import { isAwsCallError } from './aws-errors.js';
import type { AwsConnection, AwsConnectionRecord, AwsConnectionTestResult, AwsCredentialSource, AwsFailureReason, AwsGroupResult } from './aws-model.js';
import type { AwsGateway, AwsRepo, AwsSession } from './aws-ports.js';
import type { Seal } from './ports.js';
import { validateName, REGION_RE } from './validation.js';

export const AWS_ACCESS_KEY_ID_RE = /^[A-Z0-9]{16,128}$/;
export const AWS_ACCOUNT_ID_RE = /^\d{12}$/;
export const IAM_ROLE_ARN_RE = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
export const EXTERNAL_ID_RE = /^[\w+=,.@:/-]{2,1224}$/;
export const MAX_CA_PEM_BYTES = 256 * 1024;

export function awsSecretSealContext(connectionId: string): SealContext {
  return { table: 'aws_connections', id: connectionId, column: 'secret' };
}

/** How a connection authenticates, as the operator gives it (the secret is write-only). */
export type AwsCredentialInput =
  | { source: 'static'; accessKeyId: string; secretAccessKey?: string | undefined; pendingSecret?: PendingAwsSecret | undefined }
  | {
      source: 'assume-role';
      roleArn: string;
      externalId?: string | undefined;
      accessKeyId?: string | undefined;
      secretAccessKey?: string | undefined;
      pendingSecret?: PendingAwsSecret | undefined;
    }
  | { source: 'default' };

/**
 * A secret given with a request that may wait for approvals: sealed (AAD
 * approval_requests/id/aws-secret) so the stored request never holds it in clear.
 */
export interface PendingAwsSecret {
  id: string;
  /** Base64 of the sealed bytes. */
  sealed: string;
}

export interface AwsConnectionInput {
  name: string;
  region: string;
  /** Further Regions; the default Region is always included. */
  regions?: string[] | undefined;
  endpoint?: string | null | undefined;
  stsEndpoint?: string | null | undefined;
  caPem?: string | null | undefined;
  accountId?: string | null | undefined;
  credentials: AwsCredentialInput;
}

export type AwsConnectionPatch = Partial<Omit<AwsConnectionInput, 'name' | 'credentials'>> & { credentials?: AwsCredentialInput | undefined };

const strip = ({ sealedSecret: _s, ...c }: AwsConnectionRecord): AwsConnection => c;

function validateEndpoint(url: string | null | undefined, what: string): string | null {
  if (url === null || url === undefined || url === '') return null;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    fail('ValidationFailed', `${what} '${url.slice(0, 100)}' is not a URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') fail('ValidationFailed', `${what} must be an http:// or https:// URL`);
  if (u.username || u.password) fail('ValidationFailed', `${what} must not carry credentials`);
  if (url.length > 2048) fail('ValidationFailed', `${what} is longer than 2048 characters`);
  return u.origin + (u.pathname === '/' ? '' : u.pathname);
}

function validateCa(pem: string | null | undefined): string | null {
  if (pem === null || pem === undefined || pem === '') return null;
  if (Buffer.byteLength(pem) > MAX_CA_PEM_BYTES) fail('ValidationFailed', `the CA bundle is larger than ${MAX_CA_PEM_BYTES / 1024} KiB`);
  if (!/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(pem)) fail('ValidationFailed', 'the CA bundle holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  if (/PRIVATE KEY-----/.test(pem)) fail('ValidationFailed', 'the CA bundle contains a private key; give only certificates');
  return pem;
}

function validateRegionList(region: string, more: string[] | undefined): string[] {
  for (const r of [region, ...(more ?? [])]) if (!REGION_RE.test(r)) fail('ValidationFailed', `'${r.slice(0, 40)}' is not an AWS Region name (like eu-west-1)`);
  if ((more ?? []).length > 40) fail('ValidationFailed', 'at most 40 Regions per connection');
  return [...new Set([region, ...(more ?? [])])].sort();
}

function validateSecret(secret: string): string {
  if (secret.length < 16 || secret.length > 128 || /\s/.test(secret)) fail('ValidationFailed', 'the secret access key must be 16-128 characters without spaces');
  return secret;
}

function validateAccessKeyId(id: string): string {
  if (!AWS_ACCESS_KEY_ID_RE.test(id)) fail('ValidationFailed', 'the access key id must be 16-128 characters from A-Z 0-9');
  return id;
}

interface CredentialColumns {
  credentialSource: AwsCredentialSource;
  accessKeyId: string | null;
  roleArn: string | null;
  externalId: string | null;
  secret: string | null;
}

function credentialColumns(c: AwsCredentialInput): CredentialColumns {
  switch (c.source) {
    case 'static':
      if (c.secretAccessKey === undefined) fail('ValidationFailed', 'a static key needs its secret access key');
      return { credentialSource: 'static', accessKeyId: validateAccessKeyId(c.accessKeyId), roleArn: null, externalId: null, secret: validateSecret(c.secretAccessKey) };
    case 'assume-role': {
      if (!IAM_ROLE_ARN_RE.test(c.roleArn)) fail('ValidationFailed', `'${c.roleArn.slice(0, 100)}' is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)`);
      if (c.externalId !== undefined && !EXTERNAL_ID_RE.test(c.externalId)) fail('ValidationFailed', 'the external id must be 2-1224 characters from A-Z a-z 0-9 and +=,.@:/-');
      if ((c.accessKeyId === undefined) !== (c.secretAccessKey === undefined)) fail('ValidationFailed', 'a base key for AssumeRole needs both the access key id and the secret');
      return {
        credentialSource: 'assume-role',
        accessKeyId: c.accessKeyId === undefined ? null : validateAccessKeyId(c.accessKeyId),
        roleArn: c.roleArn,
        externalId: c.externalId ?? null,
        secret: c.secretAccessKey === undefined ? null : validateSecret(c.secretAccessKey),
      };
    }
    case 'default':
      return { credentialSource: 'default', accessKeyId: null, roleArn: null, externalId: null, secret: null };
    default:
      return fail('ValidationFailed', 'unknown credential source');
  }
}

/** A well-formed key id that no account holds: a probe whose NotFoundException proves the permission. */
const ABSENT_KEY_ID = '00000000-0000-4000-8000-00000000ab5e';

const FATAL: readonly AwsFailureReason[] = ['dns', 'network', 'tls', 'credentials', 'clock-skew', 'region'];

export type AwsConnectionService = ReturnType<typeof createAwsConnectionService>;

/**
 * AWS connections: saved even when they cannot connect (and edited later), secrets sealed,
 * tested per KMS action group on demand. `open` hands other services a live session.
 */
export function createAwsConnectionService(deps: { repo: AwsRepo; seal: Seal; gateway: AwsGateway; clock: Clock }) {
  const { repo, seal, gateway, clock } = deps;

  async function mustGet(name: string): Promise<AwsConnectionRecord> {
    return (await repo.getAwsConnection(name)) ?? fail('NotFound', `AWS connection '${name}' does not exist`);
  }

  async function sealSecret(id: string, secret: string | null): Promise<Buffer | null> {
    return secret === null ? null : seal.seal(Buffer.from(secret, 'utf8'), awsSecretSealContext(id));
  }

  const pendingContext = (id: string): SealContext => ({ table: 'approval_requests', id, column: 'aws-secret' });

  /** Replaces a pending (sealed) secret by the secret itself, in memory only. */
  async function resolveCredentials(c: AwsCredentialInput): Promise<AwsCredentialInput> {
    if (c.source === 'default' || !c.pendingSecret) return c;
    const buf = await seal.unseal(Buffer.from(c.pendingSecret.sealed, 'base64'), pendingContext(c.pendingSecret.id));
    const secretAccessKey = buf.toString('utf8');
    buf.fill(0);
    const { pendingSecret: _p, ...rest } = c;
    return { ...rest, secretAccessKey };
  }

  async function open(nameOrRecord: string | AwsConnectionRecord): Promise<{ connection: AwsConnection; session: AwsSession }> {
    const rec = typeof nameOrRecord === 'string' ? await mustGet(nameOrRecord) : nameOrRecord;
    let secretAccessKey: string | null = null;
    if (rec.sealedSecret) {
      const buf = await seal.unseal(rec.sealedSecret, awsSecretSealContext(rec.id));
      secretAccessKey = buf.toString('utf8');
      buf.fill(0);
    }
    const connection = strip(rec);
    return { connection, session: gateway.open(connection, { secretAccessKey }) };
  }

  async function probe(actions: string[], fn: () => Promise<unknown>, group: AwsGroupResult['group']): Promise<AwsGroupResult & { fatal: boolean }> {
    try {
      await fn();
      return { group, actions, ok: true, fatal: false };
    } catch (e) {
      if (!isAwsCallError(e)) throw e;
      // A NotFoundException on an absent key means the call was authorised.
      if (e.reason === 'not-found') return { group, actions, ok: true, fatal: false };
      return { group, actions, ok: false, reason: e.reason, detail: e.message, fatal: FATAL.includes(e.reason) };
    }
  }

  return {
    async create(input: AwsConnectionInput): Promise<AwsConnection> {
      const name = validateName(input.name, 'connection name');
      const regions = validateRegionList(input.region, input.regions);
      const accountId = input.accountId ?? null;
      if (accountId !== null && !AWS_ACCOUNT_ID_RE.test(accountId)) fail('ValidationFailed', 'the account id must be 12 digits');
      const cred = credentialColumns(await resolveCredentials(input.credentials));
      const endpoint = validateEndpoint(input.endpoint, 'the endpoint');
      const stsEndpoint = validateEndpoint(input.stsEndpoint, 'the STS endpoint');
      const caPem = validateCa(input.caPem);
      if (await repo.getAwsConnection(name)) fail('Conflict', `AWS connection '${name}' already exists`);
      const now = isoNow(clock);
      const id = randomUUID();
      const rec: AwsConnectionRecord = {
        id,
        name,
        region: input.region,
        regions,
        endpoint,
        stsEndpoint,
        caPem,
        accountId,
        credentialSource: cred.credentialSource,
        accessKeyId: cred.accessKeyId,
        roleArn: cred.roleArn,
        externalId: cred.externalId,
        sealedSecret: await sealSecret(id, cred.secret),
        createdAt: now,
        updatedAt: now,
      };
      await repo.insertAwsConnection(rec);
      return strip(rec);
    },

    list: async (): Promise<AwsConnection[]> => (await repo.listAwsConnections()).map(strip),

    get: async (name: string): Promise<AwsConnection> => strip(await mustGet(name)),

    /** Changes what is given; a new credential source replaces the old one (and its secret). */
    async update(name: string, patch: AwsConnectionPatch): Promise<AwsConnection> {
      const cur = await mustGet(name);
      const region = patch.region ?? cur.region;
      const regions = validateRegionList(region, patch.regions ?? (patch.region !== undefined ? cur.regions.filter((r) => r !== cur.region) : cur.regions));
      const accountId = patch.accountId === undefined ? cur.accountId : patch.accountId;
      if (accountId !== null && !AWS_ACCOUNT_ID_RE.test(accountId)) fail('ValidationFailed', 'the account id must be 12 digits');
      const next: AwsConnectionRecord = {
        ...cur,
        region,
        regions,
        accountId,
        endpoint: patch.endpoint === undefined ? cur.endpoint : validateEndpoint(patch.endpoint, 'the endpoint'),
        stsEndpoint: patch.stsEndpoint === undefined ? cur.stsEndpoint : validateEndpoint(patch.stsEndpoint, 'the STS endpoint'),
        caPem: patch.caPem === undefined ? cur.caPem : validateCa(patch.caPem),
        updatedAt: isoNow(clock),
      };
      if (patch.credentials) {
        const cred = credentialColumns(await resolveCredentials(patch.credentials));
        Object.assign(next, { credentialSource: cred.credentialSource, accessKeyId: cred.accessKeyId, roleArn: cred.roleArn, externalId: cred.externalId, sealedSecret: await sealSecret(cur.id, cred.secret) });
      }
      await repo.replaceAwsConnection(next);
      return strip(next);
    },

    /** Refuses while a key store or key is linked through it. */
    async delete(name: string): Promise<void> {
      const c = await mustGet(name);
      const stores = (await repo.listKeyStoreAwsLinks()).filter((l) => l.connectionId === c.id).length;
      const keys = (await repo.listKeyAwsLinks()).filter((l) => l.connectionId === c.id).length;
      if (stores + keys > 0) fail('Conflict', `AWS connection '${c.name}' is used by ${stores} key store(s) and ${keys} key(s) linked to AWS; unlink them first`);
      await repo.deleteAwsConnection(c.id);
    },

    /**
     * Tries the connection: identity (STS, when it is reachable for this connection), then
     * one harmless call per KMS action group. "Connected" means AWS authenticated us; a group
     * that fails for lack of permission is reported on its own.
     */
    async test(name: string, region?: string): Promise<AwsConnectionTestResult> {
      const { connection, session } = await open(name);
      const r = region ?? connection.region;
      const result: AwsConnectionTestResult = { connection: connection.name, region: r, connected: false, groups: [] };
      try {
        const kms = session.kms(r);
        // STS is asked when it is AWS's own (no KMS override) or explicitly configured.
        if (connection.stsEndpoint !== null || connection.endpoint === null || connection.credentialSource === 'assume-role') {
          try {
            result.identity = await session.identity();
          } catch (e) {
            if (!isAwsCallError(e)) throw e;
            if (FATAL.includes(e.reason)) return { ...result, reason: e.reason, detail: e.message };
          }
          if (result.identity && connection.accountId && result.identity.account !== connection.accountId) {
            return { ...result, reason: 'credentials', detail: `the credentials belong to account ${result.identity.account}, not ${connection.accountId}` };
          }
        }
        let firstKey: string | undefined;
        const list = await probe(['ListKeys', 'ListAliases'], async () => {
          firstKey = (await kms.listKeys(1)).keyIds[0];
          await kms.listAliases(1);
        }, 'list');
        if (list.fatal) return { ...result, reason: list.reason, detail: list.detail, groups: [strip2(list)] };
        const groups = [
          list,
          await probe(['DescribeKey'], () => kms.describeKey(firstKey ?? ABSENT_KEY_ID), 'read'),
          // On an absent key: authorised callers get NotFoundException and nothing changes.
          await probe(['UpdateKeyDescription'], () => kms.updateKeyDescription(ABSENT_KEY_ID, 'keyhold connection test'), 'write'),
          await probe(['DescribeCustomKeyStores'], () => kms.describeCustomKeyStores({}), 'custom-key-stores'),
        ];
        const fatal = groups.find((g) => g.fatal);
        if (fatal) return { ...result, reason: fatal.reason, detail: fatal.detail, groups: groups.map(strip2) };
        return { ...result, connected: true, groups: groups.map(strip2) };
      } catch (e) {
        if (!isAwsCallError(e)) throw e;
        return { ...result, reason: e.reason, detail: e.message };
      } finally {
        session.close();
      }
    },

    open,

    /** Seals the secret of a credential input so it can wait in an approval request. */
    async sealPending<T extends { credentials?: AwsCredentialInput | undefined }>(input: T): Promise<T> {
      const c = input.credentials;
      if (!c || c.source === 'default' || c.secretAccessKey === undefined) return input;
      validateSecret(c.secretAccessKey);
      const id = randomUUID();
      const sealed = (await seal.seal(Buffer.from(c.secretAccessKey, 'utf8'), pendingContext(id))).toString('base64');
      const { secretAccessKey: _s, ...rest } = c;
      return { ...input, credentials: { ...rest, pendingSecret: { id, sealed } } };
    },
  };
}

const strip2 = ({ fatal: _f, ...g }: AwsGroupResult & { fatal: boolean }): AwsGroupResult => g;
