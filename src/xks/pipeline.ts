import { fail, KeyholdError, type Clock, type Logger } from '../base/index.js';
import type { SigV4Verifier } from '../crypto/index.js';
import type { Directory } from '../domain/directory.js';
import type { KeyStore } from '../domain/model.js';
import type { XksAnswer, XksCall, XksCallObserver, XksCallOperation } from '../domain/xks-call.js';
import type { XksService } from '../domain/xks-service.js';
import { decryptOperation } from './decrypt.js';
import { encryptOperation } from './encrypt.js';
import { toXksError } from './errors.js';
import { healthOperation } from './health.js';
import { metadataOperation } from './metadata.js';
import type { OperationFacts, XksOperations } from './operation.js';
import type { OverloadGuard, ShedReason } from './overload.js';
import { routeXks } from './router.js';
import type { XksLimits } from './wire.js';

/**
 * One XKS call from request to answer, after the listener has accepted it:
 * route → (shed) → read the body → authenticate (SigV4) → parse → the operation (which
 * validates its body and runs the domain's pipeline: key lookup, state, usage, policy,
 * quota, crypto). The outcome becomes one XksCall record, handed to the call observer
 * before the answer is released. Errors are thrown as KeyholdErrors and mapped to the
 * spec's errorName once, here.
 */

/** What the pipeline needs of one HTTP request (the listener implements it). */
export interface XksExchange {
  readonly method: string | undefined;
  readonly path: string;
  readonly query: string;
  readonly rawHeaders: readonly string[];
  readonly remoteAddress: string | undefined;
  /** The body, read within the listener's size limit. A refusal closes the connection after the answer. */
  body(): Promise<Buffer>;
  /** Throws the body away unread; the connection stays usable. */
  discard(): void;
}

export interface XksReply {
  status: number;
  body: object;
  headers?: Record<string, string> | undefined;
  /**
   * The answer waited for a recorder (the audit commit), which releases its answers as one
   * burst: write it at once rather than with the next turn's answers.
   */
  released: boolean;
}

export interface XksPipelineOptions {
  service: XksService;
  directory: Directory;
  verifier: SigV4Verifier;
  limits: XksLimits;
  clock: Clock;
  log: Logger;
  /** Audit, metrics and the request log, as one observer (domain/xks-call.ts). */
  observer: XksCallObserver;
  /** Load shedding on arrival, before the body is read; health is never shed. */
  guard?: OverloadGuard | undefined;
}

export type XksPipeline = (ex: XksExchange) => Promise<XksReply>;

/** The kmsRequestId a body claims, read before validation so a refused call can still be correlated. */
function claimedRequestId(json: object): string | undefined {
  const m = (json as { requestMetadata?: unknown }).requestMetadata;
  const id = typeof m === 'object' && m !== null ? (m as { kmsRequestId?: unknown }).kmsRequestId : undefined;
  return typeof id === 'string' && id.length > 0 && id.length <= 2048 ? id : undefined;
}

function shedError(reason: ShedReason): never {
  if (reason === 'in_flight') fail('DependencyTimeout', 'too many calls are waiting on the key backend; retry');
  fail('Throttled', reason === 'event_loop_delay' ? 'the proxy is overloaded (its event loop is running late); retry' : 'the proxy is overloaded (calls queue longer than the deadline allows); retry');
}

const INTERNAL = { errorName: 'InternalException', errorMessage: 'the call could not be recorded' } as const;

