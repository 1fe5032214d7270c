import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { KeyholdError } from '../base/index.js';
import { DEFAULT_CONNECTION_LIMITS, DEFAULT_LIMITS, DEFAULT_OVERLOAD_LIMITS, SPEC_MINIMUM_LIMITS, type ConnectionLimits, type OverloadLimits, type TlsFiles, type XksLimits } from '../xks/index.js';
import type { SealConfig } from '../seal/index.js';
import { hsmConfigToml, hsmSection, resolveHsmConfig, type HsmConfig } from './hsm-config.js';

/**
 * Configuration: one TOML file plus environment overrides plus command-line flags, validated
 * once at start into a frozen object, with every problem listed by its setting name.
 * Secrets never live in the file: the seal passphrase comes from KEYHOLD_SEAL_PASSPHRASE or
 * a file named by KEYHOLD_SEAL_PASSPHRASE_FILE.
 */
export interface HostPort {
  host: string;
  port: number;
}

export type { SealConfig };

export interface Config {
  dataDir: string;
  configFile: string | undefined;
  storage: { type: 'sqlite'; path: string } | { type: 'postgres'; url: string; poolSize: number };
  seal: SealConfig;
  /** PKCS#11 token for HSM-protected keys and the HSM seal; absent when not configured. */
  hsm: HsmConfig | undefined;
  xks: {
    listen: HostPort;
    tls: TlsFiles;
    limits: XksLimits;
    maxClockSkewMs: number;
    maxBodyBytes: number;
    /** Processes serving XKS (node:cluster, one shared listener); 1 = this process only. */
    workers: number;
    /** Load shedding limits; undefined when load_shedding = false. */
    overload: OverloadLimits | undefined;
    /** Handshake deadline and connection cap of the XKS listener (per process). */
    connections: ConnectionLimits;
  };
  health: { intervalMs: number; maxAgeMs: number };
  /** Plain-HTTP Prometheus listener (GET /metrics), off unless listen is set. */
  metrics: { listen: HostPort | undefined };
  audit: AuditConfig;
  cluster: ClusterConfig;
  admin: AdminConfig;
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
}

export interface AuditConfig {
  /** false: XKS calls are not recorded (benchmarks only). Admin actions always are. */
  enabled: boolean;
  /** true: an XKS answer waits until its record is committed. */
  durable: boolean;
  nodeId: string | undefined;
  /** The chain this process's writer appends to ('main' unless a cluster gives each node its own). */
  chain: string;
  /** The chain a server (`keyhold start`) appends to: on PostgreSQL, by default, one per node. */
  serverChain: string;
  /** How often the server sends a signed head checkpoint to syslog, in ms (0: never). */
  checkpointIntervalMs: number;
  /** Health turns DEGRADED (and keyhold_audit_disk_low is 1) below this much free space where the log is. */
  diskMinFreeBytes: number;
  diskMinFreeRatio: number;
  /** Automatic archive of records older than this, in ms (0: off), into archiveDir. */
  retentionMs: number;
  /** Automatic archive of the oldest records when more than this many are live (0: off), down to 90 %. */
  retentionMaxRecords: number;
  archiveDir: string;
  maxBatch: number;
  commitDelayMs: number;
  syslog:
    | { transport: 'udp' | 'tcp' | 'tls'; host: string; port: number; caFile: string | undefined; appName: string; facility: number; queueSize: number }
    | undefined;
}

/** Several nodes on one PostgreSQL (docs/deployment.md). Used when storage.type = "postgres". */
export interface ClusterConfig {
  /** This node's name in the registry (default: audit.node_id, then the host name). */
  nodeId: string;
  /** The XKS address other nodes and operators see (default: the XKS listen address). */
  advertise: string | undefined;
  heartbeatMs: number;
  /** Custody lease: past it without hearing from PostgreSQL, the node refuses crypto. */
  leaseMs: number;
  /** A node silent for longer is out of the fleet. */
  nodeTimeoutMs: number;
  /** The longest an XKS answer waits for its audit commit before it is refused. */
  auditDeadlineMs: number;
}

