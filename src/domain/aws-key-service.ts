/**
 * AWS keys (bring your own key, AWS side):
 * - sync: Keyhold's records of every KMS key of a connection's Region, from ListKeys /
 *   ListAliases / DescribeKey / ListResourceTags / GetKeyPolicy / GetKeyRotationStatus,
 *   paged without a key limit, with bounded concurrency and backoff on throttling.
 *   Idempotent (a second run adds nothing), resumable (the ListKeys marker of the last page
 *   done is kept in meta; an interrupted run goes on from there under the same run id), and
 *   keys that vanished are marked Gone. Keyhold's own XKS keys are linked to their local key.
 *   One sync per connection and Region at a time across every process on the database: a
 *   lease in the database (the cluster's leases), renewed while the sync runs and expiring
 *   when its holder dies.
 * - import: a local exportable key's material copied into a new EXTERNAL-origin KMS key per
 *   Region (GetParametersForImport with RSA_AES_KEY_WRAP_SHA_256, falling back to
 *   RSAES_OAEP_SHA_256; wrapped here; ImportKeyMaterial with the expiration model), each
 *   copy recorded as a link. With `into`, the material goes into one existing EXTERNAL-origin
 *   key awaiting material (PendingImport) instead of a new key.
 */
import { randomUUID } from 'node:crypto';
import { fail, isKeyholdError, KeyholdError, wipe, type Clock } from '../base/index.js';
import { wrapForKmsImport } from '../crypto/index.js';
import { isAwsCallError } from './aws-errors.js';
import type { AwsConnection } from './aws-model.js';
import type { AwsRepo } from './aws-ports.js';
import type { AwsKeyCopy, AwsKeyFilter, AwsKeyMetadata, AwsKeyRecord, AwsKeyRepo, AwsKeySupersession, ByokKmsPort, ByokSession, ImportWrappingAlgorithm } from './aws-key-model.js';
import type { KeyRepo, MetaRepo } from './ports.js';
import type { ClusterRepo } from './cluster.js';
import type { Key } from './model.js';
import type { ExportedMaterial } from './key-material-transfer.js';

const LIST_KEYS_PAGE = 100;
const LIST_ALIASES_PAGE = 100;
const DEFAULT_CONCURRENCY = 8;
const MAX_CONCURRENCY = 32;
const MAX_ATTEMPTS = 8;
const MAX_VALID_TO_DAYS = 365;
/** A sync's lease lasts this long unless renewed (every third of it while the sync runs). */
const DEFAULT_SYNC_LEASE_MS = 60_000;
const DAY_MS = 86_400_000;
const ALIAS_RE = /^alias\/[a-zA-Z0-9/_-]{1,250}$/;

