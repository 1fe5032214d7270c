import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { KeyholdError, systemClock, type Clock } from '../base/index.js';
import { createHsmKeyBackend, createSoftwareBackend, type HsmKeyBackend } from '../backends/index.js';
import {
  createAdminIdentityService,
  createApprovalActions,
  createApprovalRules,
  createApprovalService,
  createAwsConnectionService,
  createAwsKeyService,
  createAwsXksService,
  withAwsCredentialSync,
  createKeyService,
  createKeyStoreService,
  type AdminIdentityService,
  type ApprovalService,
  type AwsConnectionService,
  type AwsXksService,
  type Backends,
  type KeyService,
  type KeyStoreService,
  type Seal,
  type Storage,
} from '../domain/index.js';
import { leaseHolderGone, leaseHolderName, openSqliteStorage } from '../storage/index.js';
import type { Config } from './config.js';
import { hsmPin, type SessionPool } from '../hsm/index.js';
import { openHsmPool } from './hsm.js';
import type { Logger } from '../base/index.js';
import { createSeal, openSeal } from '../seal/index.js';
import { createAwsGateway, createByokSessionOpener, proxySettingsFromEnv } from '../aws/index.js';
import { clusterCertificateOps } from '../xks/index.js';
import type { AuditArchiveOps, AwsKeyService } from '../domain/index.js';

/** Everything a process needs to manage keys: storage, seal, backends and services. */
export interface AppContext {
  config: Readonly<Config>;
  clock: Clock;
  storage: Storage;
  seal: Seal;
  backends: Backends;
  softwareBackend: ReturnType<typeof createSoftwareBackend>;
  /** Present when [hsm] is configured. */
  hsm: { pool: SessionPool; backend: HsmKeyBackend } | undefined;
  keyStores: KeyStoreService;
  keys: KeyService;
  identity: AdminIdentityService;
  approvals: ApprovalService;
  /** AWS connections (the AWS plane, docs/aws.md). */
  awsConnections: AwsConnectionService;
  /** The XKS side in AWS: custom key stores and KMS keys for Keyhold key stores and keys. */
  awsXks: AwsXksService;
  /** Native AWS KMS keys: sync, list, import of local material (docs/byok.md). */
  awsKeys: AwsKeyService;
  /**
   * Archiving the audit log into archive_dir, for approval requests that run it: set once
   * the audit log is open (a server sets it; unset, the action answers Unsupported).
   */
  auditArchive: { ops?: AuditArchiveOps | undefined };
  close(): Promise<void>;
}

export async function openStorage(config: Config): Promise<Storage> {
  if (config.storage.type === 'postgres') {
    // Loaded only for PostgreSQL: the driver is a few MiB of heap a SQLite node never uses.
    const { openPostgresStorage } = await import('../storage/postgres.js');
    return openPostgresStorage({ url: config.storage.url, poolSize: config.storage.poolSize });
  }
  mkdirSync(dirname(config.storage.path), { recursive: true, mode: 0o700 });
  const storage = await openSqliteStorage({ path: config.storage.path });
  chmodSync(config.storage.path, 0o600);
  return storage;
}