/** The admin listener, admin identity and the lifecycle scheduler. */
export interface AdminConfig {
  enabled: boolean;
  listen: HostPort;
  tls: { certFile: string; keyFile: string };
  sessionTtlMs: number;
  sessionIdleMs: number;
  lockoutThreshold: number;
  lockoutBaseMs: number;
  lockoutMaxMs: number;
  /** log2 of scrypt's N for admin passwords. */
  passwordHashCost: number;
  /** Password checks that may wait for a hashing slot; beyond it a login is answered 429. */
  loginQueueSize: number;
  /** Password checks one client address may have running or waiting. */
  loginChecksPerAddress: number;
  approvalTtlMs: number;
  schedulerIntervalMs: number;
}

export const CONFIG_FILE_NAME = 'keyhold.toml';

/** A boolean in the file, or "true"/"false" (and friends) from the environment. */
const flag = z.union([z.boolean(), z.stringbool()]);
const printable = (max: number) => z.string().regex(new RegExp(`^[\\x21-\\x7e]{1,${max}}$`), `must be 1 to ${max} printable ASCII characters without spaces`);

const hostPort = z.string().transform((s, ctx) => {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    ctx.addIssue({ code: 'custom', message: `'${s}' is not HOST:PORT` });
    return z.NEVER;
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
});

