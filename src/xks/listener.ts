import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { KeyholdError, perTurnQueue, type Clock, type Logger, type PerTurnQueue } from '../base/index.js';
import type { SigV4Verifier } from '../crypto/index.js';
import type { Directory } from '../domain/directory.js';
import { observeXksCalls, type XksCallObserver } from '../domain/xks-call.js';
import type { XksService } from '../domain/xks-service.js';
import { safeErrorMessage } from './errors.js';
import { loadSecureContextOptions, mtlsServerOptions, enforceClientSubjects, setServerContext, verifyClientChains, watchCertificates, type CertificatePair, type TlsFiles } from './tls.js';
import type { XksLimits } from './wire.js';
import { createOverloadGuard, type OverloadLimits, type OverloadStats } from './overload.js';
import { connectionServerOptions, DEFAULT_CONNECTION_LIMITS, guardConnections, type ConnectionLimits, type ConnectionStats } from './connections.js';
import { createXksPipeline, type XksExchange, type XksReply } from './pipeline.js';
import { requestLogObserver } from './request-log.js';

/**
 * The XKS listener: TLS (and mTLS), connection admission, the parser's refusals, GET /ping,
 * body limits and answer batching. Each request becomes an XksExchange for the pipeline
 * (pipeline.ts), whose reply the listener writes.
 */

export interface XksServerOptions {
  tls: TlsFiles;
  service: XksService;
  directory: Directory;
  verifier: SigV4Verifier;
  limits: XksLimits;
  clock: Clock;
  log: Logger;
  /**
   * Where the one-line-per-call request log goes (default: log). Its fields are a fixed
   * list that never holds a secret, so the app hands in a logger without redaction here
   * (see request-log.ts).
   */
  requestLog?: Logger;
  /** Largest request body read, in bytes. */
  maxBodyBytes?: number;
  /**
   * The calls' observer (audit, metrics): its `record` runs before the answer is written
   * and may hold it (domain/xks-call.ts). The request log is added here.
   */
  observer?: XksCallObserver | undefined;
  /**
   * Load shedding: requests the server cannot answer in time are refused when they arrive,
   * before their body is read (see overload.ts). Health checks are never shed.
   */
  overload?: OverloadLimits | undefined;
  /** Handshake deadline and connection cap (see connections.ts); default DEFAULT_CONNECTION_LIMITS. */
  connections?: ConnectionLimits | undefined;
  /**
   * Whether this node can serve (cluster custody): when it returns a reason, GET /ping
   * answers 503 with it, so a load balancer takes the node out of rotation.
   */
  unready?: () => string | undefined;
}

export interface XksServer {
  server: Server;
  /** The overload guard's view (undefined without one): in flight, event-loop delay, refusals. */
  overloadStats(): OverloadStats | undefined;
  /** Connections open, in handshake, and closed by the connection guard. */
  connectionStats(): ConnectionStats;
  listen(host: string, port: number): Promise<AddressInfo>;
  /**
   * Serves this certificate and key from the next handshake on (installed cluster-wide with
   * keyhold tls install); undefined goes back to the files. Established connections stay.
   */
  useCertificate(pair: CertificatePair | undefined): void;
  close(): Promise<void>;
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
  const { log } = opts;
  const guard = opts.overload ? createOverloadGuard(opts.overload) : undefined;
  const answers = createAnswerBatch();
  const pipeline = createXksPipeline({
    service: opts.service,
    directory: opts.directory,
    verifier: opts.verifier,
    limits: opts.limits,
    clock: opts.clock,
    log,
    guard,
    observer: observeXksCalls([opts.observer, requestLogObserver(opts.requestLog ?? log)]),
  });

  const connectionLimits = opts.connections ?? DEFAULT_CONNECTION_LIMITS;
  const server = createServer({ ...loadSecureContextOptions(opts.tls), ...mtlsServerOptions(opts.tls), ...connectionServerOptions(connectionLimits) }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      log.error({ event: 'xks_unhandled', err: e instanceof Error ? e.message : String(e) }, 'unhandled error in XKS handler');
      if (!res.headersSent) send(res, { status: 500, body: { errorName: 'InternalException', errorMessage: 'internal error' }, released: false });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  const connections = guardConnections(server, connectionLimits, log);
  verifyClientChains(server, opts.tls, log);
  enforceClientSubjects(server, opts.tls.clientSubjects ?? [], log);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerUnparsable(err, socket, log));
  let installed: CertificatePair | undefined;
  const stopWatching = watchCertificates(server, opts.tls, log, 1000, () => installed);

  /** Released answers go out at once (their group was released together); the others with this turn's. */
  function send(res: ServerResponse, reply: XksReply, close = false): void {
    const text = JSON.stringify(reply.body);
    const headers = ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(text))];
    if (reply.headers) for (const [k, v] of Object.entries(reply.headers)) headers.push(k, v);
    if (close) headers.push('connection', 'close');
    res.writeHead(reply.status, headers);
    if (reply.released) res.end(text);
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

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path === '/ping' && (req.method === 'GET' || req.method === 'HEAD')) {
      const reason = opts.unready?.();
      res.writeHead(reason ? 503 : 200, { 'content-type': 'text/plain' });
      res.end(reason ?? 'pong');
      return;
    }
    let closeAfter = false;
    const exchange: XksExchange = {
      method: req.method,
      path,
      query: q < 0 ? '' : url.slice(q + 1),
      rawHeaders: req.rawHeaders,
      remoteAddress: req.socket.remoteAddress,
      body: () =>
        readBody(req).catch((e: unknown) => {
          closeAfter = true;
          throw e;
        }),
      discard: () => void req.resume(),
    };
    send(res, await pipeline(exchange), closeAfter);
  }

  return {
    server,
    overloadStats: () => guard?.stats(),
    connectionStats: () => connections.stats(),
    useCertificate(pair) {
      // Fails (and keeps the current context) on a pair that does not load.
      setServerContext(server, opts.tls, pair);
      installed = pair;
    },
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
