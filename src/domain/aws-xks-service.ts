import { fail, isoNow, KeyholdError, type Clock } from '../base/index.js';
import { isAwsCallError } from './aws-errors.js';
import type { AwsConnectionService } from './aws-connection-service.js';
import type { AwsCredentialPush, KeyAwsLink, KeyStoreAwsLink } from './aws-model.js';
import type { AwsCustomKeyStoreInfo, AwsKmsPort, AwsRepo } from './aws-ports.js';
import type { KeyService } from './key-service.js';
import type { AddedCredential, KeyStoreService } from './keystore-service.js';
import type { CredentialInfo } from './model.js';
import type { KeyRepo } from './ports.js';
import { EXTERNAL_KEY_ID_RE } from './validation.js';

/** What to fix for each ConnectionErrorCode of an external key store (kms-semantics §1.5). */
export const CONNECTION_ERROR_HINTS: Record<string, string> = {
  INVALID_CREDENTIALS: "AWS KMS's credential is not a live credential of the key store: run `keyhold keystore credential add` (it updates AWS) and check the key store is enabled",
  XKS_PROXY_ACCESS_DENIED: "Keyhold's secondary policy or mTLS refused AWS KMS: check `keyhold keystore policy show`",
  XKS_PROXY_INVALID_CONFIGURATION: 'the URI path or endpoint does not match a Keyhold key store: check the endpoint and the key store prefix',
  XKS_PROXY_INVALID_RESPONSE: "Keyhold's answer was not what KMS expects: check Keyhold's logs and version",
  XKS_PROXY_INVALID_TLS_CONFIGURATION: "the endpoint's TLS certificate is not trusted by AWS KMS: it must come from a public CA, match the endpoint name and use TLS 1.2+",
  XKS_PROXY_NOT_REACHABLE: 'AWS KMS cannot reach the endpoint: check DNS, the load balancer, security groups, and that Keyhold is running',
  XKS_PROXY_TIMED_OUT: 'Keyhold did not answer within 250 ms: check its health and the network latency to AWS',
  XKS_VPC_ENDPOINT_SERVICE_INVALID_CONFIGURATION: 'the VPC endpoint service is not set up as KMS requires: NLB in 2+ AZs, allowed principal cks.kms.REGION.amazonaws.com, no acceptance, verified private DNS',
  XKS_VPC_ENDPOINT_SERVICE_NOT_FOUND: 'the VPC endpoint service name is wrong or in another Region',
  INTERNAL_ERROR: 'KMS had an internal error: disconnect and connect again',
  NETWORK_ERRORS: 'KMS met network errors: check the path to the endpoint and connect again',
};

/** What to fix when CreateCustomKeyStore itself refuses (it health-checks public endpoints first). */
export const CREATE_ERROR_HINTS: Record<string, string> = {
  CustomKeyStoreNameInUseException: 'a custom key store of that name exists in the account and Region: pass --aws-name',
  XksProxyUriInUseException: 'another custom key store already uses this endpoint and path',
  XksProxyUriEndpointInUseException: 'the endpoint is used by a custom key store with a different connectivity',
  XksProxyIncorrectAuthenticationCredentialException: "Keyhold refused the credential: is the server running this data directory's key stores?",
  XksProxyUriUnreachableException: "AWS KMS cannot reach the endpoint, or does not trust its TLS certificate (it must come from a public CA)",
  XksProxyInvalidConfigurationException: 'the URI path or endpoint does not match a Keyhold key store',
  XksProxyInvalidResponseException: "Keyhold's answer was not what KMS expects",
  CustomKeyStoreInvalidStateException: 'the custom key store is in a state that forbids this; check `keyhold aws keystore status`',
  LimitExceededException: 'the account has 10 custom key stores in this Region already',
};

export interface KeyStoreInAwsResult {
  keyStore: string;
  region: string;
  customKeyStoreId: string;
  customKeyStoreName: string;
  connectionState: string;
  connectionErrorCode: string | null;
  hint: string | null;
  waitedMs: number;
}

export interface KeyStoreAwsStatus {
  keyStore: string;
  linked: boolean;
  connection: string | null;
  region: string | null;
  customKeyStoreId: string | null;
  customKeyStoreName: string | null;
  endpoint: string | null;
  connectionState: string | null;
  connectionErrorCode: string | null;
  hint: string | null;
  /** The access key id AWS KMS signs with (never revoked while linked). */
  awsAccessKeyId: string | null;
  /** KMS keys in the custom key store (counted over at most `scanLimit` keys of the account). */
  kmsKeys: number | null;
  kmsKeysCountComplete: boolean;
  /** Keys linked by Keyhold (key create --aws-key / key link-aws). */
  linkedKeys: number;
}