const fileSchema = z
  .object({
    storage: z
      .object({
        type: z.enum(['sqlite', 'postgres']).default('sqlite'),
        path: z.string().min(1).default('keyhold.db'),
        url: z
          .string()
          .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
          .refine((u) => !/^postgres(ql)?:\/\/[^/@]*:[^/@]*@/.test(u), 'must not contain a password: use PGPASSWORD, PGPASSFILE or ~/.pgpass')
          .optional(),
        pool_size: z.number().int().min(1).max(200).default(10),
      })
      .strict()
      .refine((st) => st.type !== 'postgres' || st.url !== undefined, { message: 'storage.url is required when storage.type = "postgres"', path: ['url'] })
      .prefault({}),
    seal: z
      .object({
        type: z.enum(['keyfile', 'passphrase', 'hsm']).default('keyfile'),
        key_file: z.string().min(1).default('seal.key'),
        hsm_key_label: z.string().min(1).max(64).default('keyhold-seal'),
      })
      .strict()
      .prefault({}),
    xks: z
      .object({
        listen: hostPort.default({ host: '127.0.0.1', port: 8443 }),
        tls_cert: z.string().min(1).default('tls/server.crt'),
        tls_key: z.string().min(1).default('tls/server.key'),
        mtls_client_ca: z.string().min(1).optional(),
        mtls_client_subjects: z.array(z.string().min(1)).default([]),
        max_plaintext_bytes: z.number().int().min(SPEC_MINIMUM_LIMITS.maxPlaintextBytes).max(65536).default(DEFAULT_LIMITS.maxPlaintextBytes),
        max_aad_bytes: z.number().int().min(SPEC_MINIMUM_LIMITS.maxAadBytes).max(65535).default(DEFAULT_LIMITS.maxAadBytes),
        max_clock_skew_seconds: z.number().int().min(1).max(900).default(300),
        max_body_bytes: z.number().int().min(32768).max(1 << 20).default(65536),
        workers: z
          .union([z.literal('auto'), z.number().int().min(1).max(64), z.string().regex(/^\d+$/, "must be a whole number or 'auto'").transform(Number).pipe(z.number().int().min(1).max(64))])
          .default('auto'),
        load_shedding: z.boolean().default(true),
        max_in_flight: z.number().int().min(1).max(100_000).default(DEFAULT_OVERLOAD_LIMITS.maxInFlight),
        shed_event_loop_delay_ms: z.number().int().min(10).max(10_000).default(DEFAULT_OVERLOAD_LIMITS.maxEventLoopDelayMs),
        shed_queue_ms: z.number().int().min(10).max(10_000).default(DEFAULT_OVERLOAD_LIMITS.maxQueueMs),
        handshake_timeout_seconds: z.number().min(1).max(120).default(DEFAULT_CONNECTION_LIMITS.handshakeTimeoutMs / 1000),
        max_connections: z.number().int().min(1).max(1_000_000).default(DEFAULT_CONNECTION_LIMITS.maxConnections),
      })
      .strict()
      .prefault({}),
    metrics: z.object({ listen: hostPort.optional() }).strict().prefault({}),
    health: z
      .object({ interval_seconds: z.number().min(1).max(60).default(15), max_age_seconds: z.number().min(1).max(60).default(60) })
      .strict()
      .prefault({}),
    audit: z
      .object({
        enabled: flag.default(true),
        durable: flag.default(true),
        node_id: printable(255).optional(),
        chain: z
          .string()
          .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a chain id is 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit')
          .optional(),
        checkpoint_interval_seconds: z.number().int().min(0).max(86_400).default(300),
        disk_min_free_mb: z.number().int().min(0).max(100_000_000).default(2048),
        disk_min_free_percent: z.number().min(0).max(90).default(10),
        retention_days: z.number().int().min(0).max(36_500).default(0),
        retention_max_records: z.number().int().min(0).max(1e12).default(0),
        archive_dir: z.string().min(1).default('audit-archive'),
        max_batch: z.number().int().min(1).max(10_000).default(1000),
        commit_delay_ms: z.number().min(0).max(100).default(0),
        syslog: z
          .object({
            transport: z.enum(['udp', 'tcp', 'tls']),
            host: z.string().min(1).max(255),
            port: z.number().int().min(1).max(65535).optional(),
            ca: z.string().min(1).optional(),
            app_name: printable(48).default('keyhold'),
            facility: z.number().int().min(0).max(23).default(13),
            queue_size: z.number().int().min(1).max(1_000_000).default(10_000),
          })
          .strict()
          .optional(),
      })
      .strict()
      .prefault({}),
    cluster: z
      .object({
        node_id: printable(128).optional(),
        advertise: z.string().min(1).max(255).optional(),
        heartbeat_ms: z.coerce.number().int().min(100).max(10_000).default(1000),
        lease_ms: z.coerce.number().int().min(500).max(60_000).default(5000),
        node_timeout_ms: z.coerce.number().int().min(300).max(60_000).default(3000),
        audit_deadline_ms: z.coerce.number().int().min(20).max(10_000).default(200),
      })
      .strict()
      .refine((c) => c.lease_ms >= 2 * c.heartbeat_ms, { message: 'lease_ms must be at least twice heartbeat_ms', path: ['lease_ms'] })
      .refine((c) => c.node_timeout_ms >= 2 * c.heartbeat_ms, { message: 'node_timeout_ms must be at least twice heartbeat_ms', path: ['node_timeout_ms'] })
      .prefault({}),
    admin: z
      .object({
        enabled: z.boolean().default(true),
        listen: hostPort.default({ host: '127.0.0.1', port: 8444 }),
        // Default: the XKS listener's certificate and key.
        tls_cert: z.string().min(1).optional(),
        tls_key: z.string().min(1).optional(),
        session_ttl_minutes: z.number().int().min(5).max(7 * 24 * 60).default(480),
        session_idle_minutes: z.number().int().min(1).max(24 * 60).default(30),
        lockout_threshold: z.number().int().min(1).max(100).default(5),
        lockout_base_seconds: z.number().int().min(1).max(3600).default(60),
        lockout_max_seconds: z.number().int().min(1).max(86400).default(900),
        password_hash_cost: z.number().int().min(14).max(20).default(17),
        login_queue_size: z.number().int().min(0).max(1000).default(16),
        login_checks_per_address: z.number().int().min(1).max(1000).default(4),
        approval_ttl_minutes: z.number().int().min(1).max(43200).default(1440),
        scheduler_interval_seconds: z.number().min(1).max(3600).default(60),
      })
      .strict()
      .prefault({}),
    log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).strict().prefault({}),
    hsm: hsmSection.optional(),
  })
  .strict();

export interface ConfigInputs {
  dataDir?: string | undefined;
  configFile?: string | undefined;
  env: NodeJS.ProcessEnv;
  /** Flags that override the file: dotted names as in the file, e.g. 'xks.listen'. */
  overrides?: Record<string, string | undefined>;
}