export function createXksPipeline(opts: XksPipelineOptions): XksPipeline {
  const { log, clock, observer, guard, directory, verifier } = opts;
  const deps = { service: opts.service, limits: opts.limits };
  const operations: XksOperations = {
    health: healthOperation(deps),
    metadata: metadataOperation(deps),
    encrypt: encryptOperation(deps),
    decrypt: decryptOperation(deps),
  };

  return async function handle(ex: XksExchange): Promise<XksReply> {
    const started = performance.now();
    const at = clock.now();
    let operation: XksCallOperation = 'unrouted';
    let ks: KeyStore | undefined;
    let externalKeyId: string | undefined;
    let accessKeyId: string | undefined;
    let authenticated = false;
    let claimed: string | undefined;
    const facts: OperationFacts = {};
    let admitted = false;
    let status = 200;
    let errorName: string | undefined;
    let errorMessage: string | undefined;
    let body: object;
    try {
      try {
        const route = routeXks(ex.path) ?? fail('UnknownPath', `no XKS API at ${ex.path.slice(0, 200)}`);
        // The prefix is checked before the credential (spec §14.2).
        ks = directory.keyStoreByPrefix(route.prefix) ?? fail('UnknownPath', `no key store serves ${route.prefix || '/'}`);
        operation = route.operation;
        externalKeyId = route.externalKeyId;
        if (ex.method !== 'POST') {
          ex.discard();
          // The spec defines no errorName for 405; the message says what to do. Not a call: no record.
          return { status: 405, body: { errorMessage: `${ex.method ?? 'this method'} is not allowed on an XKS API; use POST` }, headers: { allow: 'POST' }, released: true };
        }
        if (guard && route.operation !== 'health') {
          const reason = guard.arrive();
          if (reason) {
            ex.discard(); // the connection stays usable
            shedError(reason);
          }
          admitted = true;
        }
        const raw = await ex.body();
        const storeId = ks.id;
        const auth = verifier.verify({ method: 'POST', path: ex.path, query: ex.query, rawHeaders: ex.rawHeaders, body: raw }, (akid) => directory.credential(storeId, akid));
        accessKeyId = auth.accessKeyId;
        if (!auth.ok) {
          log.warn({ event: 'xks_auth_failed', keyStore: ks.name, accessKeyId: auth.accessKeyId, reason: auth.reason }, 'SigV4 verification failed');
          fail('AuthenticationFailed', 'the request signature could not be verified');
        }
        authenticated = true;
        let json: unknown;
        try {
          json = JSON.parse(raw.toString('utf8'));
        } catch {
          fail('ValidationFailed', 'the body is not valid JSON');
        }
        if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('ValidationFailed', 'the body must be a JSON object');
        claimed = claimedRequestId(json);
        body = await operations[route.operation](json, ks, externalKeyId, facts);
      } catch (e) {
        const x = toXksError(e);
        if (x.errorName === 'InternalException' && !(e instanceof KeyholdError && e.code === 'Internal')) {
          log.error({ event: 'xks_internal', operation, err: e instanceof Error ? e.message : String(e) }, 'internal error');
        }
        status = x.status;
        errorName = x.errorName;
        errorMessage = x.errorMessage;
        body = { errorName: x.errorName, errorMessage: x.errorMessage };
      }
      const call: XksCall = {
        at,
        operation,
        keyStoreId: ks?.id,
        keyStoreName: ks?.name,
        externalKeyId,
        keyVersion: facts.keyVersion,
        accessKeyId,
        authenticated,
        claimedRequestId: claimed,
        ctx: facts.ctx,
        policyDecidedBy: facts.policy?.decidedBy,
        remoteAddress: ex.remoteAddress,
        status,
        errorName,
        errorMessage,
        latencyMs: performance.now() - started,
      };
      // A recorder's promise (the durable audit commit) holds the answer; answers released
      // by one commit go out together, at once.
      let released = false;
      let answer: XksAnswer = call;
      if (observer.record) {
        try {
          const pending = observer.record(call);
          if (pending) {
            released = true;
            await pending;
            answer = { status, errorName, latencyMs: performance.now() - started };
          }
        } catch (e) {
          log.error({ event: 'xks_record_failed', err: e instanceof Error ? e.message : String(e) }, 'could not record the call; refusing to answer it');
          answer = { status: 500, errorName: INTERNAL.errorName, latencyMs: performance.now() - started };
          body = INTERNAL;
        }
      }
      observer.answered?.(call, answer);
      return { status: answer.status, body, released };
    } finally {
      if (admitted) guard!.done();
    }
  };
}
