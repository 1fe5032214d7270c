/**
 * One error family for the whole product. Domain code throws a KeyholdError with a stable
 * code; each surface (XKS, admin API, CLI) translates codes once, in its own errors module.
 * Messages name what the caller sent, never key material, plaintext or secrets.
 */
export type ErrorCode =
  | 'ValidationFailed' // malformed or missing input
  | 'TooLarge' // input above this implementation's limits (but legal per spec)
  | 'UnknownPath' // URI prefix or structure not recognised
  | 'AuthenticationFailed' // SigV4 or admin authentication failed
  | 'AccessDenied' // authorization policy said no
  | 'KeyStoreNotFound'
  | 'KeyNotFound'
  | 'NotFound' // any other management object
  | 'KeyStoreDisabled'
  | 'KeyDisabled'
  | 'InvalidKeyUsage'
  | 'InvalidCiphertext'
  | 'Conflict' // uniqueness or state conflict in management operations
  | 'InvalidState' // the object's state forbids the operation (pending deletion, expired key)
  | 'ApprovalPending' // the action waits for a quorum of approvals (not a failure)
  | 'LimitExceeded' // e.g. a third credential on a key store
  | 'Throttled'
  | 'Unsupported'
  | 'DependencyTimeout' // the key backend did not answer in time
  | 'BackendUnavailable' // the key backend cannot serve
  | 'SealError' // the seal could not be opened (wrong passphrase, missing key file)
  | 'ConfigInvalid'
  | 'Internal';

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