/** Environment variables that override file settings. */
const ENV_OVERRIDES: Record<string, string> = {
  KEYHOLD_XKS_LISTEN: 'xks.listen',
  KEYHOLD_WORKERS: 'xks.workers',
  KEYHOLD_METRICS_LISTEN: 'metrics.listen',
  KEYHOLD_ADMIN_LISTEN: 'admin.listen',
  KEYHOLD_LOG_LEVEL: 'log.level',
  KEYHOLD_STORAGE_PATH: 'storage.path',
  KEYHOLD_STORAGE_TYPE: 'storage.type',
  KEYHOLD_STORAGE_URL: 'storage.url',
  KEYHOLD_SEAL_TYPE: 'seal.type',
  KEYHOLD_SEAL_KEY_FILE: 'seal.key_file',
  KEYHOLD_AUDIT_ENABLED: 'audit.enabled',
  KEYHOLD_AUDIT_DURABLE: 'audit.durable',
  KEYHOLD_NODE_ID: 'cluster.node_id',
  KEYHOLD_CLUSTER_ADVERTISE: 'cluster.advertise',
  KEYHOLD_AUDIT_CHAIN: 'audit.chain',
  KEYHOLD_HSM_MODULE: 'hsm.module',
  KEYHOLD_HSM_TOKEN_LABEL: 'hsm.token_label',
};

function envOverridesComment(): string {
  const lines: string[] = [];
  let line = '# Environment overrides:';
  for (const name of Object.keys(ENV_OVERRIDES)) {
    if (line.length + name.length > 90) {
      lines.push(line + ',');
      line = '#';
    } else if (line !== '# Environment overrides:') line += ',';
    line += ` ${name}`;
  }
  return [...lines, line + '.'].join('\n');
}

/** The command-line flags that set a setting (`keyhold init` and `keyhold start`), for error messages. */
const FLAG_FOR: Record<string, string> = {
  'xks.listen': '--xks-listen',
  'xks.workers': '--workers',
  'admin.listen': '--admin-listen',
  'seal.type': '--seal',
  'seal.hsm_key_label': '--hsm-seal-key-label',
  'hsm.module': '--hsm-module',
  'hsm.token_label': '--hsm-token-label',
  'hsm.pin_env': '--hsm-pin-env',
  'hsm.pin_file': '--hsm-pin-file',
  'hsm.profile': '--hsm-profile',
};

function setDotted(obj: Record<string, unknown>, dotted: string, value: string): void {
  const [section, key] = dotted.split('.') as [string, string];
  const s = (obj[section] ??= {}) as Record<string, unknown>;
  s[key] = value;
}

