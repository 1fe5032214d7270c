/**
 * One error family for the whole product. Domain code throws a KeyholdError with a stable
 * code; each surface (XKS, admin API, CLI) translates codes once, in its own errors module.
 * Messages name what the caller sent, never key material, plaintext or secrets.
 */
export const ERROR_CODES = [
  'ValidationFailed', // malformed or missing input
  'TooLarge', // input above this implementation's limits (but legal per spec)
  'UnknownPath', // URI prefix or structure not recognised
  'AuthenticationFailed', // SigV4 or admin authentication failed
  'AccessDenied', // authorization policy said no
  'KeyStoreNotFound',
  'KeyNotFound',
  'NotFound', // any other management object
  'KeyStoreDisabled',
  'KeyDisabled',
  'InvalidKeyUsage',
  'InvalidCiphertext',
  'Conflict', // uniqueness or state conflict in management operations
  'InvalidState', // the object's state forbids the operation (pending deletion, expired key)
  'ApprovalPending', // the action waits for a quorum of approvals (not a failure)
  'LimitExceeded', // e.g. a third credential on a key store
  'Throttled',
  'Unsupported',
  'DependencyTimeout', // the key backend did not answer in time
  'BackendUnavailable', // the key backend cannot serve
  'SealError', // the seal could not be opened (wrong passphrase, missing key file)
  'ConfigInvalid',
  'Internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** Whether a string from outside (an API answer) is one of our codes. */
export function isErrorCode(s: unknown): s is ErrorCode {
  return typeof s === 'string' && CODES.has(s);
}

export class KeyholdError extends Error {
  override readonly name = 'KeyholdError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isKeyholdError(e: unknown, code?: ErrorCode): e is KeyholdError {
  return e instanceof KeyholdError && (code === undefined || e.code === code);
}

/** Shorthand for the common case. */
export function fail(code: ErrorCode, message: string, cause?: unknown): never {
  throw new KeyholdError(code, message, cause === undefined ? undefined : { cause });
}
