/**
 * The KMS simulator: an HTTP endpoint speaking AWS JSON 1.1 (`X-Amz-Target:
 * TrentService.<Op>`, SigV4 service `kms`), the in-memory state per account and Region,
 * the XKS proxy client, and the background work (asynchronous connects, periodic health).
 * State lives in memory only: the simulator never writes key material anywhere.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { gcmDecrypt, gcmEncrypt } from '../crypto/index.js';
import { systemClock, type Clock } from '../base/index.js';
import { aliasOperations } from './aliases.js';
import { asymmetricOperations } from './asymmetric-operations.js';
import { seedAwsManagedAliases } from './aws-managed.js';
import { grantOperations } from './grants.js';
import { replicationOperations } from './replication.js';
import { createCallerAuth, type SimCredential } from './caller-auth.js';
import { cryptoOperations } from './crypto-operations.js';
import { customKeyStoreOperations, runHealthChecks } from './custom-key-stores.js';
import { importOperations } from './import-material.js';
import { keyOperations } from './keys.js';
import { keyPolicyOperations } from './key-policy.js';
import { applyTimeEffects } from './key-state.js';
import { rotationOperations } from './rotation.js';
import { tagOperations } from './tags.js';
import { isKmsError, kmsError, type KmsError } from './errors.js';
import { parseInput } from './schemas.js';
import { createRequestQuotas } from './quotas.js';
import { createRequestLog, type RequestLog, type RequestLogEntry } from './request-log.js';
import { createXksProxyClient } from './xks-proxy.js';
import { createXksTransport } from './xks-transport.js';
import type { Call, Operation, SecretBox, SimServices } from './context.js';
import type { RegionState } from './model.js';

export interface KmsSimulatorOptions {
  /** Who may call, and as which account. At least one. */
  credentials: SimCredential[];
  /** PEM of the CA that signs the XKS proxy's certificate (a self-signed proxy). */
  proxyCa?: string | Buffer;
  /** Per-attempt timeout of proxy calls; KMS uses 250 ms. */
  proxyTimeoutMs?: number;
  /** Time from ConnectCustomKeyStore to the health probe; KMS takes ~5 minutes. Default 0. */
  connectDelayMs?: number;
  /** Interval of the periodic KmsHealthCheck; 0 disables it. Default 60 s. */
  healthCheckIntervalMs?: number;
  /** Minimum time between GetParametersForImport calls per account and Region (KMS: 4000). Default 0. */
  importParametersIntervalMs?: number;
  /** Request quotas in requests per second per account and Region, by operation (e.g. `{ DescribeKey: 5 }`); none by default. */
  requestQuotas?: Record<string, number>;
  /** Clock for KMS semantics (deletion windows, expiry, rotation). SigV4 always uses real time. */
  clock?: Clock;
  /** Most request log entries kept. */
  requestLogCapacity?: number;
}

