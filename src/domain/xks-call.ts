import type { Logger } from '../base/index.js';
import type { XksAuditRecord } from './audit-model.js';
import type { RequestContext } from './model.js';

/**
 * One XKS call as the XKS plane saw it: built once, when the outcome is known, and never
 * changed afterwards. The audit log, the metrics and the request log all read this one
 * record through one port (XksCallObserver); none of them gets a copy reshaped for it.
 * It never holds plaintext, key material or a secret.
 */
export type XksCallOperation = 'health' | 'metadata' | 'encrypt' | 'decrypt' | 'unrouted';

export interface XksCall {
  /** When the call arrived (epoch milliseconds). */
  readonly at: number;
  /** The XKS API the path named, or 'unrouted'. */
  readonly operation: XksCallOperation;
  readonly keyStoreId: string | undefined;
  readonly keyStoreName: string | undefined;
  /** The external key id (XksKeyId) from the path. */
  readonly externalKeyId: string | undefined;
  /** The key version the operation used, when it reached one. */
  readonly keyVersion: number | undefined;
  /**
   * The access key id from the Authorization header. Taken before verification, so it may
   * be anything a client sent (see `authenticated`).
   */
  readonly accessKeyId: string | undefined;
  /** The SigV4 signature verified against one of the key store's credentials. */
  readonly authenticated: boolean;
  /** kmsRequestId as the body carried it, also when the rest of the input was refused (for correlation). */
  readonly claimedRequestId: string | undefined;
  /** The validated requestMetadata, when the body got that far. */
  readonly ctx: RequestContext | undefined;
  /** Which secondary-policy rule decided, when a policy applied. */
  readonly policyDecidedBy: string | undefined;
  readonly remoteAddress: string | undefined;
  /** HTTP status of the operation's outcome. */
  readonly status: number;
  /** The XKS errorName of a refusal; undefined when the call succeeded. */
  readonly errorName: string | undefined;
  readonly errorMessage: string | undefined;
  /** Time from arrival to the outcome, in milliseconds. */
  readonly latencyMs: number;
}

/**
 * What KMS receives: the call's own outcome, or InternalException when a recorder (the
 * durable audit log) could not record it. Its latency includes the wait for the recorders.
 */
export interface XksAnswer {
  readonly status: number;
  readonly errorName: string | undefined;
  readonly latencyMs: number;
}

/**
 * The one port through which the XKS plane reports calls. `record` runs before the answer
 * is written: a returned promise holds the answer until it settles, a rejection turns the
 * answer into InternalException (the audit log: an answer never goes out before its record
 * is durable). `answered` runs once the answer is decided and must not throw (metrics, the
 * request log).
 */
export interface XksCallObserver {
  record?(call: XksCall): void | Promise<void>;
  answered?(call: XksCall, answer: XksAnswer): void;
}

/**
 * Several observers as one: recorders run in the order given, each after the previous one
 * settled (so a later step sees a record that is already durable); then every `answered`.
 */
export function observeXksCalls(observers: readonly (XksCallObserver | undefined)[]): XksCallObserver {
  const recorders = observers.filter((o): o is XksCallObserver & Required<Pick<XksCallObserver, 'record'>> => o?.record !== undefined);
  const listeners = observers.filter((o): o is XksCallObserver & Required<Pick<XksCallObserver, 'answered'>> => o?.answered !== undefined);
  const out: XksCallObserver = {};
  if (recorders.length === 1) {
    const only = recorders[0]!;
    out.record = (call) => only.record(call);
  } else if (recorders.length > 1) {
    out.record = (call) => {
      for (let i = 0; i < recorders.length; i++) {
        const pending = recorders[i]!.record(call);
        if (pending) return rest(pending, call, i + 1);
      }
    };
  }
  async function rest(pending: Promise<void>, call: XksCall, from: number): Promise<void> {
    await pending;
    for (let i = from; i < recorders.length; i++) await recorders[i]!.record(call);
  }
  if (listeners.length === 1) {
    const only = listeners[0]!;
    out.answered = (call, answer) => only.answered(call, answer);
  } else if (listeners.length > 1) {
    out.answered = (call, answer) => {
      for (const l of listeners) l.answered(call, answer);
    };
  }
  return out;
}

const clip = (v: string | undefined, max: number) => (v === undefined || v.length <= max ? v : v.slice(0, max));

/**
 * The audit record of one XKS call, built with its members in sorted order: the writer
 * serialises records as canonical JSON (sorted keys) and skips the sort when the keys
 * already come in order. The type makes every member of XksAuditRecord appear here.
 * The access key id was read before verification, so it is clipped: it may be anything.
 */
export function xksAuditRecord(call: XksCall, node: string): XksAuditRecord {
  const ctx = call.ctx;
  const r: { [K in keyof Required<XksAuditRecord>]: XksAuditRecord[K] } = {
    accessKeyId: clip(call.accessKeyId, 128),
    authenticated: call.authenticated,
    awsPrincipalArn: ctx?.awsPrincipalArn,
    awsSourceVpc: ctx?.awsSourceVpc,
    awsSourceVpce: ctx?.awsSourceVpce,
    errorName: call.errorName,
    keyId: call.externalKeyId,
    keyStore: call.keyStoreName,
    keyStoreId: call.keyStoreId,
    keyVersion: call.keyVersion,
    kind: 'xks',
    kmsKeyArn: ctx?.kmsKeyArn,
    kmsOperation: ctx?.kmsOperation,
    kmsRequestId: ctx?.kmsRequestId,
    kmsViaService: ctx?.kmsViaService,
    latencyMs: Math.round(call.latencyMs * 1000) / 1000,
    node,
    operation: call.operation,
    outcome: call.errorName === undefined && call.status < 400 ? 'ok' : 'error',
    policyRule: call.policyDecidedBy,
    remoteAddress: clip(call.remoteAddress, 64),
    status: call.status,
    time: new Date(call.at).toISOString(),
  };
  return r;
}

/** The part of the audit service this observer needs. */
export interface XksCallAuditLog {
  xksCall(call: XksCall): Promise<unknown>;
}

/**
 * XKS calls into the audit log. Durable: the answer waits for the commit, and a call that
 * cannot be recorded is answered InternalException. Queued: the record is appended and the
 * answer goes out at once, unless more than `backlogLimit` records wait for a commit (then
 * answers wait too, so the queue stays bounded).
 */
export function auditXksCalls(deps: { audit: XksCallAuditLog; durable: boolean; backlog: () => number; backlogLimit: number; log: Logger }): XksCallObserver {
  const { audit, log } = deps;
  if (deps.durable) return { record: (call) => audit.xksCall(call).then(noValue) };
  const onError = (e: unknown) => log.error({ event: 'audit_append_failed', err: e instanceof Error ? e.message : String(e) }, 'could not record an XKS call');
  return {
    record(call) {
      const queued = audit.xksCall(call).then(noValue, onError);
      if (deps.backlog() > deps.backlogLimit) return queued;
    },
  };
}

function noValue(): void {}
