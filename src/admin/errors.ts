import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { isKeyholdError, type ErrorCode } from '../base/index.js';

/** The admin API's error body: a stable code (the KeyholdError code) and a message. */
export interface AdminErrorBody {
  error: string;
  message: string;
}

export interface AdminError {
  status: number;
  body: AdminErrorBody;
}

const STATUS: Record<ErrorCode, number> = {
  ValidationFailed: 400,
  TooLarge: 413,
  UnknownPath: 404,
  AuthenticationFailed: 401,
  AccessDenied: 403,
  KeyStoreNotFound: 404,
  KeyNotFound: 404,
  NotFound: 404,
  KeyStoreDisabled: 409,
  KeyDisabled: 409,
  InvalidKeyUsage: 409,
  InvalidCiphertext: 400,
  Conflict: 409,
  InvalidState: 409,
  ApprovalPending: 202,
  LimitExceeded: 409,
  Throttled: 429,
  Unsupported: 501,
  DependencyTimeout: 503,
  BackendUnavailable: 503,
  SealError: 503,
  ConfigInvalid: 500,
  Internal: 500,
};

/** Fastify's own errors that a client can cause, by their code. */
const FASTIFY: Record<string, [number, ErrorCode | 'UnsupportedMediaType']> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'TooLarge'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UnsupportedMediaType'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'ValidationFailed'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'ValidationFailed'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'ValidationFailed'],
  FST_ERR_VALIDATION: [400, 'ValidationFailed'],
};

function clean(message: string): string {
  const printable = message.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 1000 ? printable.slice(0, 997) + '...' : printable;
}

/**
 * The one place where errors become admin API responses. Anything unexpected is a 500
 * whose details stay in the server log.
 */
export function toAdminError(e: unknown): AdminError {
  if (isKeyholdError(e)) return { status: STATUS[e.code], body: { error: e.code, message: clean(e.message) } };
  if (hasZodFastifySchemaValidationErrors(e)) {
    const where = (e as { validationContext?: string }).validationContext ?? 'request';
    const issues = e.validation.map((v) => `${where}${v.instancePath ? v.instancePath.replace(/\//g, '.') : ''}: ${v.message ?? 'invalid'}`).join('; ');
    return { status: 400, body: { error: 'ValidationFailed', message: clean(issues) } };
  }
  if (typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
    const m = FASTIFY[(e as { code: string }).code];
    if (m) return { status: m[0], body: { error: m[1], message: clean(e instanceof Error ? e.message : 'bad request') } };
  }
  return { status: 500, body: { error: 'Internal', message: 'internal error; see the server log' } };
}
