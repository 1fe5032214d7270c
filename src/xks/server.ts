import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { encodeBase64, fail, KeyholdError, perTurnQueue, type Clock, type Logger, type PerTurnQueue } from '../base/index.js';
import type { SigV4Verifier } from '../crypto/index.js';
import type { Directory } from '../domain/directory.js';
import type { KeyStore, RequestContext } from '../domain/model.js';
import type { CallFacts, XksService } from '../domain/xks-service.js';
import { safeErrorMessage, toXksError, type XksErrorName } from './errors.js';
import { routeXks, type XksOperation, type XksRoute } from './router.js';
import { loadSecureContextOptions, mtlsServerOptions, enforceClientSubjects, watchCertificates, type TlsFiles } from './tls.js';
import { parseDecrypt, parseEncrypt, parseHealth, parseMetadata, type XksLimits } from './wire.js';
import { createOverloadGuard, type OverloadLimits, type OverloadStats, type ShedReason } from './overload.js';
import { connectionServerOptions, DEFAULT_CONNECTION_LIMITS, guardConnections, type ConnectionLimits, type ConnectionStats } from './connections.js';

/** What one answered XKS call looked like: for the request log, audit and metrics. */
export interface XksCallRecord {
  at: number;
  operation: XksOperation | 'unrouted';
  status: number;
  errorName?: XksErrorName | undefined;
  errorMessage?: string | undefined;
  latencyMs: number;
  keyStoreId?: string | undefined;
  keyStoreName?: string | undefined;
  externalKeyId?: string | undefined;
  keyVersion?: number | undefined;
  accessKeyId?: string | undefined;
  /** kmsRequestId as the body carried it, also when the rest of the input was refused (for correlation). */
  kmsRequestId?: string | undefined;
  ctx?: RequestContext | undefined;
  policyDecidedBy?: string | undefined;
  remoteAddress?: string | undefined;
}

export interface XksServerOptions {
  tls: TlsFiles;
  service: XksService;
  directory: Directory;
  verifier: SigV4Verifier;
  limits: XksLimits;
  clock: Clock;
  log: Logger;
  /**
   * Where the one-line-per-call record goes (default: log). Its fields are a fixed list that
   * never holds a secret, so the app hands in a logger without redaction here: pino's
   * redaction clones and walks every logged object, which cost more than SigV4 per call.
   */
  requestLog?: Logger;
  /** Largest request body read, in bytes. */
  maxBodyBytes?: number;
  /**
   * Runs after the outcome is known and before the response is written; the response waits
   * for it (so an audit sink can make the record durable first). A rejection turns the
   * response into InternalException.
   */
  beforeRespond?: (record: XksCallRecord) => void | Promise<void>;
  /** Admission control after authentication (key store quotas). Throw a KeyholdError('Throttled') to refuse. */
  admit?: (keyStore: KeyStore, route: XksRoute) => void;
  /**
   * Load shedding: requests the server cannot answer in time are refused when they arrive,
   * before their body is read (see overload.ts). Health checks are never shed.
   */
  overload?: OverloadLimits | undefined;
  /** Handshake deadline and connection cap (see connections.ts); default DEFAULT_CONNECTION_LIMITS. */
  connections?: ConnectionLimits | undefined;
}

export interface XksServer {
  server: Server;
  /** The overload guard's view (undefined without one): in flight, event-loop delay, refusals. */
  overloadStats(): OverloadStats | undefined;
  /** Connections open, in handshake, and closed by the connection guard. */
  connectionStats(): ConnectionStats;
  listen(host: string, port: number): Promise<AddressInfo>;
  close(): Promise<void>;
}

interface Admission {
  /** The overload guard counts this request in flight until it is released. */
  admitted: boolean;
}

/**
 * Requests that Node's HTTP parser refuses (a malformed request line, a non-ASCII path,
 * headers over the size limit) never reach the handler. Node would answer them with a bare
 * "400 Bad Request" and destroy the socket, often before that answer is flushed; answer with
 * a spec-shaped ValidationException instead and close the connection gracefully.
 */