export interface AwsKeyInput {
  alias?: string | undefined;
  admins?: string[] | undefined;
  users?: string[] | undefined;
  description?: string | undefined;
}

export interface AwsKeyResult {
  keyId: string;
  kmsKeyArn: string;
  alias: string | null;
  /** Set when the KMS key was made but its alias was not. */
  aliasError?: string | undefined;
}

const ALIAS_RE = /^alias\/[a-zA-Z0-9/_-]{1,250}$/;
const PRINCIPAL_RE = /^arn:aws[a-z-]*:(iam|sts)::\d{12}:[\w+=,.@/:-]{1,1000}$/;
const AWS_NAME_RE = /^[A-Za-z0-9 _.-]{1,256}$/;
const VPC_SERVICE_RE = /^(com|eu)\.amazonaws\.vpce\.([a-z]+-){2,3}\d+\.vpce-svc-[0-9a-z]+$/;
const ENDPOINT_RE = /^https:\/\/[a-zA-Z0-9.-]+(?::\d{1,5})?$/;

const KEY_ADMIN_ACTIONS = [
  'kms:Create*', 'kms:Describe*', 'kms:Enable*', 'kms:List*', 'kms:Put*', 'kms:Update*', 'kms:Revoke*', 'kms:Disable*', 'kms:Get*', 'kms:Delete*',
  'kms:TagResource', 'kms:UntagResource', 'kms:ScheduleKeyDeletion', 'kms:CancelKeyDeletion',
];
const KEY_USER_ACTIONS = ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'];