export async function openContext(config: Readonly<Config>, opts: { creating?: boolean; clock?: Clock; log?: Logger; role?: 'server' | 'CLI' } = {}): Promise<AppContext> {
  const clock = opts.clock ?? systemClock;
  // Opening storage creates the directory and the database file: only init may do that.
  if (!opts.creating && config.storage.type === 'sqlite' && !existsSync(config.storage.path)) {
    throw new KeyholdError('SealError', `the data directory ${config.dataDir} is not initialised (no ${config.storage.path}); run: keyhold init`);
  }
  const storage = await openStorage(config);
  let seal: Seal;
  let pool: SessionPool | undefined;
  try {
    // The HSM seal needs the token first; a PIN sealed in storage needs the seal first.
    if (config.hsm && config.hsm.pin.source !== 'sealed') pool = openHsmPool(config.hsm, (await hsmPin(config.hsm, { meta: storage })) ?? null, opts.log);
    // The HSM seal is needed at once; open its first session with time to spare, not
    // inside the budget of a single call.
    if (pool && config.seal.type === 'hsm') await pool.warmUp(1);
    seal = opts.creating ? await createSeal(config, storage, pool) : await openSeal(config, storage, pool);
    if (config.hsm && !pool) {
      // Until `keyhold hsm set-pin` has stored the PIN there is no pool: HSM keys are
      // unavailable, everything else works (including set-pin itself).
      const pin = await hsmPin(config.hsm, { seal, meta: storage });
      if (pin !== undefined) pool = openHsmPool(config.hsm, pin, opts.log);
    }
  } catch (e) {
    await pool?.close();
    await storage.close();
    throw e;
  }
  const softwareBackend = createSoftwareBackend({ seal, meta: storage });
  const hsmBackend = pool && config.hsm ? createHsmKeyBackend({ pool, labelPrefix: config.hsm.keyLabelPrefix }) : undefined;
  const backends: Backends = { software: softwareBackend, ...(hsmBackend ? { hsm: hsmBackend } : {}) };
  const baseKeyStores = createKeyStoreService({ repo: storage, seal, clock });
  const keys = createKeyService({ repo: storage, backends, clock });
  // HTTPS_PROXY / NO_PROXY are read once, here.
  const awsConnections = createAwsConnectionService({ repo: storage, seal, clock, gateway: createAwsGateway({ proxy: proxySettingsFromEnv(process.env) }) });
  const awsXks = createAwsXksService({ repo: storage, keyStores: baseKeyStores, keys, connections: awsConnections, clock });
  // Credentials added to a key store linked to AWS reach its custom key store.
  const keyStores = withAwsCredentialSync(baseKeyStores, awsXks);
  const awsKeys = createAwsKeyService({
    repo: storage,
    keys,
    clock,
    open: createByokSessionOpener({ storage, seal, proxy: proxySettingsFromEnv(process.env) }),
    // One sync per connection and Region across every process on this database.
    syncLease: { leases: storage.cluster, holder: leaseHolderName(opts.role ?? 'CLI'), holderGone: leaseHolderGone },
  });
  const a = config.admin;
  const identity = createAdminIdentityService({
    repo: storage,
    clock,
    settings: {
      sessionTtlMs: a.sessionTtlMs,
      sessionIdleMs: a.sessionIdleMs,
      lockoutThreshold: a.lockoutThreshold,
      lockoutBaseMs: a.lockoutBaseMs,
      lockoutMaxMs: a.lockoutMaxMs,
      passwordHash: { ln: a.passwordHashCost, r: 8, p: 1 },
      maxQueuedHashes: a.loginQueueSize,
      maxHashesPerAddress: a.loginChecksPerAddress,
    },
  });
  const auditArchive: AppContext['auditArchive'] = {};
  return {
    config,
    clock,
    storage,
    seal,
    backends,
    softwareBackend,
    hsm: pool && hsmBackend ? { pool, backend: hsmBackend } : undefined,
    keyStores,
    keys,
    awsConnections,
    awsKeys,
    awsXks,
    identity,
    auditArchive,
    approvals: createApprovalService({
      repo: storage,
      actions: createApprovalActions({ keyStores, keys, identity, rules: createApprovalRules({ repo: storage, clock }), aws: awsConnections, awsKeys, tls: { ops: clusterCertificateOps(storage, seal, clock), seal }, auditArchive: () => auditArchive.ops }),
      seal,
      clock,
      defaultTtlMs: a.approvalTtlMs,
    }),
    async close() {
      for (const b of Object.values(backends)) await b?.close?.();
      await seal.close?.();
      await pool?.close();
      await storage.close();
    },
  };
}
