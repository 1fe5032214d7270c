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
  auditedKeyService,
  auditedKeyStoreService,
  createAuditService,
  loadAuditKey,
  type AdminActor,
  type AuditForwarder,
  type AuditService,
  type AuditTelemetry,
  type XksEvent,
} from '../domain/index.js';
import { openSqliteAuditLog, type AuditStore, type AuditStoreSink } from '../storage/index.js';
import type { XksCallRecord } from '../xks/index.js';
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
export async function openAudit(ctx: AppContext, opts: { mode: 'thread' | 'inline'; log?: Logger; telemetry?: AuditTelemetry }): Promise<AppAudit> {
  const cfg = ctx.config.audit;
  const store = await openAuditStore(ctx.config);
  try {
    const key = await loadAuditKey({ repo: store.keys, seal: ctx.seal });
    const syslog = cfg.syslog ? openSyslog(cfg.syslog, opts.log) : undefined;
    const sink = store.openSink({ key, mode: opts.mode, maxBatch: cfg.maxBatch, delayMs: cfg.commitDelayMs, telemetry: opts.telemetry });
    const forwarders: AuditForwarder[] = syslog ? [syslog] : [];
    const service = createAuditService({ sink, reader: store.reader, key, node: auditNodeId(cfg), clock: ctx.clock, forwarders });
    return {
      service,
      sink,
      syslog,
      async close() {
        await service.close();
        await store.close();
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
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

const clip = (v: string | undefined, max: number) => (v === undefined || v.length <= max ? v : v.slice(0, max));

/**
 * The audit record of one answered XKS call. The signature verified exactly when the
 * server learnt an access key id and did not fail authentication (the id is taken from the
 * Authorization header before verification, so it is clipped: it may be anything).
 */
export function xksAuditEvent(call: XksCallRecord): XksEvent {
  const ctx = call.ctx;
  return {
    time: new Date(call.at).toISOString(),
    operation: call.operation,
    kmsRequestId: ctx?.kmsRequestId,
    kmsOperation: ctx?.kmsOperation,
    keyStore: call.keyStoreName,
    keyStoreId: call.keyStoreId,
    keyId: call.externalKeyId,
    keyVersion: call.keyVersion,
    authenticated: call.accessKeyId !== undefined && call.errorName !== 'AuthenticationFailedException',
    accessKeyId: clip(call.accessKeyId, 128),
    awsPrincipalArn: ctx?.awsPrincipalArn,
    kmsKeyArn: ctx?.kmsKeyArn,
    kmsViaService: ctx?.kmsViaService,
    awsSourceVpc: ctx?.awsSourceVpc,
    awsSourceVpce: ctx?.awsSourceVpce,
    remoteAddress: clip(call.remoteAddress, 64),
    status: call.status,
    outcome: call.errorName === undefined && call.status < 400 ? 'ok' : 'error',
    errorName: call.errorName,
    policyRule: call.policyDecidedBy,
    latencyMs: Math.round(call.latencyMs * 1000) / 1000,
  };
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
    aws: { ...base.aws, connections: auditedAwsConnections(base.aws.connections, audit, who) },
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
      importLocal: (input) =>
        auditAdminAction(
          audit,
          who,
          { action: 'aws.keys.import', target: input.localKey, keyId: input.localKey, change: { connection: input.connection, regions: input.regions, alias: input.alias, validTo: input.validTo } },
          () => base.awsKeys.importLocal(input),
          (r) => ({ version: r.localVersion, awsKeys: r.copies.map((c) => c.awsKeyArn) }),
        ),
    },
    hsm: hsm && { ...hsm, setPin: (pin) => auditAdminAction(audit, who, { action: 'hsm.set-pin', target: 'hsm' }, () => hsm.setPin(pin)) },
    importSampleProxyConfig: (text, opts) =>
      opts.dryRun
        ? base.importSampleProxyConfig(text, opts)
        : auditAdminAction(audit, who, { action: 'import.sample-proxy-config', target: 'sample-proxy' }, () => base.importSampleProxyConfig(text, opts)),
  };
}