export interface KmsSimulator {
  listen(host: string, port: number): Promise<{ url: string; port: number }>;
  close(): Promise<void>;
  readonly requestLog: RequestLog;
  /** Runs one round of the periodic health check now (for tests and demos). */
  runHealthChecks(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;
const TARGET_PREFIX = 'TrentService.';

const OPERATIONS: Record<string, Operation> = {
  ...customKeyStoreOperations,
  ...keyOperations,
  ...keyPolicyOperations,
  ...tagOperations,
  ...aliasOperations,
  ...importOperations,
  ...cryptoOperations,
  ...rotationOperations,
  ...asymmetricOperations,
  ...grantOperations,
  ...replicationOperations,
};

export const SUPPORTED_OPERATIONS: readonly string[] = Object.keys(OPERATIONS).sort();

/** Proxy secrets are kept sealed under a key that exists only in this process. */
function createSecretBox(): SecretBox {
  const key = randomBytes(32);
  const aad = Buffer.from('kms-sim proxy credential');
  return {
    seal(secret) {
      const out = gcmEncrypt(key, Buffer.from(secret, 'utf8'), aad);
      return Buffer.concat([out.iv, out.tag, out.ciphertext]);
    },
    unseal(sealed) {
      const pt = gcmDecrypt(key, sealed.subarray(0, 12), sealed.subarray(28), sealed.subarray(12, 28), aad);
      if (!pt) throw new Error('sealed proxy credential does not open');
      return pt.toString('utf8');
    },
  };
}

export function createKmsSimulator(opts: KmsSimulatorOptions): KmsSimulator {
  if (opts.credentials.length === 0) throw new Error('the KMS simulator needs at least one credential');
  const auth = createCallerAuth(opts.credentials);
  const clock = opts.clock ?? systemClock;
  const transport = createXksTransport({ ca: opts.proxyCa, timeoutMs: opts.proxyTimeoutMs ?? 250 });
  const log = createRequestLog(opts.requestLogCapacity);
  const quotas = createRequestQuotas(opts.requestQuotas ?? {});
  const regions = new Map<string, RegionState>();
  const timers = new Set<NodeJS.Timeout>();
  const running = new Set<Promise<void>>();
  let closed = false;

  function track(p: Promise<void>): void {
    running.add(p);
    void p.finally(() => running.delete(p));
  }

  const sim: SimServices = {
    clock,
    proxy: createXksProxyClient(transport),
    secrets: createSecretBox(),
    settings: {
      connectDelayMs: opts.connectDelayMs ?? 0,
      healthCheckIntervalMs: opts.healthCheckIntervalMs ?? 60_000,
      importParametersIntervalMs: opts.importParametersIntervalMs ?? 0,
    },
    log,
    region(accountId, region) {
      const id = `${accountId}/${region}`;
      let rs = regions.get(id);
      if (!rs) {
        rs = { accountId, region, stores: new Map(), keys: new Map(), aliases: new Map(), importTokens: new Map(), lastImportParametersAt: undefined, grants: new Map() };
        seedAwsManagedAliases(rs, clock.now());
        regions.set(id, rs);
      }
      return rs;
    },
    allRegions: () => regions.values(),
    background(task, delayMs) {
      if (closed) return;
      const t = setTimeout(() => {
        timers.delete(t);
        if (!closed) track(task().catch(() => undefined));
      }, delayMs);
      timers.add(t);
    },
    newRequestId: () => randomUUID(),
  };

  let healthTimer: NodeJS.Timeout | undefined;
  let healthRound: Promise<void> | undefined;
  function healthTick(): void {
    if (closed || healthRound) return;
    healthRound = runHealthChecks(sim).finally(() => (healthRound = undefined));
    track(healthRound);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const send = (status: number, body: unknown, errorType?: string) => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/x-amz-json-1.1',
        'content-length': Buffer.byteLength(text),
        'x-amzn-requestid': requestId,
        ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
      });
      res.end(text);
    };
    const sendError = (e: KmsError) => send(e.status, { __type: e.type, message: e.message }, e.type);

    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    }
    if (tooLarge) return sendError(kmsError('SerializationException', `The request body is larger than ${MAX_BODY_BYTES} bytes.`));
    const body = Buffer.concat(chunks);

    const target = req.headers['x-amz-target'];
    const opName = typeof target === 'string' && target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : undefined;
    const operation = opName !== undefined && Object.hasOwn(OPERATIONS, opName) ? OPERATIONS[opName] : undefined;
    if (req.method !== 'POST' || !operation || opName === undefined) {
      return sendError(kmsError('UnknownOperationException', opName ? `Operation ${opName} is not supported by this KMS simulator.` : 'Missing or unknown X-Amz-Target.'));
    }

    let authenticated;
    try {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      authenticated = auth.authenticate(
        { method: 'POST', path: q < 0 ? url : url.slice(0, q), query: q < 0 ? '' : url.slice(q + 1), rawHeaders: req.rawHeaders, body },
        typeof req.headers.authorization === 'string' ? req.headers.authorization : undefined,
        typeof req.headers['x-amz-date'] === 'string' ? req.headers['x-amz-date'] : undefined,
      );
    } catch (e) {
      return sendError(isKmsError(e) ? e : kmsError('InvalidSignatureException', 'The request signature could not be verified.'));
    }
    const { caller, region } = authenticated;
    const rs = sim.region(caller.accountId, region);
    const entry: RequestLogEntry = {
      requestId,
      eventTime: new Date(clock.now()).toISOString(),
      eventName: opName,
      accountId: caller.accountId,
      region,
      principalArn: caller.principalArn,
      accessKeyId: caller.accessKeyId,
      ...(caller.viaService !== undefined ? { viaService: caller.viaService } : {}),
      proxyCalls: [],
    };
    const call: Call = { sim, caller, region, rs, requestId, operation: opName, entry };
    try {
      let json: unknown = {};
      if (body.length > 0) {
        try {
          json = JSON.parse(body.toString('utf8'));
        } catch {
          throw kmsError('SerializationException', 'The request body is not valid JSON.');
        }
      }
      if (json === null || typeof json !== 'object' || Array.isArray(json)) throw kmsError('SerializationException', 'The request body must be a JSON object.');
      quotas.take(caller.accountId, region, opName, clock.now());
      applyTimeEffects(rs, clock.now());
      const input = parseInput(operation.input, json);
      const out = await operation.run(call, input);
      send(200, out);
    } catch (e) {
      const err = isKmsError(e) ? e : kmsError('KMSInternalException', 'The request was rejected because an internal exception occurred. Retry the request.');
      entry.errorCode = err.type;
      entry.errorMessage = err.message;
      sendError(err);
    } finally {
      log.append(entry);
    }
  }

  let server: Server | undefined;

  return {
    requestLog: log,
    runHealthChecks: () => runHealthChecks(sim),
    async listen(host, port) {
      if (server) throw new Error('the KMS simulator is already listening');
      const s = createServer((req, res) => {
        handle(req, res).catch(() => {
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/x-amz-json-1.1' });
          res.end(JSON.stringify({ __type: 'KMSInternalException', message: 'internal error' }));
        });
      });
      server = s;
      s.keepAliveTimeout = 5_000;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, host, () => {
          s.off('error', reject);
          resolve();
        });
      });
      if (sim.settings.healthCheckIntervalMs > 0) {
        healthTimer = setInterval(healthTick, sim.settings.healthCheckIntervalMs);
        healthTimer.unref();
      }
      const addr = s.address() as AddressInfo;
      const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      return { url: `http://${h}:${addr.port}`, port: addr.port };
    },
    async close() {
      closed = true;
      if (healthTimer) clearInterval(healthTimer);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      if (server) {
        const s = server;
        await new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        });
      }
      await Promise.allSettled([...running]);
      transport.close();
      for (const rs of regions.values()) for (const k of rs.keys.values()) for (const m of k.materials) m.bytes?.fill(0);
    },
  };
}