function answerUnparsable(err: NodeJS.ErrnoException, socket: Duplex, log: Logger): void {
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (err.code === 'ECONNRESET' || err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  log.warn({ event: 'xks_unparsable_request', code: err.code }, 'HTTP request refused by the parser');
  const what = err.code === 'HPE_HEADER_OVERFLOW' ? 'the request headers are too large' : `the HTTP request could not be parsed (${err.code ?? 'unknown'})`;
  const text = JSON.stringify({ errorName: 'ValidationException', errorMessage: safeErrorMessage(what) });
  socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
}

/**
 * The Content-Length a request declares (0 when absent), read from rawHeaders: req.headers
 * builds an object of every header on first use. Node's parser refuses a request with two
 * different Content-Length values.
 */
function declaredLength(raw: readonly string[]): number {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 14 && name.toLowerCase() === 'content-length') return Number(raw[i + 1]);
  }
  return 0;
}

/** The kmsRequestId a body claims, read before validation so a refused call can still be correlated. */
function claimedRequestId(json: object): string | undefined {
  const m = (json as { requestMetadata?: unknown }).requestMetadata;
  const id = typeof m === 'object' && m !== null ? (m as { kmsRequestId?: unknown }).kmsRequestId : undefined;
  return typeof id === 'string' && id.length > 0 && id.length <= 2048 ? id : undefined;
}

/**
 * Answers written together once per event-loop turn. Every answer written to a socket whose
 * reader sleeps costs a wake-up of that reader; on a virtual machine that cross-core wake-up
 * cost as much as a third of a call's CPU when answers went out one by one between the
 * reads of the next requests. Queued answers are written in the turn's check phase, after
 * every request that arrived in that turn has been processed, so a burst of writes shares
 * its wake-ups. The delay is one loop phase: nothing waits on a timer. Answers released by
 * an audit group commit bypass the queue (send(..., now)): the commit already releases them
 * as one burst, and holding them behind the turn's new requests measured 15 % slower.
 */
function createAnswerBatch(): PerTurnQueue<{ res: ServerResponse; text: string }> {
  return perTurnQueue((answers) => {
    for (const a of answers) a.res.end(a.text);
  });
}