/** The key policy of a KMS key made for a Keyhold key: the account root (never locked out), admins, users. */
export function xksKeyPolicy(accountId: string, admins: string[], users: string[]): string {
  const statements: object[] = [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${accountId}:root` }, Action: 'kms:*', Resource: '*' }];
  if (admins.length) statements.push({ Sid: 'Allow access for Key Administrators', Effect: 'Allow', Principal: { AWS: admins }, Action: KEY_ADMIN_ACTIONS, Resource: '*' });
  if (users.length) statements.push({ Sid: 'Allow use of the key', Effect: 'Allow', Principal: { AWS: users }, Action: KEY_USER_ACTIONS, Resource: '*' });
  return JSON.stringify({ Version: '2012-10-17', Id: 'keyhold-xks-key', Statement: statements });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type AwsXksService = ReturnType<typeof createAwsXksService>;

/**
 * The XKS side in AWS, done from Keyhold: the custom key store for a key store, its
 * connection, credential rotation pushed to AWS, and KMS keys for Keyhold keys.
 */
export function createAwsXksService(deps: {
  repo: AwsRepo & Pick<KeyRepo, 'listKeys'>;
  keyStores: KeyStoreService;
  keys: Pick<KeyService, 'get'>;
  connections: AwsConnectionService;
  clock: Clock;
  /** Poll interval while waiting for a connection state. */
  pollMs?: number;
  /** At most this many keys are scanned to count a store's KMS keys. */
  scanLimit?: number;
}) {
  const { repo, keyStores, keys, connections, clock } = deps;
  const pollMs = deps.pollMs ?? 1000;
  const scanLimit = deps.scanLimit ?? 1000;

  async function linkOf(keyStoreName: string) {
    const ks = await keyStores.get(keyStoreName);
    const link = await repo.getKeyStoreAwsLink(ks.id);
    return { ks, link };
  }

  async function mustLink(keyStoreName: string): Promise<{ ks: Awaited<ReturnType<KeyStoreService['get']>>; link: KeyStoreAwsLink & { customKeyStoreId: string } }> {
    const { ks, link } = await linkOf(keyStoreName);
    if (!link?.customKeyStoreId) fail('InvalidState', `key store '${ks.name}' has no custom key store in AWS; run: keyhold aws keystore create ${ks.name} --connection NAME --endpoint URL`);
    return { ks, link: link as KeyStoreAwsLink & { customKeyStoreId: string } };
  }

  async function sessionFor(connectionId: string) {
    const rec = (await repo.getAwsConnection(connectionId)) ?? fail('NotFound', `the AWS connection of this link (${connectionId}) no longer exists`);
    return connections.open(rec);
  }

  async function describe(kms: AwsKmsPort, id: string): Promise<AwsCustomKeyStoreInfo> {
    const s = (await kms.describeCustomKeyStores({ id }))[0];
    if (!s) fail('NotFound', `custom key store ${id} does not exist in AWS`);
    return s;
  }

  /** Polls until the state is one of `until`, or the deadline passes (bounded wait). */
  async function waitFor(kms: AwsKmsPort, id: string, until: string[], waitMs: number, progress?: (msg: string) => void): Promise<AwsCustomKeyStoreInfo> {
    const t0 = Date.now();
    let last = '';
    for (;;) {
      const s = await describe(kms, id);
      if (until.includes(s.connectionState)) return s;
      const waited = Date.now() - t0;
      if (s.connectionState !== last || waited % 15_000 < pollMs) progress?.(`${id}: ${s.connectionState} (${Math.round(waited / 1000)} s)`);
      last = s.connectionState;
      if (waited >= waitMs) return s;
      await sleep(pollMs);
    }
  }

  function hintOf(code: string | null): string | null {
    return code === null ? null : (CONNECTION_ERROR_HINTS[code] ?? 'see the AWS KMS documentation of ConnectionErrorCode');
  }

  function rethrowCreate(e: unknown): never {
    if (isAwsCallError(e) && CREATE_ERROR_HINTS[e.awsName]) throw new KeyholdError(e.code, `${e.message}\n  what to fix: ${CREATE_ERROR_HINTS[e.awsName]}`, { cause: e });
    throw e;
  }

  async function connectAndWait(kms: AwsKmsPort, id: string, waitMs: number, progress?: (msg: string) => void) {
    const cur = await describe(kms, id);
    // A FAILED store must be disconnected before it can connect again.
    if (cur.connectionState === 'FAILED') {
      await kms.disconnectCustomKeyStore(id);
      await waitFor(kms, id, ['DISCONNECTED'], waitMs, progress);
    }
    if (cur.connectionState !== 'CONNECTED') await kms.connectCustomKeyStore(id);
    return waitFor(kms, id, ['CONNECTED', 'FAILED'], waitMs, progress);
  }

  /** UpdateCustomKeyStore, retried while a server that has not yet seen the new credential refuses it. */
  async function updateCredential(kms: AwsKmsPort, id: string, c: { accessKeyId: string; secretAccessKey: string }) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await kms.updateCustomKeyStoreCredential(id, c);
      } catch (e) {
        if (!(isAwsCallError(e) && e.awsName === 'XksProxyIncorrectAuthenticationCredentialException' && attempt < 10)) throw e;
        await sleep(500);
      }
    }
  }

  const service = {
    async createKeyStore(
      keyStoreName: string,
      o: { connection: string; endpoint: string; region?: string | undefined; vpcEndpointServiceName?: string | undefined; awsName?: string | undefined; waitMs?: number | undefined },
      progress?: (msg: string) => void,
    ): Promise<KeyStoreInAwsResult> {
      if (!ENDPOINT_RE.test(o.endpoint)) fail('ValidationFailed', `the endpoint '${o.endpoint.slice(0, 100)}' must be https://HOST (KMS allows no path; the simulator also takes a port)`);
      if (o.vpcEndpointServiceName !== undefined && !VPC_SERVICE_RE.test(o.vpcEndpointServiceName)) fail('ValidationFailed', 'the VPC endpoint service name must look like com.amazonaws.vpce.REGION.vpce-svc-...');
      const { ks, link } = await linkOf(keyStoreName);
      const name = o.awsName ?? `keyhold-${ks.name}`;
      if (!AWS_NAME_RE.test(name)) fail('ValidationFailed', 'the custom key store name must be 1-256 characters from A-Z a-z 0-9 space _ . -');
      if (link?.customKeyStoreId) fail('Conflict', `key store '${ks.name}' is already linked to custom key store ${link.customKeyStoreId}; see: keyhold aws keystore status ${ks.name}`);
      const conn = await connections.get(o.connection);
      const region = o.region ?? conn.region;
      const cfg = await keyStores.awsConfig(ks.name);
      const { session } = await connections.open(o.connection);
      try {
        const kms = session.kms(region);
        progress?.(`CreateCustomKeyStore ${name} in ${region} (${o.endpoint}${cfg.XksProxyUriPath})`);
        const id = await kms
          .createCustomKeyStore({
            name,
            endpoint: o.endpoint,
            uriPath: cfg.XksProxyUriPath,
            connectivity: o.vpcEndpointServiceName ? 'VPC_ENDPOINT_SERVICE' : 'PUBLIC_ENDPOINT',
            vpcEndpointServiceName: o.vpcEndpointServiceName,
            credential: { accessKeyId: cfg.XksProxyAuthenticationCredential.AccessKeyId, secretAccessKey: cfg.XksProxyAuthenticationCredential.RawSecretAccessKey },
          })
          .catch(rethrowCreate);
        const now = isoNow(clock);
        await repo.putKeyStoreAwsLink({
          keyStoreId: ks.id,
          connectionId: conn.id,
          region,
          customKeyStoreId: id,
          customKeyStoreName: name,
          endpoint: o.endpoint,
          connectivity: o.vpcEndpointServiceName ? 'VPC_ENDPOINT_SERVICE' : 'PUBLIC_ENDPOINT',
          vpcEndpointServiceName: o.vpcEndpointServiceName ?? null,
          awsAccessKeyId: cfg.XksProxyAuthenticationCredential.AccessKeyId,
          createdAt: now,
          updatedAt: now,
        });
        progress?.(`ConnectCustomKeyStore ${id}`);
        const t0 = Date.now();
        const s = await connectAndWait(kms, id, o.waitMs ?? 10 * 60_000, progress);
        return { keyStore: ks.name, region, customKeyStoreId: id, customKeyStoreName: name, connectionState: s.connectionState, connectionErrorCode: s.connectionErrorCode, hint: hintOf(s.connectionErrorCode), waitedMs: Date.now() - t0 };
      } finally {
        session.close();
      }
    },

    /** Connects (again) a linked store: a FAILED one is disconnected first. */
    async connect(keyStoreName: string, o: { waitMs?: number | undefined } = {}, progress?: (msg: string) => void): Promise<KeyStoreInAwsResult> {
      const { ks, link } = await mustLink(keyStoreName);
      const { session } = await sessionFor(link.connectionId);
      try {
        const t0 = Date.now();
        const s = await connectAndWait(session.kms(link.region), link.customKeyStoreId, o.waitMs ?? 10 * 60_000, progress);
        return { keyStore: ks.name, region: link.region, customKeyStoreId: link.customKeyStoreId, customKeyStoreName: link.customKeyStoreName, connectionState: s.connectionState, connectionErrorCode: s.connectionErrorCode, hint: hintOf(s.connectionErrorCode), waitedMs: Date.now() - t0 };
      } finally {
        session.close();
      }
    },

    async status(keyStoreName: string): Promise<KeyStoreAwsStatus> {
      const { ks, link } = await linkOf(keyStoreName);
      const base: KeyStoreAwsStatus = {
        keyStore: ks.name,
        linked: !!link?.customKeyStoreId,
        connection: null,
        region: link?.region ?? null,
        customKeyStoreId: link?.customKeyStoreId ?? null,
        customKeyStoreName: link?.customKeyStoreName ?? null,
        endpoint: link?.endpoint ?? null,
        connectionState: null,
        connectionErrorCode: null,
        hint: null,
        awsAccessKeyId: link?.awsAccessKeyId ?? null,
        kmsKeys: null,
        kmsKeysCountComplete: false,
        linkedKeys: 0,
      };
      if (!link?.customKeyStoreId) return base;
      const { connection, session } = await sessionFor(link.connectionId);
      try {
        const kms = session.kms(link.region);
        const s = await describe(kms, link.customKeyStoreId);
        let count = 0;
        let scanned = 0;
        let marker: string | undefined;
        do {
          const page = await kms.listKeys(100, marker);
          for (const id of page.keyIds) {
            if (scanned++ >= scanLimit) break;
            if ((await kms.describeKey(id)).customKeyStoreId === link.customKeyStoreId) count++;
          }
          marker = page.next;
        } while (marker && scanned < scanLimit);
        const inStore = new Set((await repo.listKeys(ks.id)).map((k) => k.id));
        const ourKeys = (await repo.listKeyAwsLinks()).filter((l) => inStore.has(l.keyId));
        return {
          ...base,
          connection: connection.name,
          connectionState: s.connectionState,
          connectionErrorCode: s.connectionErrorCode,
          hint: hintOf(s.connectionErrorCode),
          kmsKeys: count,
          kmsKeysCountComplete: scanned <= scanLimit && !marker,
          linkedKeys: ourKeys.length,
        };
      } finally {
        session.close();
      }
    },

    /**
     * Gives the custom key store a new credential: in place while connected (the current
     * UpdateCustomKeyStore text allows it), else, or when asked, disconnect → update →
     * connect, reporting how long the store was unavailable.
     */
    async pushCredential(keyStoreName: string, cred: { accessKeyId: string; secretAccessKey: string }, o: { reconnect?: boolean | undefined; waitMs?: number | undefined } = {}): Promise<AwsCredentialPush> {
      const { ks, link } = await mustLink(keyStoreName);
      const { session } = await sessionFor(link.connectionId);
      const id = link.customKeyStoreId;
      const waitMs = o.waitMs ?? 10 * 60_000;
      try {
        const kms = session.kms(link.region);
        let mode: AwsCredentialPush['mode'] = 'in-place';
        let outageMs = 0;
        const before = await describe(kms, id);
        const inPlace = !o.reconnect && (before.connectionState === 'CONNECTED' || before.connectionState === 'DISCONNECTED');
        let done = false;
        if (inPlace) {
          try {
            await updateCredential(kms, id, cred);
            done = true;
          } catch (e) {
            if (!(isAwsCallError(e) && e.awsName === 'CustomKeyStoreInvalidStateException')) throw e;
          }
        }
        let after = before;
        if (!done) {
          mode = 'reconnect';
          const t0 = Date.now();
          if (before.connectionState !== 'DISCONNECTED') {
            await kms.disconnectCustomKeyStore(id);
            await waitFor(kms, id, ['DISCONNECTED'], waitMs);
          }
          await updateCredential(kms, id, cred);
          if (before.connectionState !== 'DISCONNECTED') {
            await kms.connectCustomKeyStore(id);
            after = await waitFor(kms, id, ['CONNECTED', 'FAILED'], waitMs);
          }
          outageMs = Date.now() - t0;
        } else after = await describe(kms, id);
        await repo.putKeyStoreAwsLink({ ...link, awsAccessKeyId: cred.accessKeyId, updatedAt: isoNow(clock) });
        const ok = before.connectionState !== 'CONNECTED' || after.connectionState === 'CONNECTED';
        return { customKeyStoreId: id, mode, ok, outageMs, connectionState: after.connectionState, connectionErrorCode: after.connectionErrorCode, ...(ok ? {} : { error: `custom key store of '${ks.name}' is ${after.connectionState}: ${hintOf(after.connectionErrorCode) ?? ''}` }) };
      } finally {
        session.close();
      }
    },

    /** Refuses to revoke the credential AWS KMS still signs with. */
    async guardRevoke(keyStoreName: string, accessKeyId: string): Promise<void> {
      const { ks, link } = await linkOf(keyStoreName);
      if (link?.customKeyStoreId && link.awsAccessKeyId === accessKeyId) {
        fail('Conflict', `AWS KMS custom key store ${link.customKeyStoreId} signs with ${accessKeyId}; add a new credential first (keyhold keystore credential add ${ks.name} updates AWS), then revoke this one`);
      }
    },

    /** Creates the KMS key (Origin EXTERNAL_KEY_STORE, XksKeyId = the key id), its alias, and records the ARN. */
    async createAwsKey(keyId: string, input: AwsKeyInput = {}): Promise<AwsKeyResult> {
      if (!EXTERNAL_KEY_ID_RE.test(keyId)) fail('ValidationFailed', 'the key id must be 1-128 characters from A-Z a-z 0-9 . _ -');
      const admins = input.admins ?? [];
      const users = input.users ?? [];
      for (const p of [...admins, ...users]) if (!PRINCIPAL_RE.test(p)) fail('ValidationFailed', `'${p.slice(0, 100)}' is not an IAM principal ARN (arn:aws:iam::ACCOUNT:role/NAME or user/NAME)`);
      if (admins.length + users.length > 50) fail('ValidationFailed', 'at most 50 administrators and users');
      if (input.alias !== undefined && (!ALIAS_RE.test(input.alias) || input.alias.startsWith('alias/aws/'))) fail('ValidationFailed', `alias '${input.alias.slice(0, 100)}' must be alias/NAME (A-Z a-z 0-9 / _ -, not alias/aws/)`);
      if (input.description !== undefined && input.description.length > 8192) fail('ValidationFailed', 'the description is longer than 8192 characters');
      const key = await keys.get(keyId);
      if (await repo.getKeyAwsLink(key.id)) fail('Conflict', `key '${keyId}' already has a KMS key: ${(await repo.getKeyAwsLink(key.id))!.kmsKeyArn}`);
      const ks = (await keyStores.list()).find((s) => s.id === key.keyStoreId);
      const { link } = await mustLink(ks?.name ?? key.keyStoreId);
      const { connection, session } = await sessionFor(link.connectionId);
      try {
        const kms = session.kms(link.region);
        // Without administrators or users KMS's default key policy (the account root) is what
        // we would write; with them, the root of the connection's account is kept in it.
        let policy: string | undefined;
        if (admins.length + users.length > 0) {
          const account = connection.accountId ?? (await session.identity().catch(() => undefined))?.account ?? [...admins, ...users].map((p) => p.split(':')[4]).find(Boolean)!;
          policy = xksKeyPolicy(account, admins, users);
        }
        const request = {
          customKeyStoreId: link.customKeyStoreId,
          xksKeyId: key.externalId,
          description: input.description ?? (key.description || `Keyhold key ${key.externalId}`),
          policy,
        };
        // KMS asks the proxy for the key at once; a server that has not yet seen a key made
        // a moment ago by this CLI answers KeyNotFound. Give it a few seconds.
        let made;
        for (let attempt = 0; ; attempt++) {
          try {
            made = await kms.createXksKey(request);
            break;
          } catch (e) {
            if (!(isAwsCallError(e) && e.awsName === 'XksKeyNotFoundException' && attempt < 10)) throw e;
            await sleep(500);
          }
        }
        const record: KeyAwsLink = { keyId: key.id, connectionId: link.connectionId, region: link.region, kmsKeyArn: made.arn, alias: null, createdAt: isoNow(clock) };
        await repo.insertKeyAwsLink(record);
        let aliasError: string | undefined;
        if (input.alias) {
          try {
            await kms.createAlias(input.alias, made.keyId);
            await repo.deleteKeyAwsLink(key.id);
            await repo.insertKeyAwsLink({ ...record, alias: input.alias });
          } catch (e) {
            aliasError = e instanceof Error ? e.message : String(e);
          }
        }
        return { keyId: key.externalId, kmsKeyArn: made.arn, alias: aliasError ? null : (input.alias ?? null), ...(aliasError ? { aliasError } : {}) };
      } finally {
        session.close();
      }
    },

    /** The KMS key recorded for a Keyhold key (by its key id), if any. */
    async keyLink(keyId: string): Promise<KeyAwsLink | undefined> {
      const key = await keys.get(keyId);
      return repo.getKeyAwsLink(key.id);
    },

    listKeyLinks: () => repo.listKeyAwsLinks(),

    async isLinked(keyStoreName: string): Promise<boolean> {
      return !!(await linkOf(keyStoreName)).link?.customKeyStoreId;
    },
  };
  return service;
}

/**
 * Key store credentials that reach AWS: adding one to a linked key store pushes it to the
 * custom key store (the secret is still shown once, whatever AWS answered); revoking the one
 * AWS signs with is refused.
 */
export function withAwsCredentialSync(keyStores: KeyStoreService, xks: Pick<AwsXksService, 'pushCredential' | 'guardRevoke'> & { isLinked(name: string): Promise<boolean> }): KeyStoreService {
  return {
    ...keyStores,
    async addCredential(name, opts): Promise<AddedCredential> {
      const added = await keyStores.addCredential(name);
      if (!(await xks.isLinked(name))) return added;
      try {
        return { ...added, aws: await xks.pushCredential(name, added, { reconnect: opts?.awsReconnect }) };
      } catch (e) {
        return { ...added, aws: { customKeyStoreId: '', mode: 'in-place', ok: false, outageMs: 0, connectionState: null, connectionErrorCode: null, error: e instanceof Error ? e.message : String(e) } };
      }
    },
    async revokeCredential(name, accessKeyId): Promise<CredentialInfo> {
      await xks.guardRevoke(name, accessKeyId);
      return keyStores.revokeCredential(name, accessKeyId);
    },
  };
}