export function loadConfig(inputs: ConfigInputs): Readonly<Config> {
  const env = inputs.env;
  const dataDir = resolve(inputs.dataDir ?? env.KEYHOLD_DATA_DIR ?? 'keyhold-data');
  const explicit = inputs.configFile ?? env.KEYHOLD_CONFIG;
  const configFile = explicit ? resolve(explicit) : existsSync(resolve(dataDir, CONFIG_FILE_NAME)) ? resolve(dataDir, CONFIG_FILE_NAME) : undefined;

  let raw: Record<string, unknown> = {};
  if (configFile) {
    try {
      raw = parseToml(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new KeyholdError('ConfigInvalid', `cannot read ${configFile}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  // Where each setting came from, so a problem names the flag or variable, not the file.
  const source = new Map<string, string>();
  for (const [name, dotted] of Object.entries(ENV_OVERRIDES)) {
    if (env[name] === undefined || env[name] === '') continue;
    setDotted(raw, dotted, env[name]!);
    source.set(dotted, `from the environment variable ${name}`);
  }
  for (const [dotted, value] of Object.entries(inputs.overrides ?? {})) {
    if (value === undefined) continue;
    setDotted(raw, dotted, value);
    source.set(dotted, `from ${FLAG_FOR[dotted] ?? 'a command-line flag'}`);
  }

  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    // A flag or variable is named on its line; the file, when any problem is in it, in the heading.
    const from = (path: PropertyKey[]) => source.get(path.slice(0, 2).join('.'));
    const inFile = configFile !== undefined && parsed.error.issues.some((i) => from(i.path) === undefined);
    const problems = parsed.error.issues.map((i) => `  - ${i.path.join('.') || '(file)'}: ${i.message}${from(i.path) ? ` (${from(i.path)})` : ''}`).join('\n');
    throw new KeyholdError('ConfigInvalid', `invalid configuration${inFile ? ' in ' + configFile : ''}:\n${problems}`);
  }
  const f = parsed.data;
  const base = configFile ? dirname(configFile) : dataDir;
  const path = (p: string) => (isAbsolute(p) ? p : resolve(base, p));

  let seal: SealConfig;
  if (f.seal.type === 'passphrase') {
    seal = { type: 'passphrase', passphrase: readPassphrase(env) };
  } else if (f.seal.type === 'hsm') {
    seal = { type: 'hsm', keyLabel: f.seal.hsm_key_label };
  } else {
    seal = { type: 'keyfile', keyFile: path(f.seal.key_file) };
  }
  let hsm: HsmConfig | undefined;
  if (f.hsm) {
    const r = resolveHsmConfig(f.hsm, { env, path, sealType: f.seal.type });
    if (r.problems.length) throw new KeyholdError('ConfigInvalid', `invalid configuration${configFile ? ' in ' + configFile : ''}:\n${r.problems.map((p) => `  - ${p}`).join('\n')}`);
    hsm = r.config;
  } else if (f.seal.type === 'hsm') {
    throw new KeyholdError('ConfigInvalid', 'invalid configuration:\n  - seal.type: "hsm" needs an [hsm] section (module, token_label, PIN source)');
  }

  const config: Config = {
    dataDir,
    configFile,
    storage: f.storage.type === 'postgres' ? { type: 'postgres', url: f.storage.url!, poolSize: f.storage.pool_size } : { type: 'sqlite', path: path(f.storage.path) },
    seal,
    hsm,
    xks: {
      listen: f.xks.listen,
      tls: {
        certFile: path(f.xks.tls_cert),
        keyFile: path(f.xks.tls_key),
        clientCaFile: f.xks.mtls_client_ca ? path(f.xks.mtls_client_ca) : undefined,
        clientSubjects: f.xks.mtls_client_subjects,
      },
      limits: { maxPlaintextBytes: f.xks.max_plaintext_bytes, maxAadBytes: f.xks.max_aad_bytes },
      maxClockSkewMs: f.xks.max_clock_skew_seconds * 1000,
      maxBodyBytes: f.xks.max_body_bytes,
      workers: f.xks.workers === 'auto' ? availableParallelism() : f.xks.workers,
      overload: f.xks.load_shedding ? { maxInFlight: f.xks.max_in_flight, maxEventLoopDelayMs: f.xks.shed_event_loop_delay_ms, maxQueueMs: f.xks.shed_queue_ms } : undefined,
      connections: { handshakeTimeoutMs: f.xks.handshake_timeout_seconds * 1000, maxConnections: f.xks.max_connections },
    },
    metrics: { listen: f.metrics.listen },
    health: { intervalMs: f.health.interval_seconds * 1000, maxAgeMs: f.health.max_age_seconds * 1000 },
    audit: {
      enabled: f.audit.enabled,
      durable: f.audit.durable,
      nodeId: f.audit.node_id,
      chain: f.audit.chain ?? 'main',
      // On PostgreSQL (a cluster, or one that may grow into one) each server node appends to
      // a chain of its own, named after the node, so nodes never wait on one another's chain
      // lock; init and the CLI write the root chain. An explicit [audit] chain wins.
      serverChain: f.audit.chain ?? (f.storage.type === 'postgres' ? chainIdOf(f.cluster.node_id ?? f.audit.node_id ?? hostname()) : 'main'),
      checkpointIntervalMs: f.audit.checkpoint_interval_seconds * 1000,
      diskMinFreeBytes: f.audit.disk_min_free_mb * 1024 * 1024,
      diskMinFreeRatio: f.audit.disk_min_free_percent / 100,
      retentionMs: f.audit.retention_days * 86_400_000,
      retentionMaxRecords: f.audit.retention_max_records,
      archiveDir: path(f.audit.archive_dir),
      maxBatch: f.audit.max_batch,
      commitDelayMs: f.audit.commit_delay_ms,
      syslog: f.audit.syslog && {
        transport: f.audit.syslog.transport,
        host: f.audit.syslog.host,
        port: f.audit.syslog.port ?? (f.audit.syslog.transport === 'tls' ? 6514 : 514),
        caFile: f.audit.syslog.ca ? path(f.audit.syslog.ca) : undefined,
        appName: f.audit.syslog.app_name,
        facility: f.audit.syslog.facility,
        queueSize: f.audit.syslog.queue_size,
      },
    },
    cluster: {
      nodeId: f.cluster.node_id ?? f.audit.node_id ?? hostname(),
      advertise: f.cluster.advertise,
      heartbeatMs: f.cluster.heartbeat_ms,
      leaseMs: f.cluster.lease_ms,
      nodeTimeoutMs: f.cluster.node_timeout_ms,
      auditDeadlineMs: f.cluster.audit_deadline_ms,
    },
    admin: {
      enabled: f.admin.enabled,
      listen: f.admin.listen,
      tls: { certFile: path(f.admin.tls_cert ?? f.xks.tls_cert), keyFile: path(f.admin.tls_key ?? f.xks.tls_key) },
      sessionTtlMs: f.admin.session_ttl_minutes * 60_000,
      sessionIdleMs: f.admin.session_idle_minutes * 60_000,
      lockoutThreshold: f.admin.lockout_threshold,
      lockoutBaseMs: f.admin.lockout_base_seconds * 1000,
      lockoutMaxMs: f.admin.lockout_max_seconds * 1000,
      passwordHashCost: f.admin.password_hash_cost,
      loginQueueSize: f.admin.login_queue_size,
      loginChecksPerAddress: f.admin.login_checks_per_address,
      approvalTtlMs: f.admin.approval_ttl_minutes * 60_000,
      schedulerIntervalMs: f.admin.scheduler_interval_seconds * 1000,
    },
    log: { level: f.log.level },
  };
  if (config.audit.syslog?.caFile && config.audit.syslog.transport !== 'tls') {
    throw new KeyholdError('ConfigInvalid', 'invalid configuration:\n  - audit.syslog.ca: only applies to transport = "tls"');
  }
  // The largest legal request must fit in the body cap: Base64 of both limits plus ARNs.
  const needed = Math.ceil((config.xks.limits.maxPlaintextBytes * 4) / 3) + Math.ceil((config.xks.limits.maxAadBytes * 4) / 3) + 5 * 2048 + 1024;
  if (config.xks.maxBodyBytes < needed) {
    throw new KeyholdError('ConfigInvalid', `invalid configuration:\n  - xks.max_body_bytes: ${config.xks.maxBodyBytes} is too small for max_plaintext_bytes and max_aad_bytes; use at least ${needed}`);
  }
  if (config.xks.tls.clientSubjects?.length && !config.xks.tls.clientCaFile) {
    throw new KeyholdError('ConfigInvalid', 'invalid configuration:\n  - xks.mtls_client_subjects: needs xks.mtls_client_ca');
  }
  return deepFreeze(config);
}

function readPassphrase(env: NodeJS.ProcessEnv): string | undefined {
  if (env.KEYHOLD_SEAL_PASSPHRASE) return env.KEYHOLD_SEAL_PASSPHRASE;
  if (env.KEYHOLD_SEAL_PASSPHRASE_FILE) {
    try {
      return readFileSync(env.KEYHOLD_SEAL_PASSPHRASE_FILE, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new KeyholdError('ConfigInvalid', `cannot read KEYHOLD_SEAL_PASSPHRASE_FILE: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return undefined;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** The file `keyhold init` writes: every setting with its default, commented. */
export function defaultConfigToml(current?: Pick<Config, 'seal' | 'hsm'>): string {
  const seal = current?.seal;
  const sealToml =
    seal?.type === 'hsm'
      ? `[seal]
# hsm: the root wrapping key is a non-extractable AES-256 key in the [hsm] token, with this label.
type = "hsm"
hsm_key_label = "${seal.keyLabel}"
# key_file = "seal.key"   # keyfile seals only`
      : `[seal]
# keyfile: a 256-bit root key in key_file (mode 0600; keep a copy offline, away from backups of the database).
# passphrase: root key derived with scrypt from KEYHOLD_SEAL_PASSPHRASE or KEYHOLD_SEAL_PASSPHRASE_FILE.
# hsm: the root wrapping key lives in the [hsm] token (docs/hsm.md).
type = "${seal?.type ?? 'keyfile'}"
key_file = "seal.key"
# hsm_key_label = "keyhold-seal"   # hsm seals only`;
  return `# Keyhold configuration. Relative paths are relative to this file's directory.
${envOverridesComment()}
# Full reference: docs/configuration.md.

[storage]
# sqlite: embedded, one node. postgres: shared by a cluster of nodes; set url (no password
# in it: use PGPASSWORD, PGPASSFILE or ~/.pgpass) and optionally pool_size.
type = "sqlite"
path = "keyhold.db"
# url = "postgres://keyhold@db.example.com:5432/keyhold"
pool_size = 10

${sealToml}

[xks]
listen = "127.0.0.1:8443"
tls_cert = "tls/server.crt"
tls_key = "tls/server.key"
# mTLS: trust this CA for client certificates and require one of these subject names.
# mtls_client_ca = "tls/kms-client-ca.pem"
# mtls_client_subjects = ["cks.kms.eu-west-1.amazonaws.com"]
max_plaintext_bytes = ${DEFAULT_LIMITS.maxPlaintextBytes}
max_aad_bytes = ${DEFAULT_LIMITS.maxAadBytes}
max_clock_skew_seconds = 300
max_body_bytes = 65536
# Processes that serve XKS on the one listener (node:cluster): "auto" = one per core, 1 = no cluster.
# Also --workers N and KEYHOLD_WORKERS.
workers = "auto"
# Load shedding: answer at once (429 ThrottlingException / 503 DependencyTimeoutException)
# instead of late, when the event loop runs late, calls would queue past the deadline, or
# too many calls wait on the key backend. Health checks are never shed.
load_shedding = true
max_in_flight = ${DEFAULT_OVERLOAD_LIMITS.maxInFlight}
shed_event_loop_delay_ms = ${DEFAULT_OVERLOAD_LIMITS.maxEventLoopDelayMs}
shed_queue_ms = ${DEFAULT_OVERLOAD_LIMITS.maxQueueMs}
# Connections that have not finished TLS after this long are closed; at most max_connections
# per process (at the cap, the oldest connection still in its handshake makes room).
handshake_timeout_seconds = ${DEFAULT_CONNECTION_LIMITS.handshakeTimeoutMs / 1000}
max_connections = ${DEFAULT_CONNECTION_LIMITS.maxConnections}

[metrics]
# Prometheus text on plain HTTP (GET /metrics), for scrapers without an admin API token;
# the admin API serves the same at /metrics. Off unless set; keep it on loopback.
# listen = "127.0.0.1:9464"

[health]
interval_seconds = 15
max_age_seconds = 60

[cluster]
# Used with storage.type = "postgres": every node registers and heartbeats, health reports the
# live fleet, one node at a time runs scheduled work. Give every node its own node_id.
# node_id = "keyhold-a"         # default: audit.node_id, then the host name (also KEYHOLD_NODE_ID)
# advertise = "10.0.1.10:443"   # default: the XKS listen address
heartbeat_ms = 1000
# Custody lease: a node that has not reached PostgreSQL (and its change feed) for this long
# refuses key operations and reports UNAVAILABLE, so it cannot use a key disabled elsewhere.
lease_ms = 5000
node_timeout_ms = 3000
# An XKS answer that waits longer than this for its audit commit is refused (InternalException).
audit_deadline_ms = 200

[admin]
# The admin REST API (/api/v1, OpenAPI at /api/v1/openapi.json). Keep it on loopback or a
# management network; it uses the XKS certificate unless tls_cert/tls_key are set.
enabled = true
listen = "127.0.0.1:8444"
# tls_cert = "tls/admin.crt"
# tls_key = "tls/admin.key"
session_ttl_minutes = 480
session_idle_minutes = 30
# Failed logins before a username is locked; each further failure doubles the lock, up to the max.
lockout_threshold = 5
lockout_base_seconds = 60
lockout_max_seconds = 900
# scrypt cost for admin passwords: N = 2^password_hash_cost, r = 8, p = 1 (17 = 128 MiB per check).
password_hash_cost = 17
# Password checks waiting for one of the two hashing slots, and the share one client address
# may hold; beyond them a login is answered 429 at once (behind a proxy, all share one address).
login_queue_size = 16
login_checks_per_address = 4
# How long an approval request waits for its quorum (a rule may set its own).
approval_ttl_minutes = 1440
# How often the server rotates due keys, destroys keys past their deletion date and expires requests.
scheduler_interval_seconds = 60

[audit]
# Every XKS call and admin action is recorded in a hash-chained log (keyhold audit verify).
# enabled = false stops recording XKS calls: for benchmarks only (a warning is logged at start).
enabled = true
# durable = true answers an XKS call only once its record is committed.
durable = true
# node_id = "keyhold-1"   # default: the host name
# chain = "main"          # default "main"; on PostgreSQL a server appends to a chain named after its node id; see docs/architecture.md
# With [audit.syslog]: a signed head checkpoint is sent this often (0 = never).
checkpoint_interval_seconds = 300
# Health turns DEGRADED and keyhold_audit_disk_low is 1 when the disk holding the database
# has less free space than either of these (SQLite; see docs/operations.md for sizing).
disk_min_free_mb = 2048
disk_min_free_percent = 10
# Archive records older than this many days into archive_dir, by the scheduler (0 = off).
retention_days = 0
# Also archive the oldest records when more than this many are in the log, down to 90 % of
# it (0 = off; a record is about 850 bytes on SQLite, so 10000000 is about 8.5 GB).
retention_max_records = 0
archive_dir = "audit-archive"
# Group commit: at most max_batch records per commit; commit_delay_ms > 0 waits that long
# to gather more (more throughput, more latency). 0 commits as soon as the writer is free.
max_batch = 1000
commit_delay_ms = 0
#
# Forward every record to syslog (RFC 5424), best effort (a bounded queue; drops are counted).
# [audit.syslog]
# transport = "tls"       # udp | tcp | tls (tcp and tls use octet-counting framing)
# host = "siem.example.com"
# port = 6514             # default 514 (udp, tcp) or 6514 (tls)
# ca = "tls/siem-ca.pem"  # tls: CA of the receiver's certificate (default: the system store)
# app_name = "keyhold"
# facility = 13           # log audit
# queue_size = 10000      # records waiting to be sent; beyond it new ones are dropped (and counted)

[log]
level = "info"
${current?.hsm ? hsmConfigToml(current.hsm) : ''}`;
}

/** An audit chain id made from a node id: letters, digits, ".", "_", "-"; at most 63 characters. */
function chainIdOf(nodeId: string): string {
  const id = nodeId.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 63);
  return id || 'main';
}

/**
 * Every setting keyhold.toml accepts, as dotted names ('xks.listen', 'audit.syslog.host'),
 * read from the schema itself: `keyhold init` must write (or show commented out) each one.
 */
export function settingNames(): string[] {
  const names: string[] = [];
  const objectOf = (t: unknown): { shape: Record<string, unknown> } | undefined => {
    for (let i = 0; i < 6 && t; i++) {
      if (t instanceof z.ZodObject) return t as unknown as { shape: Record<string, unknown> };
      const def = (t as { _zod?: { def?: { innerType?: unknown; in?: unknown } } })._zod?.def;
      t = def?.innerType ?? def?.in;
    }
    return undefined;
  };
  const walk = (prefix: string, t: unknown) => {
    const o = objectOf(t);
    if (!o) return void names.push(prefix);
    for (const [k, v] of Object.entries(o.shape)) walk(prefix ? `${prefix}.${k}` : k, v);
  };
  walk('', fileSchema);
  return names;
}