const NATIVE_SPECS = ['SYMMETRIC_DEFAULT', 'RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1', 'HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512'];
const USAGES_OF: Record<string, string[]> = Object.fromEntries(
  NATIVE_SPECS.map((s) => [s, s === 'SYMMETRIC_DEFAULT' ? ['ENCRYPT_DECRYPT'] : s.startsWith('RSA_') ? ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'] : s.startsWith('HMAC_') ? ['GENERATE_VERIFY_MAC'] : ['SIGN_VERIFY', ...(s === 'ECC_SECG_P256K1' ? [] : ['KEY_AGREEMENT'])]]),
);
const DEFAULT_USAGE: Record<string, string> = Object.fromEntries(NATIVE_SPECS.map((s) => [s, s === 'SYMMETRIC_DEFAULT' || s.startsWith('RSA_') ? 'ENCRYPT_DECRYPT' : s.startsWith('HMAC_') ? 'GENERATE_VERIFY_MAC' : 'SIGN_VERIFY']));
const MAX_POLICY_BYTES = 32 * 1024;

/** A key policy as Keyhold puts it: valid JSON with statements, within KMS's 32 KB, pretty-printed. */
export function canonicalPolicy(text: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    fail('ValidationFailed', `the key policy is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const st = doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>).Statement : undefined;
  if (st === undefined || (Array.isArray(st) && st.length === 0)) fail('ValidationFailed', 'the key policy has no Statement');
  for (const s of Array.isArray(st) ? st : [st]) {
    const e = s !== null && typeof s === 'object' ? (s as Record<string, unknown>).Effect : undefined;
    if (e !== 'Allow' && e !== 'Deny') fail('ValidationFailed', 'every statement of the key policy needs Effect Allow or Deny');
  }
  const out = JSON.stringify(doc, null, 2);
  if (Buffer.byteLength(out) > MAX_POLICY_BYTES) fail('ValidationFailed', `the key policy is larger than KMS's ${MAX_POLICY_BYTES} bytes`);
  return out;
}

/** A minimal line diff (- removed, + added, two spaces kept) for showing a policy change. */
export function lineDiff(before: string, after: string): string[] {
  const a = before === '' ? [] : before.split('\n');
  const b = after.split('\n');
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push(`  ${a[i++]}`);
      j++;
    } else if (j < b.length && (i >= a.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) out.push(`+ ${b[j++]}`);
    else out.push(`- ${a[i++]}`);
  }
  return out;
}

export interface SyncProgress {
  region: string;
  pages: number;
  keys: number;
}

export interface SyncReport {
  connection: string;
  region: string;
  run: string;
  resumed: boolean;
  pages: number;
  seen: number;
  added: number;
  updated: number;
  unchanged: number;
  /** Listed by ListKeys, gone by the time of DescribeKey. */
  vanishedDuringSync: number;
  /** Records marked Gone: no longer listed. */
  gone: string[];
  /** Keyhold's own XKS keys recognised (linked, not duplicated). */
  linked: number;
  /** `alias/aws/*` aliases without a key: listed by KMS, never described (that would create the key). */
  awsManagedAliasesWithoutKey: number;
  retries: number;
  /** false when the run stopped after `stopAfterPages` with pages left: the next sync resumes it. */
  complete: boolean;
}

export interface AwsKeyImportInput {
  localKey: string;
  /** Required without `into`; with it, optional (it must then be the AWS key's connection). */
  connection?: string | undefined;
  /**
   * An existing EXTERNAL-origin AWS key awaiting material (PendingImport), by key id, ARN or
   * alias of Keyhold's synced record, instead of a new key: the material goes into it.
   */
  into?: string | undefined;
  regions?: string[] | undefined;
  alias?: string | undefined;
  /** ISO 8601; the material expires then (KEY_MATERIAL_EXPIRES). Absent: it does not expire. */
  validTo?: string | undefined;
  description?: string | undefined;
  /** Who copies (recorded on the link). */
  actor: string;
}

export interface AwsKeyImportResult {
  localKey: string;
  localVersion: number;
  copies: (AwsKeyCopy & { wrappingAlgorithm: ImportWrappingAlgorithm; alias: string | null })[];
}

/** `keyhold aws key rotate KEY --to-local LOCAL_KEY`. */
export interface AwsKeyRotateToLocalOptions {
  /** ISO 8601; the imported material expires then. Absent: it does not expire. */
  validTo?: string | undefined;
  /** Disable the old native key once the aliases moved (default: it keeps decrypting). */
  disableOld?: boolean | undefined;
  actor: string;
}

export interface AwsKeyRotateToLocalResult {
  old: AwsKeyRecord;
  new: AwsKeyRecord;
  movedAliases: string[];
  localKey: string;
  localVersion: number;
  wrappingAlgorithm: ImportWrappingAlgorithm;
  link: AwsKeyCopy;
}

/** `keyhold aws key reimport KEY`. */
export interface AwsKeyReimportOptions {
  /** ISO 8601: a new expiry. Absent: the link's, while it is in the future; else the material does not expire. */
  validTo?: string | undefined;
  actor: string;
}

export interface AwsKeyReimportResult {
  key: AwsKeyRecord;
  localKey: string;
  localVersion: number;
  wrappingAlgorithm: ImportWrappingAlgorithm;
  link: AwsKeyCopy;
}

/** One linked AWS key after a local rotation was carried to it. */
export interface LinkedRotationOutcome {
  awsKeyArn: string;
  strategy: 'in-place' | 'new-key' | null;
  newArn: string | null;
  error: string | null;
}

/** What one scheduler pass did for linked AWS keys (failures are retried on the next pass). */
export interface ScheduledLinkRun {
  outcomes: (LinkedRotationOutcome & { localKey: string; version: number; retry: boolean })[];
  /** Links still waiting for the current material after this pass. */
  pending: number;
}

/** The meta entry that keeps links whose scheduled rotation failed, until a pass succeeds. */
const PENDING_LINKS_META = 'aws.links.rotation-pending';
/** One meta entry per superseded AWS key (by ARN): which key replaced it, when, by whom. */
const SUPERSEDED_META = 'aws.link.superseded.';
const MAX_PENDING_LINKS = 10_000;

export type AwsKeyService = ReturnType<typeof createAwsKeyService>;

type Repo = AwsKeyRepo & Pick<AwsRepo, 'getAwsConnection' | 'listKeyAwsLinks'> & Pick<KeyRepo, 'getKey' | 'getKeyByExternalId' | 'listKeys'> & MetaRepo;

export function createAwsKeyService(deps: {
  repo: Repo;
  keys: { exportMaterial(externalId: string, version?: number): Promise<ExportedMaterial>; rotate(externalId: string): Promise<{ currentVersion: number }> };
  open(connection: string): Promise<{ connection: AwsConnection; session: ByokSession }>;
  clock: Clock;
  /**
   * The database lease that makes a sync of one connection and Region exclusive across
   * processes (a server, CLIs, cluster nodes). `holder` says who this process is (shown to the
   * one refused); `holderGone` tells, from a holder's name, that its process is certainly dead
   * (same host, no such pid), so its lease is taken over at once instead of after `ttlMs`.
   */
  syncLease?: { leases: Pick<ClusterRepo, 'acquireLease' | 'releaseLease' | 'getLease'>; holder: string; ttlMs?: number; holderGone?: (holder: string) => boolean };
  /** Backoff base for throttled calls (ms). */
  backoffMs?: number;
  sleep?: (ms: number) => Promise<void>;
}) {
  const { repo, clock } = deps;
  const backoffMs = deps.backoffMs ?? 250;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const nowIso = () => new Date(clock.now()).toISOString();

  /** Retries throttled calls with exponential backoff and jitter. */
  async function retrying<T>(counter: { retries: number }, fn: () => Promise<T>, base = backoffMs): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!isAwsCallError(e) || e.reason !== 'throttled' || attempt >= MAX_ATTEMPTS) throw e;
        counter.retries++;
        await sleep(Math.min(base * 2 ** (attempt - 1), 20_000) * (0.5 + Math.random() / 2));
      }
    }
  }

  async function pool<T>(items: T[], concurrency: number, fn: (t: T) => Promise<void>): Promise<void> {
    let next = 0;
    const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    });
    await Promise.all(workers);
  }

  function checkpointName(connectionId: string, region: string): string {
    return `aws.sync.${connectionId}.${region}`;
  }

  /** The sync's lease: refused (Conflict, naming the holder) while another live sync holds it. */
  async function holdSyncLease(connection: AwsConnection, region: string): Promise<{ check(): void; release(): Promise<void> }> {
    const cfg = deps.syncLease;
    if (!cfg) return { check: () => undefined, release: async () => undefined };
    const name = `aws.sync.${connection.id}.${region}`;
    const ttl = cfg.ttlMs ?? DEFAULT_SYNC_LEASE_MS;
    // Unique per run: two syncs in one process are two holders.
    const me = `${cfg.holder}, sync ${randomUUID().slice(0, 8)}`;
    let got = await cfg.leases.acquireLease(name, me, ttl);
    if (!got.held && got.holder !== undefined && cfg.holderGone?.(got.holder)) {
      // Its process died (kill -9, a crash): its lease is released and taken, if nobody was faster.
      await cfg.leases.releaseLease(name, got.holder);
      got = await cfg.leases.acquireLease(name, me, ttl);
    }
    if (!got.held) {
      const cur = await cfg.leases.getLease(name);
      const left = cur ? Math.max(1, Math.ceil(cur.expiresInMs / 1000)) : undefined;
      fail('Conflict', `a sync of connection '${connection.name}' in ${region} is already running, held by ${cur?.holder ?? got.holder ?? 'another process'}; wait for its report (if that process died, its lease expires ${left !== undefined ? `in ${left} s` : 'soon'} and sync works again)`);
    }
    let lostTo: string | undefined;
    let renewing = false;
    const timer = setInterval(() => {
      if (renewing) return;
      renewing = true;
      cfg.leases
        .acquireLease(name, me, ttl)
        .then((s) => void (s.held ? undefined : (lostTo = s.holder ?? 'another process')))
        // Storage unreachable: tried again on the next tick; past the TTL the lease may be lost.
        .catch(() => undefined)
        .finally(() => (renewing = false));
    }, Math.max(10, Math.floor(ttl / 3)));
    (timer as { unref?: () => void }).unref?.();
    return {
      check() {
        if (lostTo !== undefined) fail('Conflict', `the sync of connection '${connection.name}' in ${region} lost its lease to ${lostTo} (it could not renew it in time); the checkpoint is kept and the next sync resumes from it`);
      },
      async release() {
        clearInterval(timer);
        await cfg.leases.releaseLease(name, me).catch(() => undefined);
      },
    };
  }

  async function readCheckpoint(name: string): Promise<{ run: string; marker: string | undefined } | undefined> {
    const text = await repo.getMeta(name);
    if (!text) return undefined;
    try {
      const v = JSON.parse(text) as { run?: unknown; marker?: unknown };
      return typeof v.run === 'string' ? { run: v.run, marker: typeof v.marker === 'string' ? v.marker : undefined } : undefined;
    } catch {
      return undefined;
    }
  }

  const sameContent = (a: AwsKeyRecord, b: AwsKeyRecord) => {
    const strip = ({ syncRun: _r, syncedAt: _s, goneAt: _g, ...rest }: AwsKeyRecord) => rest;
    return JSON.stringify(strip(a)) === JSON.stringify(strip(b));
  };

  function record(md: AwsKeyMetadata, parts: { connectionId: string; region: string; aliases: string[]; tags: Record<string, string>; policy: string | null; rotation: AwsKeyRecord['rotation']; localKeyId: string | null; run: string }): AwsKeyRecord {
    return {
      arn: md.arn,
      keyId: md.keyId,
      connectionId: parts.connectionId,
      accountId: md.accountId,
      region: parts.region,
      keySpec: md.keySpec,
      keyUsage: md.keyUsage,
      origin: md.origin,
      keyManager: md.keyManager,
      state: md.keyState,
      description: md.description,
      aliases: [...parts.aliases].sort(),
      tags: Object.fromEntries(Object.entries(parts.tags).sort(([a], [b]) => (a < b ? -1 : 1))),
      policy: parts.policy,
      rotation: parts.rotation,
      expirationModel: md.expirationModel,
      validTo: md.validTo,
      multiRegion: md.multiRegion,
      customKeyStoreId: md.customKeyStoreId,
      xksKeyId: md.xksKeyId,
      localKeyId: parts.localKeyId,
      awsCreatedAt: md.createdAt,
      deletionDate: md.deletionDate,
      syncRun: parts.run,
      syncedAt: nowIso(),
      goneAt: null,
    };
  }

  /** Everything a sync keeps about one key; undefined when the key vanished since ListKeys. */
  async function readKey(kms: ByokKmsPort, keyId: string, counter: { retries: number }): Promise<{ md: AwsKeyMetadata; tags: Record<string, string>; policy: string | null; rotation: AwsKeyRecord['rotation'] } | undefined> {
    let md: AwsKeyMetadata;
    try {
      md = await retrying(counter, () => kms.describeKey(keyId));
    } catch (e) {
      if (isAwsCallError(e) && e.reason === 'not-found') return undefined;
      throw e;
    }
    const tags: Record<string, string> = {};
    // AWS-managed keys cannot be tagged; their tags, policy and rotation are AWS's.
    if (md.keyManager === 'CUSTOMER') {
      let marker: string | undefined;
      do {
        const page = await retrying(counter, () => kms.listResourceTags(keyId, marker)).catch((e: unknown) => {
          if (isAwsCallError(e) && e.reason === 'not-found') return undefined;
          throw e;
        });
        if (!page) return undefined;
        Object.assign(tags, page.tags);
        marker = page.next;
      } while (marker);
    }
    const policy = await retrying(counter, () => kms.getKeyPolicy(keyId)).catch((e: unknown) => {
      if (isAwsCallError(e) && (e.reason === 'permission' || e.reason === 'not-found' || e.reason === 'unsupported')) return null;
      throw e;
    });
    let rotation: AwsKeyRecord['rotation'] = null;
    if (md.origin === 'AWS_KMS' && md.keySpec === 'SYMMETRIC_DEFAULT' && md.keyState !== 'PendingDeletion') {
      rotation = await retrying(counter, () => kms.getKeyRotationStatus(keyId)).catch((e: unknown) => {
        // Unsupported for imported, asymmetric, HMAC and custom-store keys: not rotating in KMS.
        if (isAwsCallError(e) && (e.reason === 'unsupported' || e.reason === 'invalid-request' || e.reason === 'permission' || e.reason === 'not-found')) return null;
        throw e;
      });
    }
    return { md, tags, policy, rotation };
  }

  async function connectionId(name: string): Promise<string> {
    return ((await repo.getAwsConnection(name)) ?? fail('NotFound', `AWS connection '${name}' does not exist`)).id;
  }

  async function mustGetRecord(ref: string, connectionId?: string): Promise<AwsKeyRecord> {
    const all = await repo.listAwsKeys(connectionId !== undefined ? { connectionId } : {});
    const hits = all.filter((k) => k.arn === ref || k.keyId === ref || k.aliases.includes(ref));
    if (hits.length === 0) fail('NotFound', `no AWS key '${ref}' is known to Keyhold (run keyhold aws sync CONNECTION first)`);
    if (hits.length > 1) fail('Conflict', `'${ref}' names ${hits.length} AWS keys (${hits.map((h) => h.arn).join(', ')}); give the ARN`);
    return hits[0]!;
  }

  async function localExternalId(internalId: string): Promise<string> {
    return (await repo.getKey(internalId))?.externalId ?? internalId;
  }

  /** Prefers RSA + AES key wrap, falls back to RSA-OAEP when KMS refuses it for this key. */
  async function importParameters(kms: ByokKmsPort, keyId: string, counter: { retries: number }) {
    // GetParametersForImport's quota is one call per 4 s: back off from there.
    try {
      const p = await retrying(counter, () => kms.getParametersForImport(keyId, 'RSA_AES_KEY_WRAP_SHA_256', 'RSA_4096'), 4000);
      return { ...p, algorithm: 'RSA_AES_KEY_WRAP_SHA_256' as const };
    } catch (e) {
      if (!isAwsCallError(e) || (e.reason !== 'unsupported' && e.reason !== 'invalid-request')) throw e;
      const p = await retrying(counter, () => kms.getParametersForImport(keyId, 'RSAES_OAEP_SHA_256', 'RSA_4096'), 4000);
      return { ...p, algorithm: 'RSAES_OAEP_SHA_256' as const };
    }
  }

  /**
   * GetParametersForImport, wrap here, ImportKeyMaterial. A token that expired before it was
   * used (ExpiredImportTokenException: parameters are valid 24 h) is replaced by fresh
   * parameters once; a second expiry is reported, as it points at this host's clock.
   */
  async function importMaterial(
    kms: ByokKmsPort,
    keyId: string,
    material: Buffer,
    opts: { expirationModel: AwsKeyCopy['expirationModel']; validTo?: string | undefined; importType?: 'NEW_KEY_MATERIAL' | 'EXISTING_KEY_MATERIAL' | undefined; keyMaterialId?: string | undefined },
    counter: { retries: number },
  ): Promise<{ keyMaterialId: string | null; wrappingAlgorithm: ImportWrappingAlgorithm; freshParameters: number }> {
    for (let fresh = 0; ; fresh++) {
      const p = await importParameters(kms, keyId, counter);
      const wrapped = wrapForKmsImport(p.publicKey, p.algorithm, material);
      try {
        const r = await retrying(counter, () => kms.importKeyMaterial({ keyId, importToken: p.importToken, encryptedKeyMaterial: wrapped, expirationModel: opts.expirationModel, validTo: opts.validTo, importType: opts.importType, keyMaterialId: opts.keyMaterialId }));
        return { keyMaterialId: r.keyMaterialId, wrappingAlgorithm: p.algorithm, freshParameters: fresh };
      } catch (e) {
        if (!isAwsCallError(e) || e.awsName !== 'ExpiredImportTokenException') throw e;
        if (fresh >= 1) {
          fail('InvalidState', `AWS found the import token for ${keyId} expired again with fresh parameters (valid until ${p.validTo}): this host's clock is probably far off AWS's; fix NTP and retry`, e);
        }
      }
    }
  }

  /**
   * A key Keyhold just created whose import failed holds nothing: it is scheduled for
   * deletion (KMS's shortest window, 7 days) and the import's error is thrown, saying so.
   */
  async function dropEmptyKey(kms: ByokKmsPort, connectionId: string, region: string, md: AwsKeyMetadata, e: unknown, counter: { retries: number }, more = ''): Promise<never> {
    const cleanup = await retrying(counter, () => kms.scheduleKeyDeletion(md.keyId, 7)).then(
      () => `the new key ${md.arn} (without material) was scheduled for deletion in 7 days`,
      (d: unknown) => `the new key ${md.arn} is left without material (scheduling its deletion failed too: ${d instanceof Error ? d.message : String(d)})`,
    );
    await refresh(kms, connectionId, region, md.keyId, counter).catch(() => undefined);
    throw new KeyholdError(isKeyholdError(e) ? e.code : 'Internal', `${e instanceof Error ? e.message : String(e)}; ${cleanup}${more}`, { cause: e });
  }

  /** An optional `--valid-to`: ISO 8601, in the future, within KMS's 365 days. */
  function validToOf(text: string | undefined): string | undefined {
    if (text === undefined) return undefined;
    const t = Date.parse(text);
    if (!Number.isFinite(t)) fail('ValidationFailed', `--valid-to '${text}' is not an ISO 8601 date`);
    if (t <= clock.now() || t > clock.now() + MAX_VALID_TO_DAYS * DAY_MS) fail('ValidationFailed', `--valid-to must be in the future and at most ${MAX_VALID_TO_DAYS} days ahead (KMS's limit)`);
    return new Date(t).toISOString();
  }

  async function supersession(arn: string): Promise<AwsKeySupersession | null> {
    const text = await repo.getMeta(SUPERSEDED_META + arn);
    if (!text) return null;
    try {
      const v = JSON.parse(text) as Partial<AwsKeySupersession>;
      return typeof v.by === 'string' && typeof v.at === 'string' ? { by: v.by, at: v.at, actor: typeof v.actor === 'string' ? v.actor : '' } : null;
    } catch {
      return null;
    }
  }

  /**
   * The latest copy of local material into each AWS key of a local key, where that AWS key is
   * still live: not gone, not pending deletion, and not superseded by a newer imported key.
   */
  async function liveLinks(localKeyId: string): Promise<AwsKeyCopy[]> {
    const latest = new Map<string, AwsKeyCopy>();
    for (const c of await repo.listAwsKeyCopies({ localKeyId })) latest.set(c.awsKeyArn, c);
    const live: AwsKeyCopy[] = [];
    for (const c of latest.values()) {
      const rec = await repo.getAwsKey(c.awsKeyArn);
      if (rec && rec.state !== 'Gone' && rec.state !== 'PendingDeletion' && (await supersession(c.awsKeyArn)) === null) live.push(c);
    }
    return live;
  }

  /**
   * Carries one exported local version to one linked AWS key: in place (ImportKeyMaterial
   * NEW_KEY_MATERIAL, then RotateKeyOnDemand) or, where KMS refuses that, a new imported
   * key with the aliases moved. Never throws: a failure is the outcome's error.
   */
  async function carryToLink(link: AwsKeyCopy, localKey: string, exported: ExportedMaterial, strategy: 'auto' | 'in-place' | 'new-key', actor: string): Promise<LinkedRotationOutcome> {
    let session: ByokSession | undefined;
    try {
      session = (await deps.open(link.connectionId)).session;
      const kms = session.kms(link.region);
      const c = { retries: 0 };
      const old = (await repo.getAwsKey(link.awsKeyArn)) ?? fail('NotFound', `AWS key ${link.awsKeyArn} is no longer known to Keyhold`);
      const validTo = link.validTo !== null && Date.parse(link.validTo) > clock.now() ? link.validTo : undefined;
      const expirationModel = validTo ? 'KEY_MATERIAL_EXPIRES' : 'KEY_MATERIAL_DOES_NOT_EXPIRE';
      const copyOf = (awsKeyArn: string, keyMaterialId: string | null): AwsKeyCopy => ({
        id: randomUUID(), localKeyId: exported.key.id, localVersion: exported.version, connectionId: link.connectionId, region: link.region, awsKeyArn, expirationModel, validTo: validTo ?? null, keyMaterialId, copiedBy: actor, copiedAt: nowIso(),
      });
      if (strategy !== 'new-key') {
        try {
          const imported = await importMaterial(kms, old.keyId, exported.material, { expirationModel, validTo, importType: 'NEW_KEY_MATERIAL' }, c);
          await retrying(c, () => kms.rotateKeyOnDemand(old.keyId));
          await refresh(kms, link.connectionId, link.region, old.keyId, c);
          await repo.insertAwsKeyCopy(copyOf(old.arn, imported.keyMaterialId));
          return { awsKeyArn: old.arn, strategy: 'in-place', newArn: null, error: null };
        } catch (e) {
          if (strategy === 'in-place' || !isAwsCallError(e) || (e.reason !== 'unsupported' && e.reason !== 'invalid-request' && e.reason !== 'service')) throw e;
        }
      }
      const md = await retrying(c, () => kms.createKey({ origin: 'EXTERNAL', keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT', description: `Keyhold key ${localKey}, version ${exported.version} (imported material)`, tags: { 'keyhold:key': localKey, 'keyhold:version': String(exported.version) }, multiRegion: false }));
      const imported = await importMaterial(kms, md.keyId, exported.material, { expirationModel, validTo }, c);
      for (const a of await retrying(c, () => kms.aliasesOf(old.keyId))) await retrying(c, () => kms.updateAlias(a, md.keyId));
      const fresh = await refresh(kms, link.connectionId, link.region, md.keyId, c);
      await repo.insertAwsKeyCopy(copyOf(fresh.arn, imported.keyMaterialId));
      // The new key is the link from now on; the old one keeps decrypting what it made.
      await repo.setMeta(SUPERSEDED_META + old.arn, JSON.stringify({ by: fresh.arn, at: nowIso(), actor } satisfies AwsKeySupersession));
      await refresh(kms, link.connectionId, link.region, old.keyId, c);
      return { awsKeyArn: old.arn, strategy: 'new-key', newArn: fresh.arn, error: null };
    } catch (e) {
      return { awsKeyArn: link.awsKeyArn, strategy: null, newArn: null, error: e instanceof Error ? e.message : String(e) };
    } finally {
      session?.close();
    }
  }

  async function readPendingLinks(): Promise<{ localKey: string; awsKeyArn: string; attempts: number; error: string }[]> {
    const text = await repo.getMeta(PENDING_LINKS_META);
    if (!text) return [];
    try {
      const v = JSON.parse(text) as unknown;
      return Array.isArray(v) ? v.filter((p): p is { localKey: string; awsKeyArn: string; attempts: number; error: string } => typeof p?.localKey === 'string' && typeof p?.awsKeyArn === 'string') : [];
    } catch {
      return [];
    }
  }

  /** Reads one key again after a change and stores what KMS now says. */
  async function refresh(kms: ByokKmsPort, connectionId: string, region: string, keyId: string, counter: { retries: number }): Promise<AwsKeyRecord> {
    const got = (await readKey(kms, keyId, counter)) ?? fail('NotFound', `AWS key ${keyId} no longer exists in ${region}`);
    const aliases = await retrying(counter, () => kms.aliasesOf(keyId));
    const before = await repo.getAwsKey(got.md.arn);
    const rec = record(got.md, { connectionId, region, aliases, tags: got.tags, policy: got.policy, rotation: got.rotation, localKeyId: before?.localKeyId ?? null, run: before?.syncRun ?? 'change' });
    await repo.putAwsKey(rec);
    return rec;
  }

  /** Runs `fn` on the KMS client of a known AWS key's connection and Region, then refreshes the record. */
  async function onKey(ref: string, fn: (kms: ByokKmsPort, key: AwsKeyRecord, counter: { retries: number }) => Promise<void>): Promise<AwsKeyRecord> {
    const key = await mustGetRecord(ref);
    if (key.state === 'Gone') fail('InvalidState', `AWS key ${key.arn} is gone from AWS; only forget applies`);
    if (key.keyManager !== 'CUSTOMER') fail('AccessDenied', `AWS key ${key.arn} is an AWS managed key: AWS manages it, Keyhold only shows it`);
    const { session } = await deps.open(key.connectionId);
    try {
      const kms = session.kms(key.region);
      const counter = { retries: 0 };
      await fn(kms, key, counter);
      return await refresh(kms, key.connectionId, key.region, key.keyId, counter);
    } finally {
      session.close();
    }
  }

  /**
   * `aws key import LOCAL --into AWS_KEY`: the local key's material into an existing
   * EXTERNAL-origin key that awaits material (PendingImport). A key Keyhold already copied
   * this local key into takes that version back (EXISTING_KEY_MATERIAL, as reimport); a key
   * that never held material takes the current version. Everything that can be refused is
   * refused before the material is exported or AWS is asked to change anything.
   */
  async function importInto(input: AwsKeyImportInput, ref: string, validTo: string | undefined): Promise<AwsKeyImportResult> {
    if (input.description !== undefined) fail('ValidationFailed', '--description applies to a new AWS key; an existing key keeps its own (--into)');
    const regions = [...new Set(input.regions ?? [])];
    if (regions.length > 1) fail('InvalidState', `--into names one AWS key, which lives in one Region; it cannot take several Regions (${regions.join(', ')})`);
    const target = await mustGetRecord(ref, input.connection !== undefined ? await connectionId(input.connection) : undefined);
    if (regions.length === 1 && regions[0] !== target.region) fail('InvalidState', `AWS key ${target.arn} lives in ${target.region}, not ${regions[0]!}`);
    if (target.state === 'Gone' || target.state === 'PendingDeletion') fail('InvalidState', `AWS key ${target.arn} is ${target.state}`);
    if (target.keyManager !== 'CUSTOMER') fail('AccessDenied', `AWS key ${target.arn} is an AWS managed key`);
    if (target.origin !== 'EXTERNAL') fail('InvalidState', `${target.arn} has origin ${target.origin}: only a key created for imported material (origin EXTERNAL) takes material (leave out --into to create one)`);
    if (target.keySpec !== 'SYMMETRIC_DEFAULT' || target.keyUsage !== 'ENCRYPT_DECRYPT') fail('InvalidState', `${target.arn} is ${target.keySpec} ${target.keyUsage}: Keyhold keys are AES-256, so only a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key can take their material`);
    const local = (await repo.getKeyByExternalId(input.localKey)) ?? fail('KeyNotFound', `key '${input.localKey}' does not exist`);
    const links = await repo.listAwsKeyCopies({ awsKeyArn: target.arn });
    const other = links.find((l) => l.localKeyId !== local.id);
    if (other) fail('InvalidState', `${target.arn} already holds the material of local key '${await localExternalId(other.localKeyId)}' (copied by ${other.copiedBy} on ${other.copiedAt}); KMS takes no other material into it`);
    // This local key was copied into it before: only that version is the same material.
    const prior = links.reduce<AwsKeyCopy | undefined>((a, b) => (a === undefined || b.localVersion > a.localVersion || (b.localVersion === a.localVersion && b.copiedAt >= a.copiedAt) ? b : a), undefined);
    const { connection, session } = await deps.open(target.connectionId);
    let exported: ExportedMaterial | undefined;
    try {
      const kms = session.kms(target.region);
      const c = { retries: 0 };
      // The synced record may be old: KMS's state now decides.
      const now = await refresh(kms, target.connectionId, target.region, target.keyId, c);
      if (now.state !== 'PendingImport') fail('InvalidState', `AWS key ${now.arn} is ${now.state}, not PendingImport: it is not awaiting material${now.state === 'Enabled' || now.state === 'Disabled' ? ' (it holds material already)' : ''}`);
      // Refuses a key that is not exportable before anything is sent to AWS.
      exported = await deps.keys.exportMaterial(input.localKey, prior?.localVersion);
      const expirationModel = validTo ? 'KEY_MATERIAL_EXPIRES' : 'KEY_MATERIAL_DOES_NOT_EXPIRE';
      let imported: Awaited<ReturnType<typeof importMaterial>>;
      try {
        imported = await importMaterial(kms, now.keyId, exported.material, { expirationModel, validTo, ...(prior ? { importType: 'EXISTING_KEY_MATERIAL' as const, keyMaterialId: prior.keyMaterialId ?? undefined } : {}) }, c);
      } catch (e) {
        if (isAwsCallError(e) && e.awsName === 'IncorrectKeyMaterialException') {
          fail('InvalidState', `AWS refused the material of key '${input.localKey}' version ${exported.version} for ${now.arn} (IncorrectKeyMaterialException): the key held other material before, and KMS takes only that material back`, e);
        }
        throw e;
      }
      if (input.alias !== undefined) await retrying(c, () => kms.createAlias(input.alias!, now.keyId));
      const fresh = await refresh(kms, target.connectionId, target.region, now.keyId, c);
      const copy: AwsKeyCopy = {
        id: randomUUID(), localKeyId: local.id, localVersion: exported.version, connectionId: connection.id, region: target.region, awsKeyArn: fresh.arn, expirationModel, validTo: validTo ?? null, keyMaterialId: imported.keyMaterialId ?? prior?.keyMaterialId ?? null, copiedBy: input.actor, copiedAt: nowIso(),
      };
      await repo.insertAwsKeyCopy(copy);
      return { localKey: input.localKey, localVersion: exported.version, copies: [{ ...copy, wrappingAlgorithm: imported.wrappingAlgorithm, alias: input.alias ?? null }] };
    } finally {
      if (exported) wipe(exported.material);
      session.close();
    }
  }

  return {
    async sync(name: string, opts: { region?: string | undefined; concurrency?: number | undefined; onProgress?: ((p: SyncProgress) => void) | undefined; stopAfterPages?: number | undefined } = {}): Promise<SyncReport> {
      const concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY;
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) fail('ValidationFailed', `concurrency must be 1-${MAX_CONCURRENCY}`);
      const { connection, session } = await deps.open(name);
      let lease: Awaited<ReturnType<typeof holdSyncLease>> | undefined;
      try {
        const region = opts.region ?? connection.region;
        if (!connection.regions.includes(region)) fail('ValidationFailed', `Region ${region} is not one of connection '${connection.name}' Regions (${connection.regions.join(', ')})`);
        lease = await holdSyncLease(connection, region);
        const kms = session.kms(region);
        const counter = { retries: 0 };
        const cpName = checkpointName(connection.id, region);
        const cp = await readCheckpoint(cpName);
        const run = cp?.run ?? randomUUID();
        const report: SyncReport = { connection: connection.name, region, run, resumed: cp !== undefined, pages: 0, seen: 0, added: 0, updated: 0, unchanged: 0, vanishedDuringSync: 0, gone: [], linked: 0, awsManagedAliasesWithoutKey: 0, retries: 0, complete: false };
        await repo.setMeta(cpName, JSON.stringify({ run, marker: cp?.marker, startedAt: nowIso() }));

        const aliases = new Map<string, string[]>();
        let aliasMarker: string | undefined;
        do {
          const page = await retrying(counter, () => kms.listAliases(LIST_ALIASES_PAGE, aliasMarker));
          for (const a of page.aliases) {
            if (a.targetKeyId === null) {
              // KMS lists alias/aws/* before the service made its key; DescribeKey would make it.
              report.awsManagedAliasesWithoutKey++;
              continue;
            }
            aliases.set(a.targetKeyId, [...(aliases.get(a.targetKeyId) ?? []), a.name]);
          }
          aliasMarker = page.next;
        } while (aliasMarker);

        const xksLinks = new Map((await repo.listKeyAwsLinks()).map((l) => [l.kmsKeyArn, l.keyId]));
        const localByExternalId = new Map((await repo.listKeys()).map((k) => [k.externalId, k]));

        let marker = cp?.marker;
        do {
          const page = await retrying(counter, () => kms.listKeys(LIST_KEYS_PAGE, marker));
          await pool(page.keys, concurrency, async (k) => {
            const got = await readKey(kms, k.keyId, counter);
            if (!got) {
              report.vanishedDuringSync++;
              return;
            }
            let localKeyId: string | null = null;
            if (got.md.origin === 'EXTERNAL_KEY_STORE' && got.md.xksKeyId !== null) {
              const linkedId = xksLinks.get(got.md.arn);
              const local = linkedId !== undefined ? undefined : localByExternalId.get(got.md.xksKeyId);
              localKeyId = linkedId !== undefined ? await localExternalId(linkedId) : (local?.externalId ?? null);
              if (localKeyId !== null) report.linked++;
            }
            const rec = record(got.md, { connectionId: connection.id, region, aliases: aliases.get(got.md.keyId) ?? [], tags: got.tags, policy: got.policy, rotation: got.rotation, localKeyId, run });
            const before = await repo.getAwsKey(rec.arn);
            if (!before || before.goneAt !== null) report.added++;
            else if (sameContent(before, rec)) report.unchanged++;
            else report.updated++;
            await repo.putAwsKey(rec);
            report.seen++;
          });
          marker = page.next;
          report.pages++;
          lease.check();
          await repo.setMeta(cpName, JSON.stringify({ run, marker, startedAt: nowIso() }));
          opts.onProgress?.({ region, pages: report.pages, keys: report.seen });
          if (opts.stopAfterPages !== undefined && report.pages >= opts.stopAfterPages && marker) {
            report.retries = counter.retries;
            return report; // interrupted on purpose (tests of resumption): the checkpoint stays
          }
        } while (marker);

        report.gone = await repo.markAwsKeysGone(connection.id, region, run, nowIso());
        await repo.setMeta(cpName, '');
        report.retries = counter.retries;
        report.complete = true;
        return report;
      } finally {
        await lease?.release();
        session.close();
      }
    },

    async list(filter: { connection?: string | undefined; region?: string | undefined; state?: string | undefined } = {}): Promise<AwsKeyRecord[]> {
      const f: AwsKeyFilter = { region: filter.region, state: filter.state };
      if (filter.connection !== undefined) f.connectionId = await connectionId(filter.connection);
      return repo.listAwsKeys(f);
    },

    /** One AWS key by key id, ARN or alias, with the local material copied into it, and the key that superseded it (if one did). */
    async show(ref: string): Promise<{ key: AwsKeyRecord; copies: (AwsKeyCopy & { localKey: string })[]; superseded: AwsKeySupersession | null }> {
      const key = await mustGetRecord(ref);
      const copies = await Promise.all((await repo.listAwsKeyCopies({ awsKeyArn: key.arn })).map(async (c) => ({ ...c, localKey: await localExternalId(c.localKeyId) })));
      return { key, copies, superseded: await supersession(key.arn) };
    },

    /** Where a local key's material went: every copy, with the AWS key as last synced and whether a newer key superseded it. */
    async links(localKey: string): Promise<{ localKey: string; copies: (AwsKeyCopy & { awsKey: AwsKeyRecord | null; superseded: AwsKeySupersession | null })[]; xksKeys: AwsKeyRecord[] }> {
      const key = (await repo.getKeyByExternalId(localKey)) ?? fail('KeyNotFound', `key '${localKey}' does not exist`);
      const copies = await Promise.all((await repo.listAwsKeyCopies({ localKeyId: key.id })).map(async (c) => ({ ...c, awsKey: (await repo.getAwsKey(c.awsKeyArn)) ?? null, superseded: await supersession(c.awsKeyArn) })));
      const xksKeys = (await repo.listAwsKeys()).filter((k) => k.localKeyId === localKey);
      return { localKey, copies, xksKeys };
    },

    /** `keyhold aws key create`: a native key of any KMS spec, with aliases and tags. */
    async createNative(input: { connection: string; region?: string | undefined; keySpec?: string | undefined; keyUsage?: string | undefined; aliases?: string[] | undefined; tags?: Record<string, string> | undefined; description?: string | undefined; multiRegion?: boolean | undefined }): Promise<AwsKeyRecord> {
      const keySpec = input.keySpec ?? 'SYMMETRIC_DEFAULT';
      if (!NATIVE_SPECS.includes(keySpec)) fail('ValidationFailed', `--spec must be one of ${NATIVE_SPECS.join(', ')}`);
      const keyUsage = input.keyUsage ?? DEFAULT_USAGE[keySpec]!;
      if (!(USAGES_OF[keySpec] ?? []).includes(keyUsage)) fail('ValidationFailed', `--usage ${keyUsage} does not go with ${keySpec} (use ${(USAGES_OF[keySpec] ?? []).join(' or ')})`);
      for (const a of input.aliases ?? []) if (!ALIAS_RE.test(a) || a.startsWith('alias/aws/')) fail('ValidationFailed', `alias '${a}' must be alias/NAME (letters, digits, / _ -), not under alias/aws/`);
      for (const k of Object.keys(input.tags ?? {})) if (k.toLowerCase().startsWith('aws:')) fail('ValidationFailed', `tag key '${k}': the aws: prefix is reserved`);
      const { connection, session } = await deps.open(input.connection);
      try {
        const region = input.region ?? connection.region;
        if (!connection.regions.includes(region)) fail('ValidationFailed', `Region ${region} is not one of connection '${connection.name}' Regions (${connection.regions.join(', ')})`);
        const kms = session.kms(region);
        const counter = { retries: 0 };
        const md = await retrying(counter, () => kms.createKey({ origin: 'AWS_KMS', keySpec, keyUsage, description: input.description ?? '', tags: input.tags ?? {}, multiRegion: input.multiRegion ?? false }));
        for (const a of input.aliases ?? []) await retrying(counter, () => kms.createAlias(a, md.keyId));
        return await refresh(kms, connection.id, region, md.keyId, counter);
      } finally {
        session.close();
      }
    },

    enable: (ref: string) => onKey(ref, (kms, k, c) => retrying(c, () => kms.enableKey(k.keyId))),
    disable: (ref: string) => onKey(ref, (kms, k, c) => retrying(c, () => kms.disableKey(k.keyId))),
    scheduleDeletion(ref: string, days = 30) {
      if (!Number.isInteger(days) || days < 7 || days > 30) fail('ValidationFailed', `the waiting period must be 7-30 days, not ${String(days)}`);
      return onKey(ref, async (kms, k, c) => void (await retrying(c, () => kms.scheduleKeyDeletion(k.keyId, days))));
    },
    cancelDeletion: (ref: string) => onKey(ref, (kms, k, c) => retrying(c, () => kms.cancelKeyDeletion(k.keyId))),
    setTags(ref: string, set: Record<string, string>, remove: string[] = []) {
      for (const k of Object.keys(set)) if (k.toLowerCase().startsWith('aws:')) fail('ValidationFailed', `tag key '${k}': the aws: prefix is reserved`);
      return onKey(ref, async (kms, k, c) => {
        if (Object.keys(set).length) await retrying(c, () => kms.tagResource(k.keyId, set));
        if (remove.length) await retrying(c, () => kms.untagResource(k.keyId, remove));
      });
    },
    /** Adds an alias, or moves it here when it points at another key of the same Region. */
    addAlias(ref: string, alias: string) {
      if (!ALIAS_RE.test(alias) || alias.startsWith('alias/aws/')) fail('ValidationFailed', `alias '${alias}' must be alias/NAME (letters, digits, / _ -), not under alias/aws/`);
      return onKey(ref, async (kms, k, c) => {
        const elsewhere = (await repo.listAwsKeys({ connectionId: k.connectionId, region: k.region })).some((o) => o.arn !== k.arn && o.aliases.includes(alias));
        await retrying(c, () => (elsewhere ? kms.updateAlias(alias, k.keyId) : kms.createAlias(alias, k.keyId)));
      });
    },
    removeAlias(ref: string, alias: string) {
      return onKey(ref, async (kms, k, c) => {
        if (!k.aliases.includes(alias)) fail('NotFound', `${k.arn} has no alias ${alias}`);
        await retrying(c, () => kms.deleteAlias(alias));
      });
    },
    /** The key policy and, before a put, the change line by line (validated as JSON first). */
    async policyDiff(ref: string, policy: string): Promise<{ before: string; after: string; diff: string[] }> {
      const key = await mustGetRecord(ref);
      const after = canonicalPolicy(policy);
      const before = key.policy === null ? '' : canonicalPolicy(key.policy);
      return { before, after, diff: lineDiff(before, after) };
    },
    putPolicy(ref: string, policy: string) {
      const doc = canonicalPolicy(policy);
      return onKey(ref, (kms, k, c) => retrying(c, () => kms.putKeyPolicy(k.keyId, doc)));
    },
    setRotation(ref: string, on: boolean, periodDays?: number) {
      if (periodDays !== undefined && (!Number.isInteger(periodDays) || periodDays < 90 || periodDays > 2560)) fail('ValidationFailed', 'the rotation period must be 90-2560 days');
      return onKey(ref, async (kms, k, c) => {
        if (k.origin !== 'AWS_KMS' || k.keySpec !== 'SYMMETRIC_DEFAULT') fail('InvalidState', `${k.arn} is ${k.origin} ${k.keySpec}: KMS rotates only symmetric keys with KMS-made material (rotate it with keyhold aws key rotate)`);
        await retrying(c, () => (on ? kms.enableKeyRotation(k.keyId, periodDays) : kms.disableKeyRotation(k.keyId)));
      });
    },
    /** Drops Keyhold's record only; allowed once AWS no longer has the key (or it is pending deletion). */
    async forget(ref: string): Promise<{ forgotten: string }> {
      const key = await mustGetRecord(ref);
      if (key.state !== 'Gone' && key.state !== 'PendingDeletion') fail('InvalidState', `AWS key ${key.arn} is ${key.state} in AWS; schedule its deletion first (forget drops only Keyhold's record)`);
      await repo.deleteAwsKey(key.arn);
      return { forgotten: key.arn };
    },
    /**
     * `keyhold aws key rotate KEY`: a new native key with the same spec, usage, description,
     * tags and policy; the aliases move to it; the old key stays enabled for decryption
     * unless `disableOld`.
     */
    async rotateNative(ref: string, opts: { disableOld?: boolean } = {}): Promise<{ old: AwsKeyRecord; new: AwsKeyRecord; movedAliases: string[] }> {
      const old = await mustGetRecord(ref);
      if (old.state === 'Gone' || old.state === 'PendingDeletion') fail('InvalidState', `AWS key ${old.arn} is ${old.state}`);
      if (old.keyManager !== 'CUSTOMER') fail('AccessDenied', `AWS key ${old.arn} is an AWS managed key`);
      if (old.origin !== 'AWS_KMS') fail('InvalidState', `${old.arn} has origin ${old.origin}: rotate imported keys with keyhold key rotate LOCAL --linked, or move to a key Keyhold owns with --to-local`);
      const { session } = await deps.open(old.connectionId);
      try {
        const kms = session.kms(old.region);
        const c = { retries: 0 };
        const tags = Object.fromEntries(Object.entries(old.tags).filter(([k]) => !k.toLowerCase().startsWith('aws:')));
        const md = await retrying(c, () => kms.createKey({ origin: 'AWS_KMS', keySpec: old.keySpec, keyUsage: old.keyUsage, description: old.description, tags, multiRegion: old.multiRegion, ...(old.policy !== null ? { policy: old.policy } : {}) }));
        const aliases = await retrying(c, () => kms.aliasesOf(old.keyId));
        for (const a of aliases) await retrying(c, () => kms.updateAlias(a, md.keyId));
        if (opts.disableOld) await retrying(c, () => kms.disableKey(old.keyId));
        const fresh = await refresh(kms, old.connectionId, old.region, md.keyId, c);
        const oldNow = await refresh(kms, old.connectionId, old.region, old.keyId, c);
        return { old: oldNow, new: fresh, movedAliases: aliases };
      } finally {
        session.close();
      }
    },

    /**
     * `keyhold key rotate LOCAL --linked`: a new local version, then for each AWS key holding
     * the local key's material: in place (ImportKeyMaterial NEW_KEY_MATERIAL, then
     * RotateKeyOnDemand; same ARN, old material still decrypts) or, where KMS refuses that,
     * a new imported key with the aliases moved. One link's failure does not stop the others.
     */
    async rotateLinked(localKey: string, opts: { strategy?: 'auto' | 'in-place' | 'new-key' | undefined; actor: string }): Promise<{ localKey: string; version: number; links: LinkedRotationOutcome[] }> {
      const strategy = opts.strategy ?? 'auto';
      const key = (await repo.getKeyByExternalId(localKey)) ?? fail('KeyNotFound', `key '${localKey}' does not exist`);
      if (!key.exportable) fail('AccessDenied', `key '${localKey}' is not exportable, so it has no copies in AWS to rotate`);
      const live = await liveLinks(key.id);
      if (live.length === 0) fail('InvalidState', `key '${localKey}' has no live copies in AWS (see keyhold key links ${localKey})`);
      const rotated = await deps.keys.rotate(localKey);
      const exported = await deps.keys.exportMaterial(localKey, rotated.currentVersion);
      const out: LinkedRotationOutcome[] = [];
      try {
        for (const link of live) out.push(await carryToLink(link, localKey, exported, strategy, opts.actor));
      } finally {
        wipe(exported.material);
      }
      return { localKey, version: exported.version, links: out };
    },

    /**
     * `keyhold aws key import LOCAL_KEY`: one EXTERNAL-origin KMS key per Region, the same
     * material in each; with `into`, the material goes into one existing key instead.
     */
    async importLocal(input: AwsKeyImportInput): Promise<AwsKeyImportResult> {
      if (input.alias !== undefined && (!ALIAS_RE.test(input.alias) || input.alias.startsWith('alias/aws/'))) {
        fail('ValidationFailed', `alias '${input.alias}' must be alias/NAME (letters, digits, / _ -), not under alias/aws/`);
      }
      const validTo = validToOf(input.validTo);
      if (input.into !== undefined) return importInto(input, input.into, validTo);
      if (input.connection === undefined) fail('ValidationFailed', 'give the AWS connection to import into (or --into an existing AWS key)');
      const { connection, session } = await deps.open(input.connection);
      let exported: ExportedMaterial | undefined;
      try {
        const regions = input.regions && input.regions.length > 0 ? [...new Set(input.regions)] : [connection.region];
        for (const r of regions) if (!connection.regions.includes(r)) fail('ValidationFailed', `Region ${r} is not one of connection '${connection.name}' Regions (${connection.regions.join(', ')})`);
        // Refuses non-exportable keys before anything is made in AWS.
        exported = await deps.keys.exportMaterial(input.localKey);
        const result: AwsKeyImportResult = { localKey: input.localKey, localVersion: exported.version, copies: [] };
        const counter = { retries: 0 };
        for (const region of regions) {
          const kms = session.kms(region);
          const created = await retrying(counter, () =>
            kms.createKey({
              origin: 'EXTERNAL',
              keySpec: 'SYMMETRIC_DEFAULT',
              keyUsage: 'ENCRYPT_DECRYPT',
              description: input.description ?? `Keyhold key ${input.localKey}, version ${exported!.version} (imported material)`,
              tags: { 'keyhold:key': input.localKey, 'keyhold:version': String(exported!.version) },
              multiRegion: false,
            }),
          );
          const expirationModel = validTo ? 'KEY_MATERIAL_EXPIRES' : 'KEY_MATERIAL_DOES_NOT_EXPIRE';
          const imported = await importMaterial(kms, created.keyId, exported.material, { expirationModel, validTo }, counter).catch((e: unknown) => dropEmptyKey(kms, connection.id, region, created, e, counter));
          if (input.alias !== undefined) await retrying(counter, () => kms.createAlias(input.alias!, created.keyId));
          const md = await retrying(counter, () => kms.describeKey(created.keyId));
          const copy: AwsKeyCopy = {
            id: randomUUID(),
            localKeyId: exported.key.id,
            localVersion: exported.version,
            connectionId: connection.id,
            region,
            awsKeyArn: md.arn,
            expirationModel,
            validTo: validTo ?? null,
            keyMaterialId: imported.keyMaterialId,
            copiedBy: input.actor,
            copiedAt: nowIso(),
          };
          await repo.putAwsKey(
            record(md, { connectionId: connection.id, region, aliases: input.alias ? [input.alias] : [], tags: { 'keyhold:key': input.localKey, 'keyhold:version': String(exported.version) }, policy: null, rotation: null, localKeyId: null, run: 'import' }),
          );
          await repo.insertAwsKeyCopy(copy);
          result.copies.push({ ...copy, wrappingAlgorithm: imported.wrappingAlgorithm, alias: input.alias ?? null });
        }
        return result;
      } finally {
        if (exported) wipe(exported.material);
        session.close();
      }
    },

    /**
     * `keyhold aws key rotate KEY --to-local LOCAL_KEY` ("rotate to a key we own"): a new
     * EXTERNAL-origin key holding the exportable local key's current version, with the old
     * key's description, tags and policy; the aliases move to it; recorded as a link. The old
     * native key stays enabled for decryption unless `disableOld`. Refusals (a key that is not
     * a customer managed symmetric AWS_KMS key, a local key that is not exportable) come
     * before anything is made in AWS; if the import fails, the new key is scheduled for
     * deletion (7 days) and the aliases stay where they were.
     */
    async rotateToLocal(ref: string, localKey: string, opts: AwsKeyRotateToLocalOptions): Promise<AwsKeyRotateToLocalResult> {
      const old = await mustGetRecord(ref);
      if (old.state === 'Gone' || old.state === 'PendingDeletion') fail('InvalidState', `AWS key ${old.arn} is ${old.state}`);
      if (old.keyManager !== 'CUSTOMER') fail('AccessDenied', `AWS key ${old.arn} is an AWS managed key`);
      if (old.origin !== 'AWS_KMS') fail('InvalidState', `${old.arn} has origin ${old.origin}: --to-local moves a native (AWS_KMS) key to Keyhold material; an imported key is rotated with keyhold key rotate LOCAL --linked`);
      if (old.keySpec !== 'SYMMETRIC_DEFAULT' || old.keyUsage !== 'ENCRYPT_DECRYPT') fail('InvalidState', `${old.arn} is ${old.keySpec} ${old.keyUsage}: Keyhold keys are AES-256, so only a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key can move to one`);
      const validTo = validToOf(opts.validTo);
      const expirationModel = validTo ? 'KEY_MATERIAL_EXPIRES' : 'KEY_MATERIAL_DOES_NOT_EXPIRE';
      // Refuses keys that are not exportable before anything is made in AWS.
      const exported = await deps.keys.exportMaterial(localKey);
      let session: ByokSession | undefined;
      try {
        session = (await deps.open(old.connectionId)).session;
        const kms = session.kms(old.region);
        const c = { retries: 0 };
        const keyholdTags = { 'keyhold:key': localKey, 'keyhold:version': String(exported.version) };
        const tags = { ...Object.fromEntries(Object.entries(old.tags).filter(([k]) => !k.toLowerCase().startsWith('aws:'))), ...keyholdTags };
        const md = await retrying(c, () =>
          kms.createKey({ origin: 'EXTERNAL', keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT', description: old.description || `Keyhold key ${localKey}, version ${exported.version} (imported material)`, tags, multiRegion: false, ...(old.policy !== null ? { policy: old.policy } : {}) }),
        );
        let imported: Awaited<ReturnType<typeof importMaterial>>;
        try {
          imported = await importMaterial(kms, md.keyId, exported.material, { expirationModel, validTo }, c);
        } catch (e) {
          return await dropEmptyKey(kms, old.connectionId, old.region, md, e, c, `; the aliases stayed on ${old.arn}`);
        }
        const aliases = await retrying(c, () => kms.aliasesOf(old.keyId));
        for (const a of aliases) await retrying(c, () => kms.updateAlias(a, md.keyId));
        if (opts.disableOld) await retrying(c, () => kms.disableKey(old.keyId));
        const fresh = await refresh(kms, old.connectionId, old.region, md.keyId, c);
        const oldNow = await refresh(kms, old.connectionId, old.region, old.keyId, c);
        const link: AwsKeyCopy = {
          id: randomUUID(), localKeyId: exported.key.id, localVersion: exported.version, connectionId: old.connectionId, region: old.region, awsKeyArn: fresh.arn, expirationModel, validTo: validTo ?? null, keyMaterialId: imported.keyMaterialId, copiedBy: opts.actor, copiedAt: nowIso(),
        };
        await repo.insertAwsKeyCopy(link);
        return { old: oldNow, new: fresh, movedAliases: aliases, localKey, localVersion: exported.version, wrappingAlgorithm: imported.wrappingAlgorithm, link };
      } finally {
        wipe(exported.material);
        session?.close();
      }
    },

    /** `keyhold aws key delete-material KEY`: DeleteImportedKeyMaterial; the key goes PendingImport until `reimport`. */
    deleteImportedMaterial(ref: string): Promise<AwsKeyRecord> {
      return onKey(ref, async (kms, k, c) => {
        if (k.origin !== 'EXTERNAL') fail('InvalidState', `${k.arn} has origin ${k.origin}: only keys with imported material (origin EXTERNAL) have material to delete`);
        if (k.state === 'PendingDeletion') fail('InvalidState', `AWS key ${k.arn} is pending deletion`);
        await retrying(c, () => kms.deleteImportedKeyMaterial(k.keyId));
      });
    },

    /**
     * `keyhold aws key reimport KEY`: imports again, into an imported key, the local version
     * its link records (EXISTING_KEY_MATERIAL: KMS accepts only the same material). For a
     * key whose material was deleted or expired. Recorded as a new link of the same version.
     */
    async reimport(ref: string, opts: AwsKeyReimportOptions): Promise<AwsKeyReimportResult> {
      const key = await mustGetRecord(ref);
      if (key.state === 'Gone' || key.state === 'PendingDeletion') fail('InvalidState', `AWS key ${key.arn} is ${key.state}`);
      if (key.origin !== 'EXTERNAL') fail('InvalidState', `${key.arn} has origin ${key.origin}: only keys with imported material (origin EXTERNAL) take material again`);
      const copies = await repo.listAwsKeyCopies({ awsKeyArn: key.arn });
      const link = copies.reduce<AwsKeyCopy | undefined>((a, b) => (a === undefined || b.localVersion > a.localVersion || (b.localVersion === a.localVersion && b.copiedAt >= a.copiedAt) ? b : a), undefined);
      if (!link) fail('InvalidState', `${key.arn} has no link to a local key: Keyhold did not copy material into it, so there is nothing to reimport from (see keyhold aws key show ${ref})`);
      const localKey = await localExternalId(link.localKeyId);
      let validTo = validToOf(opts.validTo);
      if (validTo === undefined && link.validTo !== null) {
        if (Date.parse(link.validTo) <= clock.now()) fail('ValidationFailed', `the material of ${key.arn} was set to expire on ${link.validTo}, which has passed: give --valid-to (or copy it as not expiring with keyhold key rotate ${localKey} --linked)`);
        validTo = link.validTo;
      }
      const expirationModel = validTo ? 'KEY_MATERIAL_EXPIRES' : 'KEY_MATERIAL_DOES_NOT_EXPIRE';
      // The local key must still exist and be exportable; refused before any call to AWS.
      const exported = await deps.keys.exportMaterial(localKey, link.localVersion);
      let session: ByokSession | undefined;
      try {
        session = (await deps.open(key.connectionId)).session;
        const kms = session.kms(key.region);
        const c = { retries: 0 };
        const imported = await importMaterial(kms, key.keyId, exported.material, { expirationModel, validTo, importType: 'EXISTING_KEY_MATERIAL', keyMaterialId: link.keyMaterialId ?? undefined }, c);
        const fresh = await refresh(kms, key.connectionId, key.region, key.keyId, c);
        const copy: AwsKeyCopy = { ...link, id: randomUUID(), expirationModel, validTo: validTo ?? null, keyMaterialId: imported.keyMaterialId ?? link.keyMaterialId, copiedBy: opts.actor, copiedAt: nowIso() };
        await repo.insertAwsKeyCopy(copy);
        return { key: fresh, localKey, localVersion: link.localVersion, wrappingAlgorithm: imported.wrappingAlgorithm, link: copy };
      } finally {
        wipe(exported.material);
        session?.close();
      }
    },

    /**
     * The scheduler's part of linked rotation: after it rotated local keys on their schedule,
     * carries each one's current version to its live linked AWS keys (`strategy` auto, as
     * `key rotate --linked`), and retries the links that failed on an earlier pass. Failures
     * are kept (in meta) for the next pass; nothing here throws for one link.
     */
    async rotateScheduledLinks(rotatedKeys: readonly string[], opts: { actor: string }): Promise<ScheduledLinkRun> {
      const pending = await readPendingLinks();
      const targets = new Map<string, Set<string>>(); // local key → AWS key ARNs
      const retried = new Set(pending.map((p) => `${p.localKey}\n${p.awsKeyArn}`));
      const add = (k: string, arn: string) => targets.set(k, (targets.get(k) ?? new Set()).add(arn));
      for (const p of pending) add(p.localKey, p.awsKeyArn);
      const outcomes: ScheduledLinkRun['outcomes'] = [];
      const stillPending: typeof pending = [];
      const keys = new Map<string, Key>();
      for (const k of rotatedKeys) {
        const key = await repo.getKeyByExternalId(k);
        if (!key?.exportable) continue;
        keys.set(k, key);
        for (const l of await liveLinks(key.id)) if (l.localVersion < key.currentVersion) add(k, l.awsKeyArn);
      }
      for (const [localKey, arns] of targets) {
        const key = keys.get(localKey) ?? (await repo.getKeyByExternalId(localKey));
        if (!key?.exportable || key.deletionDate !== null) continue; // gone or going: nothing to carry
        const live = new Map((await liveLinks(key.id)).map((l) => [l.awsKeyArn, l]));
        const due = [...arns].map((a) => live.get(a)).filter((l): l is AwsKeyCopy => l !== undefined && l.localVersion < key.currentVersion);
        if (due.length === 0) continue;
        let exported: ExportedMaterial;
        try {
          exported = await deps.keys.exportMaterial(localKey, key.currentVersion);
        } catch (e) {
          const error = e instanceof Error ? e.message : String(e);
          for (const l of due) {
            outcomes.push({ awsKeyArn: l.awsKeyArn, strategy: null, newArn: null, error, localKey, version: key.currentVersion, retry: retried.has(`${localKey}\n${l.awsKeyArn}`) });
            stillPending.push({ localKey, awsKeyArn: l.awsKeyArn, attempts: (pending.find((p) => p.localKey === localKey && p.awsKeyArn === l.awsKeyArn)?.attempts ?? 0) + 1, error });
          }
          continue;
        }
        try {
          for (const l of due) {
            const o = await carryToLink(l, localKey, exported, 'auto', opts.actor);
            const retry = retried.has(`${localKey}\n${l.awsKeyArn}`);
            outcomes.push({ ...o, localKey, version: exported.version, retry });
            if (o.error !== null) stillPending.push({ localKey, awsKeyArn: l.awsKeyArn, attempts: (pending.find((p) => p.localKey === localKey && p.awsKeyArn === l.awsKeyArn)?.attempts ?? 0) + 1, error: o.error });
          }
        } finally {
          wipe(exported.material);
        }
      }
      const kept = stillPending.slice(0, MAX_PENDING_LINKS);
      if (kept.length > 0 || pending.length > 0) await repo.setMeta(PENDING_LINKS_META, kept.length > 0 ? JSON.stringify(kept) : '');
      return { outcomes, pending: kept.length };
    },
  };
}
