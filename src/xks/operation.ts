import type { KeyStore, RequestContext } from '../domain/model.js';
import type { CallFacts, XksService } from '../domain/xks-service.js';
import type { XksOperation } from './router.js';
import type { XksLimits } from './wire.js';

/** What an operation learns about its call, for the call record. */
export interface OperationFacts extends CallFacts {
  /** The validated requestMetadata. */
  ctx?: RequestContext;
}

export interface OperationDeps {
  service: XksService;
  limits: XksLimits;
}

/**
 * One XKS operation (one file each: health.ts, metadata.ts, encrypt.ts, decrypt.ts):
 * validates its body (ValidationException, or UnsupportedOperationException above a
 * limit), runs the domain operation and returns the response body. The body is a JSON
 * object and the call is authenticated by the time it runs.
 */
export type XksOperationHandler = (json: object, keyStore: KeyStore, externalKeyId: string | undefined, facts: OperationFacts) => Promise<object>;

export type XksOperations = Readonly<Record<XksOperation, XksOperationHandler>>;