export function createXksServer(opts: XksServerOptions): XksServer {
  const maxBody = opts.maxBodyBytes ?? 64 * 1024;
  const { log, clock } = opts;
  const requestLog = opts.requestLog ?? log;
  const guard = opts.overload ? createOverloadGuard(opts.overload) : undefined;
  const answers = createAnswerBatch();

  const connectionLimits = opts.connections ?? DEFAULT_CONNECTION_LIMITS;
  const server = createServer({ ...loadSecureContextOptions(opts.tls), ...mtlsServerOptions(opts.tls), ...connectionServerOptions(connectionLimits) }, (req, res) => {
    const admission: Admission = { admitted: false };
    handle(req, res, admission).then(
      () => release(admission),
      (e) => {
        release(admission);
        log.error({ event: 'xks_unhandled', err: e instanceof Error ? e.message : String(e) }, 'unhandled error in XKS handler');
        if (!res.headersSent) send(res, 500, { errorName: 'InternalException', errorMessage: 'internal error' });
        else res.destroy();
      },
    );
  });

  /** Every request the guard admitted is released exactly once, however it ended. */
  function release(a: Admission): void {
    if (a.admitted) {
      a.admitted = false;
      guard!.done();
    }
  }
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  const connections = guardConnections(server, connectionLimits, log);
  enforceClientSubjects(server, opts.tls.clientSubjects ?? [], log);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerUnparsable(err, socket, log));
  const stopWatching = watchCertificates(server, opts.tls, log);

  /** `now`: write at once (the answer is already part of a group released together). */
  function send(res: ServerResponse, status: number, body: object, extra?: Record<string, string>, now = false): void {
    const text = JSON.stringify(body);
    const headers = ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(text))];
    if (extra) for (const [k, v] of Object.entries(extra)) headers.push(k, v);
    res.writeHead(status, headers);
    if (now) res.end(text);
    else answers.push({ res, text });
  }

  /**
   * Reads the body with plain 'data'/'end' listeners (an async iterator per request costs
   * more than the rest of the read). A body over the limit stops the read and answers
   * UnsupportedOperationException; the connection is then closed.
   */
  function readBody(req: IncomingMessage): Promise<Buffer> {
    const declared = declaredLength(req.rawHeaders);
    if (declared > maxBody) return Promise.reject(new KeyholdError('TooLarge', `request body is larger than ${maxBody} bytes`));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBody) {
          req.off('data', onData);
          req.off('end', onEnd);
          req.pause();
          reject(new KeyholdError('TooLarge', `request body is larger than ${maxBody} bytes`));
          return;
        }
        chunks.push(chunk);
      };
      const onEnd = () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
      req.on('data', onData);
      req.once('end', onEnd);
      req.once('error', reject);
      req.once('close', () => {
        if (!req.complete) reject(new KeyholdError('ValidationFailed', 'the request body ended early'));
      });
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, admission: Admission): Promise<void> {
    const started = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);

    if (path === '/ping' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('pong');
      return;
    }

    const record: XksCallRecord = { at: clock.now(), operation: 'unrouted', status: 200, latencyMs: 0, remoteAddress: req.socket.remoteAddress };
    let status = 200;
    let body: object;
    let closeAfter = false;
    try {
      const route = routeXks(path) ?? fail('UnknownPath', `no XKS API at ${path.slice(0, 200)}`);
      // The prefix is checked before the credential (spec §14.2).
      const ks = opts.directory.keyStoreByPrefix(route.prefix) ?? fail('UnknownPath', `no key store serves ${route.prefix || '/'}`);
      record.operation = route.operation;
      record.keyStoreId = ks.id;
      record.keyStoreName = ks.name;
      record.externalKeyId = route.externalKeyId;
      if (req.method !== 'POST') {
        req.resume();
        // The spec defines no errorName for 405; the message says what to do.
        send(res, 405, { errorMessage: `${req.method ?? 'this method'} is not allowed on an XKS API; use POST` }, { allow: 'POST' }, true);
        return;
      }
      if (guard && route.operation !== 'health') {
        const reason = guard.arrive();
        if (reason) {
          req.resume(); // discard the body; the connection stays usable
          shedError(reason);
        }
        admission.admitted = true;
      }
      let raw: Buffer;
      try {
        raw = await readBody(req);
      } catch (e) {
        closeAfter = true;
        throw e;
      }
      const auth = opts.verifier.verify({ method: 'POST', path, query: q < 0 ? '' : url.slice(q + 1), rawHeaders: req.rawHeaders, body: raw }, (akid) => opts.directory.credential(ks.id, akid));
      record.accessKeyId = auth.accessKeyId;
      if (!auth.ok) {
        log.warn({ event: 'xks_auth_failed', keyStore: ks.name, accessKeyId: auth.accessKeyId, reason: auth.reason }, 'SigV4 verification failed');
        fail('AuthenticationFailed', 'the request signature could not be verified');
      }
      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        fail('ValidationFailed', 'the body is not valid JSON');
      }
      if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('ValidationFailed', 'the body must be a JSON object');
      record.kmsRequestId = claimedRequestId(json);
      opts.admit?.(ks, route);
      body = await dispatch(ks, route, json, record);
    } catch (e) {
      const x = toXksError(e);
      if (x.errorName === 'InternalException' && !(e instanceof KeyholdError && e.code === 'Internal')) {
        log.error({ event: 'xks_internal', operation: record.operation, err: e instanceof Error ? e.message : String(e) }, 'internal error');
      }
      status = x.status;
      record.errorName = x.errorName;
      record.errorMessage = x.errorMessage;
      body = { errorName: x.errorName, errorMessage: x.errorMessage };
    }
    record.status = status;
    record.latencyMs = performance.now() - started;
    // Answers that waited for a hook's promise (the audit commit) are released together by
    // that commit and go out at once; the others are batched per event-loop turn.
    let released = false;
    if (opts.beforeRespond) {
      try {
        const pending = opts.beforeRespond(record);
        if (pending) {
          released = true;
          await pending;
        }
      } catch (e) {
        log.error({ event: 'xks_record_failed', err: e instanceof Error ? e.message : String(e) }, 'could not record the call; refusing to answer it');
        status = 500;
        body = { errorName: 'InternalException', errorMessage: 'the call could not be recorded' };
      }
    }
    // Only these fields, none of them secret (see requestLog).
    requestLog.info(
      {
        event: 'xks',
        kmsRequestId: record.ctx?.kmsRequestId ?? record.kmsRequestId,
        operation: record.operation,
        kmsOperation: record.ctx?.kmsOperation,
        keyStore: record.keyStoreName,
        key: record.externalKeyId,
        keyVersion: record.keyVersion,
        status,
        outcome: record.errorName ?? 'ok',
        latencyMs: Math.round(record.latencyMs * 1000) / 1000,
      },
      'xks call',
    );
    send(res, status, body, closeAfter ? { connection: 'close' } : undefined, released);
  }

  function shedError(reason: ShedReason): never {
    if (reason === 'in_flight') fail('DependencyTimeout', 'too many calls are waiting on the key backend; retry');
    fail('Throttled', reason === 'event_loop_delay' ? 'the proxy is overloaded (its event loop is running late); retry' : 'the proxy is overloaded (calls queue longer than the deadline allows); retry');
  }

  async function dispatch(ks: KeyStore, route: XksRoute, json: unknown, record: XksCallRecord): Promise<object> {
    const facts: CallFacts = {};
    try {
      switch (route.operation) {
        case 'health': {
          record.ctx = parseHealth(json);
          const h = await opts.service.health();
          return {
            xksProxyFleetSize: h.xksProxyFleetSize,
            xksProxyVendor: h.xksProxyVendor,
            xksProxyModel: h.xksProxyModel,
            ekmVendor: h.ekmVendor,
            ekmFleetDetails: h.ekmFleetDetails,
          };
        }
        case 'metadata': {
          const ctx = (record.ctx = parseMetadata(json));
          return await opts.service.getKeyMetadata(ks, route.externalKeyId!, ctx, facts);
        }
        case 'encrypt': {
          const r = parseEncrypt(json, opts.limits);
          record.ctx = r.ctx;
          const out = await opts.service.encrypt(ks, route.externalKeyId!, r.ctx, r, facts);
          return {
            ciphertext: encodeBase64(out.ciphertext),
            initializationVector: encodeBase64(out.iv),
            authenticationTag: encodeBase64(out.tag),
            ciphertextMetadata: encodeBase64(out.metadata),
            ...(out.cdiv ? { ciphertextDataIntegrityValue: encodeBase64(out.cdiv) } : {}),
          };
        }
        case 'decrypt': {
          const r = parseDecrypt(json, opts.limits);
          record.ctx = r.ctx;
          const plaintext = await opts.service.decrypt(ks, route.externalKeyId!, r.ctx, r, facts);
          const text = encodeBase64(plaintext);
          plaintext.fill(0);
          return { plaintext: text };
        }
        default: {
          const never: never = route.operation;
          throw new KeyholdError('Internal', `unrouted operation ${String(never)}`);
        }
      }
    } finally {
      record.keyVersion = facts.keyVersion;
      record.policyDecidedBy = facts.policy?.decidedBy;
    }
  }

  return {
    server,
    overloadStats: () => guard?.stats(),
    connectionStats: () => connections.stats(),
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    close() {
      stopWatching();
      guard?.close();
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
