import { existsSync, mkdirSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { KeyholdError } from '../base/index.js';
import { auditedKeyService, auditedKeyStoreService, type AdminActor, type IssuedCredential } from '../domain/index.js';
import { cliActor, openAudit } from './audit.js';
import { CONFIG_FILE_NAME, defaultConfigToml, type Config } from './config.js';
import { openContext, openStorage } from './context.js';

export interface InitSummary {
  dataDir: string;
  configFile: string;
  seal: string;
  tlsCertificate: string;
  tlsCertificateCreated: boolean;
  demo?: { keyStore: string; uriPath: string; keyId: string; region: string; credential: IssuedCredential };
  /** The first administrator and its one-time password (shown once). */
  admin: { username: string; oneTimePassword: string };
}

export const DEMO = { keyStore: 'demo', prefix: '/demo', keyId: 'demo-key', region: 'us-east-1' } as const;

export async function isInitialised(config: Config): Promise<boolean> {
  if (config.storage.type === 'sqlite' && !existsSync(config.storage.path)) return false;
  const storage = await openStorage(config);
  try {
    return (await storage.getMeta('seal.kind')) !== undefined;
  } finally {
    await storage.close();
  }
}

/**
 * Creates a data directory: configuration file, seal, storage, a self-signed TLS
 * certificate for localhost, the first administrator with a one-time password, and (unless
 * demo is false) a demo key store with one key and one credential; secrets are returned to
 * be shown once.
 */
export async function initDataDir(config: Readonly<Config>, opts: { demo: boolean; actor?: AdminActor }): Promise<InitSummary> {
  if (await isInitialised(config)) throw new KeyholdError('Conflict', `${config.dataDir} is already initialised`);
  // All or nothing: whatever this init creates on disk goes again when it fails, so the
  // next init starts from where this one did.
  const undo = createdPaths();
  try {
    return await initialise(config, opts, undo);
  } catch (e) {
    undo.removeAll();
    throw e;
  }
}

/** Files and directories made by one init, removed newest first if it fails. */
function createdPaths() {
  const made: string[] = [];
  return {
    /** mkdir -p, remembering the first directory it had to create (all below it is ours). */
    mkdir(dir: string) {
      const first = mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (first) made.push(first);
    },
    /** Remembers a file that does not exist yet (and the journals SQLite keeps beside it). */
    file(path: string, opts: { sqlite?: boolean } = {}) {
      if (existsSync(path)) return;
      made.push(path);
      if (opts.sqlite) made.push(`${path}-wal`, `${path}-shm`, `${path}-journal`);
    },
    removeAll() {
      for (const p of made.reverse()) rmSync(p, { recursive: true, force: true });
    },
  };
}

async function initialise(config: Readonly<Config>, opts: { demo: boolean; actor?: AdminActor }, undo: ReturnType<typeof createdPaths>): Promise<InitSummary> {
  const actor = opts.actor ?? cliActor();
  undo.mkdir(config.dataDir);
  let configFile = config.configFile;
  if (!configFile) {
    configFile = join(config.dataDir, CONFIG_FILE_NAME);
    undo.file(configFile);
    // The file states the defaults this process already runs with, so config stays valid.
    writeFileSync(configFile, defaultConfigToml(config), { mode: 0o600, flag: 'wx' });
  }

  let tlsCertificateCreated = false;
  if (!existsSync(config.xks.tls.certFile)) {
    // Loaded on demand: certificate generation is only needed here, not at every start.
    const { selfSignedServerCertificate } = await import('./certificates.js');
    const c = await selfSignedServerCertificate(['localhost']);
    undo.mkdir(dirname(config.xks.tls.certFile));
    undo.mkdir(dirname(config.xks.tls.keyFile));
    undo.file(config.xks.tls.keyFile);
    writeFileSync(config.xks.tls.keyFile, c.keyPem, { mode: 0o600 });
    chmodSync(config.xks.tls.keyFile, 0o600);
    undo.file(config.xks.tls.certFile);
    writeFileSync(config.xks.tls.certFile, c.certPem, { mode: 0o644 });
    tlsCertificateCreated = true;
  }
  if (config.seal.type === 'keyfile') undo.file(config.seal.keyFile);
  if (config.storage.type === 'sqlite') {
    undo.mkdir(dirname(config.storage.path));
    undo.file(config.storage.path, { sqlite: true });
  }

  const ctx = await openContext(config, { creating: true });
  // The audit key is made now, and the log starts with the init itself.
  const audit = await openAudit(ctx, { mode: 'inline' }).catch(async (e: unknown) => {
    await ctx.close();
    throw e;
  });
  try {
    await ctx.softwareBackend.ensureHealthKey();
    // The HSM's own health-check key, never linked to a KMS key.
    await ctx.hsm?.backend.ensureHealthKey();
    await audit.service.admin({ ...actor, action: 'keyhold.init', target: config.dataDir, outcome: 'ok', change: { seal: ctx.seal.kind, demo: opts.demo } });
    const bootstrap = await ctx.identity.bootstrap();
    await audit.service.admin({ ...actor, action: 'users.create', target: bootstrap.user.username, outcome: 'ok', change: { role: bootstrap.user.role, bootstrap: true } });
    const summary: InitSummary = {
      dataDir: config.dataDir,
      configFile,
      seal: ctx.seal.kind,
      tlsCertificate: config.xks.tls.certFile,
      tlsCertificateCreated,
      admin: { username: bootstrap.user.username, oneTimePassword: bootstrap.oneTimePassword },
    };
    if (opts.demo) {
      const ks = await auditedKeyStoreService(ctx.keyStores, audit.service, actor).create({ name: DEMO.keyStore, prefix: DEMO.prefix });
      await auditedKeyService(ctx.keys, audit.service, actor).create({ externalId: DEMO.keyId, keyStore: DEMO.keyStore });
      summary.demo = { keyStore: DEMO.keyStore, uriPath: ks.uriPath, keyId: DEMO.keyId, region: DEMO.region, credential: ks.credential };
    }
    return summary;
  } finally {
    await audit.close();
    await ctx.close();
  }
}
