/**
 * One classifier for everything an AWS call can throw: transport errors from Node (DNS,
 * TCP, TLS), and service exceptions from the SDK, each put under the reason an operator
 * can act on (kms-semantics §4: moto answers unimplemented calls with an HTML 500).
 */
import type { AwsCallFailure, AwsFailureReason } from '../domain/index.js';

const DNS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME']);
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED', 'TimeoutError', 'RequestTimeout', 'socket hang up']);
const TLS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);
const CREDENTIALS = new Set([
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'IncompleteSignatureException',
  'MissingAuthenticationToken',
  'MissingAuthenticationTokenException',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'ExpiredToken',
  'InvalidAccessKeyId',
  'CredentialsProviderError',
  'AuthFailure',
]);
const CLOCK = new Set(['RequestExpired', 'SignatureExpired', 'RequestTimeTooSkewed']);
const PERMISSION = new Set(['AccessDeniedException', 'AccessDenied', 'UnauthorizedOperation', 'NotAuthorized', 'AuthorizationError']);
const THROTTLED = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded', 'SlowDown']);
const NOT_FOUND = new Set(['NotFoundException', 'CustomKeyStoreNotFoundException', 'NoSuchEntity']);
const UNSUPPORTED = new Set(['UnsupportedOperationException', 'UnknownOperationException', 'InvalidAction']);

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
}

function fieldsOf(e: unknown): { name: string; code: string; message: string; status: number | undefined } {
  const x = (e ?? {}) as ErrorLike;
  return {
    name: typeof x.name === 'string' ? x.name : 'Error',
    code: typeof x.code === 'string' ? x.code : '',
    message: typeof x.message === 'string' ? x.message : String(e),
    status: x.$metadata?.httpStatusCode ?? x.$response?.statusCode,
  };
}

/** A message safe to show and store: one line, bounded, never the request. */
function clip(s: string): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > 300 ? one.slice(0, 297) + '...' : one;
}

export function classifyAwsError(e: unknown): AwsCallFailure {
  // Transport errors may come wrapped (AggregateError from happy eyeballs, or a cause chain).
  const chain: unknown[] = [];
  for (let cur: unknown = e, i = 0; cur && i < 5; cur = (cur as ErrorLike).cause, i++) {
    chain.push(cur);
    const errors = (cur as { errors?: unknown[] }).errors;
    if (Array.isArray(errors)) chain.push(...errors);
  }
  for (const c of chain) {
    const f = fieldsOf(c);
    const r = transportReason(f.code) ?? transportReason(f.name) ?? (/certificate|self[- ]signed|\bTLS\b|SSL/i.test(f.message) ? 'tls' : undefined);
    if (r) return { name: f.code || f.name, reason: r, message: clip(f.message) };
  }
  const f = fieldsOf(e);
  return { name: f.name, reason: serviceReason(f), message: clip(f.message) };
}

function transportReason(code: string): AwsFailureReason | undefined {
  if (DNS.has(code)) return 'dns';
  if (TLS.has(code)) return 'tls';
  if (NETWORK.has(code)) return 'network';
  return undefined;
}

function serviceReason(f: { name: string; message: string; status: number | undefined }): AwsFailureReason {
  if (CLOCK.has(f.name) || /signature expired|clock skew|too skewed|request has expired/i.test(f.message)) return 'clock-skew';
  if (CREDENTIALS.has(f.name)) return 'credentials';
  if (PERMISSION.has(f.name) || /not authorized to perform|AccessDenied/.test(f.message)) return 'permission';
  if (THROTTLED.has(f.name)) return 'throttled';
  if (NOT_FOUND.has(f.name)) return 'not-found';
  if (/InUseException$|AlreadyExistsException$|AlreadyInUseException$/.test(f.name)) return 'conflict';
  if (UNSUPPORTED.has(f.name)) return 'unsupported';
  // An answer that is not KMS JSON: moto's XML 403 when it enforces IAM, its HTML 500 page
  // for a call it does not implement. The status tells them apart.
  if (f.name === 'SyntaxError' || /Unexpected token|not valid JSON|Deserialization error/i.test(f.message)) {
    if (f.status === 403) return 'permission';
    if (f.status === 401) return 'credentials';
    if (f.status === 429) return 'throttled';
    return 'unsupported';
  }
  // KMS's verdicts about the external key store proxy or its state: operational, not bad input.
  if (/^(XksProxy|XksKey|CustomKeyStore|KMSInvalidState)/.test(f.name)) return 'service';
  if (f.name.endsWith('ValidationException') || f.name.startsWith('Invalid') || f.name === 'ValidationError') return 'invalid-request';
  if (f.status !== undefined && f.status >= 400 && f.status < 500) return 'invalid-request';
  return 'service';
}
