import { isKeyholdError, type ErrorCode } from '../base/index.js';

/** The XKS spec's error names (xks-spec §7). */
export type XksErrorName =
  | 'ValidationException'
  | 'InvalidStateException'
  | 'InvalidCiphertextException'
  | 'InvalidKeyUsageException'
  | 'AuthenticationFailedException'
  | 'AccessDeniedException'
  | 'KeyNotFoundException'
  | 'InvalidUriPathException'
  | 'ThrottlingException'
  | 'UnsupportedOperationException'
  | 'DependencyTimeoutException'
  | 'InternalException';

export interface XksError {
  status: number;
  errorName: XksErrorName;
  errorMessage: string;
}

const BY_CODE: Partial<Record<ErrorCode, [number, XksErrorName]>> = {
  ValidationFailed: [400, 'ValidationException'],
  TooLarge: [501, 'UnsupportedOperationException'],
  Unsupported: [501, 'UnsupportedOperationException'],
  UnknownPath: [404, 'InvalidUriPathException'],
  AuthenticationFailed: [401, 'AuthenticationFailedException'],
  AccessDenied: [403, 'AccessDeniedException'],
  KeyNotFound: [404, 'KeyNotFoundException'],
  KeyStoreDisabled: [400, 'InvalidStateException'],
  KeyDisabled: [400, 'InvalidStateException'],
  InvalidState: [400, 'InvalidStateException'],
  InvalidKeyUsage: [400, 'InvalidKeyUsageException'],
  InvalidCiphertext: [400, 'InvalidCiphertextException'],
  Throttled: [429, 'ThrottlingException'],
  DependencyTimeout: [503, 'DependencyTimeoutException'],
};

/** errorMessage must be printable ASCII (0x20-0x7E) and shorter than 512 characters. */
export function safeErrorMessage(message: string): string {
  const printable = message.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 511 ? printable.slice(0, 508) + '...' : printable;
}

/**
 * The one place where errors become XKS responses. Anything that is not a KeyholdError is
 * an internal error whose details stay in the server log, not in the response.
 */
export function toXksError(e: unknown): XksError {
  if (isKeyholdError(e)) {
    const m = BY_CODE[e.code];
    if (m) return { status: m[0], errorName: m[1], errorMessage: safeErrorMessage(e.message) };
  }
  return { status: 500, errorName: 'InternalException', errorMessage: 'internal error; see the proxy log' };
}
