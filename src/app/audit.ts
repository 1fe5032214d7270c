import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { KeyholdError, type Logger } from '../base/index.js';
import { createSyslogForwarder, type SyslogForwarder } from '../audit/index.js';
import type { ManagementServices } from '../cli/host.js';
import {
  auditAdminAction,
  auditedAdminUsers,
  auditedAuditReads,
  auditedAwsConnections,
  auditedAwsXks,
  auditedKeyService,
  auditedKeyStoreService,
  createAuditService,
  loadAuditKey,
  openAuditChain,
  type AdminActor,
  type AuditForwarder,
  type AuditService,
  type AuditTelemetry,
} from '../domain/index.js';
import { openSqliteAuditLog, type AuditStore, type AuditStoreSink } from '../storage/index.js';
import type { AuditConfig } from './config.js';
import type { AppContext } from './context.js';

export interface AppAudit {
  service: AuditService;
  sink: AuditStoreSink;
  syslog: SyslogForwarder | undefined;
  close(): Promise<void>;
}

/**
 * Opens the audit log: the audit key (made on first use, sealed), a group-committing sink
 * (SQLite: on a writer thread for the server, inline for the CLI), and the syslog forwarder
 * when one is configured.
 */
export async function openAudit(ctx: AppContext, opts: { mode: 'thread' | 'inline'; log?: Logger; telemetry?: AuditTelemetry; chain?: string }): Promise<AppAudit> {
  const cfg = ctx.config.audit;
  const store = await openAuditStore(ctx.config);
  try {
    const node = auditNodeId(cfg);
    const chain = opts.chain ?? cfg.chain;
    const key = await loadAuditKey({ repo: store.keys, seal: ctx.seal, node, clock: ctx.clock });
    const sink = store.openSink({ key, chain, mode: opts.mode, maxBatch: cfg.maxBatch, delayMs: cfg.commitDelayMs, telemetry: opts.telemetry });
    // Before anything is served: refuse a wiped chain (tampering suspected), start this
    // writer's chain if it is new, rebuild usage rows that have no MAC yet.
    const bare = createAuditService({ sink, reader: store.reader, key, node, clock: ctx.clock, maintenance: store.maintenance });
    try {
      await openAuditChain({ key, chain, node, clock: ctx.clock, maintenance: store.maintenance, reader: store.reader, rebuildUsage: (c) => bare.rebuildUsage(c) });
    } catch (e) {
      // The server fails closed. The CLI goes on, so that verify and export can say what is
      // wrong; its appends refuse a wiped chain all the same (the appender checks the tail).
      if (opts.mode === 'thread') throw e;
    }
    const syslog = cfg.syslog ? openSyslog(cfg.syslog, opts.log) : undefined;
    const forwarders: AuditForwarder[] = syslog ? [syslog] : [];
    const service = createAuditService({ sink, reader: store.reader, key, node, clock: ctx.clock, forwarders, maintenance: store.maintenance });
    const timer = syslog && opts.mode === 'thread' && cfg.checkpointIntervalMs > 0 ? checkpoints(service, syslog, cfg.checkpointIntervalMs, opts.log) : undefined;
    return {
      service,
      sink,
      syslog,
      async close() {
        if (timer) clearInterval(timer);
        await service.close();
        await store.close();
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}

/** A signed head checkpoint to syslog now and every intervalMs (the server only). */
function checkpoints(service: AuditService, syslog: SyslogForwarder, intervalMs: number, log: Logger | undefined): NodeJS.Timeout {
  const send = () =>
    service.checkpoint().then(
      (doc) => syslog.checkpoint(doc),
      (e: unknown) => log?.error({ event: 'audit_checkpoint_failed', err: e instanceof Error ? e.message : String(e) }, 'could not make an audit checkpoint'),
    );
  void send();
  const t = setInterval(() => void send(), intervalMs);
  t.unref();
  return t;
}

/** The audit log lives in the same database as everything else. */
async function openAuditStore(config: AppContext['config']): Promise<AuditStore> {
  const s = config.storage;
  if (s.type !== 'postgres') return openSqliteAuditLog({ path: s.path });
  const { openPostgresAuditLog } = await import('../storage/postgres-audit-log.js');
  return openPostgresAuditLog({ url: s.url, poolSize: Math.max(2, Math.ceil(s.poolSize / 2)) });
}

export function auditNodeId(cfg: Pick<AuditConfig, 'nodeId'>): string {
  return cfg.nodeId ?? hostname();
}

function openSyslog(s: NonNullable<AuditConfig['syslog']>, log: Logger | undefined): SyslogForwarder {
  let ca: string | undefined;
  if (s.caFile) {
    try {
      ca = readFileSync(s.caFile, 'utf8');
    } catch (e) {
      throw new KeyholdError('ConfigInvalid', `audit.syslog.ca: cannot read ${s.caFile}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return createSyslogForwarder({
    transport: s.transport,
    host: s.host,
    port: s.port,
    ca,
    appName: s.appName,
    facility: s.facility,
    hostname: hostname(),
    procId: String(process.pid),
    queueSize: s.queueSize,
    log,
  });
}

/** The CLI acts as the local OS user. */
export function cliActor(): AdminActor {
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    name = `uid:${process.getuid?.() ?? 'unknown'}`;
  }
  return { actor: name, source: 'cli' };
}

/** The CLI's management services on the local database, with every change (and every export) recorded. */
export function auditedManagement(base: Omit<ManagementServices, 'audit'>, audit: AuditService, who: AdminActor): ManagementServices {
  const hsm = base.hsm;
  return {
    ...base,
    keyStores: auditedKeyStoreService(base.keyStores, audit, who),
    keys: auditedKeyService(base.keys, audit, who),
    admins: auditedAdminUsers(base.admins, audit, who),
    audit: auditedAuditReads(audit, who),
    aws: { connections: auditedAwsConnections(base.aws.connections, audit, who), xks: auditedAwsXks(base.aws.xks, audit, who) },
    awsKeys: {
      ...base.awsKeys,
      sync: (name, opts) =>
        auditAdminAction(audit, who, { action: 'aws.keys.sync', target: name, change: { region: opts?.region } }, () => base.awsKeys.sync(name, opts), (r) => ({
          region: r.region,
          added: r.added,
          updated: r.updated,
          gone: r.gone.length,
          resumed: r.resumed,
        })),
      createNative: (input) =>
        auditAdminAction(audit, who, { action: 'aws.keys.create', target: input.connection, change: { region: input.region, keySpec: input.keySpec, keyUsage: input.keyUsage, aliases: input.aliases, tags: input.tags, multiRegion: input.multiRegion } }, () => base.awsKeys.createNative(input), (k) => ({ arn: k.arn })),
      enable: (ref) => auditAdminAction(audit, who, { action: 'aws.keys.enable', target: ref }, () => base.awsKeys.enable(ref), (k) => ({ arn: k.arn })),
      disable: (ref) => auditAdminAction(audit, who, { action: 'aws.keys.disable', target: ref }, () => base.awsKeys.disable(ref), (k) => ({ arn: k.arn })),
      scheduleDeletion: (ref, days) => auditAdminAction(audit, who, { action: 'aws.keys.schedule-deletion', target: ref, change: { pendingWindowInDays: days } }, () => base.awsKeys.scheduleDeletion(ref, days), (k) => ({ arn: k.arn, deletionDate: k.deletionDate })),
      cancelDeletion: (ref) => auditAdminAction(audit, who, { action: 'aws.keys.cancel-deletion', target: ref }, () => base.awsKeys.cancelDeletion(ref), (k) => ({ arn: k.arn })),
      setTags: (ref, set, remove) => auditAdminAction(audit, who, { action: 'aws.keys.tags', target: ref, change: { set, remove } }, () => base.awsKeys.setTags(ref, set, remove), (k) => ({ arn: k.arn })),
      addAlias: (ref, alias) => auditAdminAction(audit, who, { action: 'aws.keys.alias.add', target: ref, change: { alias } }, () => base.awsKeys.addAlias(ref, alias), (k) => ({ arn: k.arn })),
      removeAlias: (ref, alias) => auditAdminAction(audit, who, { action: 'aws.keys.alias.remove', target: ref, change: { alias } }, () => base.awsKeys.removeAlias(ref, alias), (k) => ({ arn: k.arn })),
      putPolicy: (ref, policy) => auditAdminAction(audit, who, { action: 'aws.keys.policy.put', target: ref, change: { bytes: policy.length } }, () => base.awsKeys.putPolicy(ref, policy), (k) => ({ arn: k.arn })),
      setRotation: (ref, on, periodDays) => auditAdminAction(audit, who, { action: 'aws.keys.rotation', target: ref, change: { on, periodDays } }, () => base.awsKeys.setRotation(ref, on, periodDays), (k) => ({ arn: k.arn })),
      forget: (ref) => auditAdminAction(audit, who, { action: 'aws.keys.forget', target: ref }, () => base.awsKeys.forget(ref)),
      rotateNative: (ref, opts) => auditAdminAction(audit, who, { action: 'aws.keys.rotate', target: ref, change: { ...opts } }, () => base.awsKeys.rotateNative(ref, opts), (r) => ({ old: r.old.arn, new: r.new.arn, aliases: r.movedAliases })),
      rotateLinked: (localKey, opts) =>
        auditAdminAction(audit, who, { action: 'keys.rotate-linked', target: localKey, keyId: localKey, change: { strategy: opts.strategy } }, () => base.awsKeys.rotateLinked(localKey, opts), (r) => ({
          version: r.version,
          links: r.links.map((l) => ({ arn: l.awsKeyArn, strategy: l.strategy, newArn: l.newArn, failed: l.error !== null })),
        })),
      rotateToLocal: (ref, localKey, opts) =>
        auditAdminAction(audit, who, { action: 'aws.keys.rotate-to-local', target: ref, keyId: localKey, change: { localKey, validTo: opts.validTo, disableOld: opts.disableOld } }, () => base.awsKeys.rotateToLocal(ref, localKey, opts), (r) => ({
          old: r.old.arn,
          new: r.new.arn,
          aliases: r.movedAliases,
          version: r.localVersion,
        })),
      deleteImportedMaterial: (ref) => auditAdminAction(audit, who, { action: 'aws.keys.delete-material', target: ref }, () => base.awsKeys.deleteImportedMaterial(ref), (k) => ({ arn: k.arn, state: k.state })),
      reimport: (ref, opts) =>
        auditAdminAction(audit, who, { action: 'aws.keys.reimport', target: ref, change: { validTo: opts.validTo } }, () => base.awsKeys.reimport(ref, opts), (r) => ({ arn: r.key.arn, localKey: r.localKey, version: r.localVersion, state: r.key.state })),
      importLocal: (input) =>
        auditAdminAction(
          audit,
          who,
          { action: 'aws.keys.import', target: input.localKey, keyId: input.localKey, change: { connection: input.connection, into: input.into, regions: input.regions, alias: input.alias, validTo: input.validTo } },
          () => base.awsKeys.importLocal(input),
          (r) => ({ version: r.localVersion, awsKeys: r.copies.map((c) => c.awsKeyArn) }),
        ),
    },
    hsm: hsm && { ...hsm, setPin: (pin) => auditAdminAction(audit, who, { action: 'hsm.set-pin', target: 'hsm' }, () => hsm.setPin(pin)) },
    tls: {
      ...base.tls,
      install: (cert, key) => auditAdminAction(audit, who, { action: 'tls.install', target: 'xks' }, () => base.tls.install(cert, key), (c) => ({ fingerprint256: c.fingerprint256, notAfter: c.notAfter })),
      remove: () => auditAdminAction(audit, who, { action: 'tls.remove', target: 'xks' }, () => base.tls.remove()),
    },
    importSampleProxyConfig: (text, opts) =>
      opts.dryRun
        ? base.importSampleProxyConfig(text, opts)
        : auditAdminAction(audit, who, { action: 'import.sample-proxy-config', target: 'sample-proxy' }, () => base.importSampleProxyConfig(text, opts)),
  };
}
