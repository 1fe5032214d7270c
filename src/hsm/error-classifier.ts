/**
 * Decides what a PKCS#11 failure means for the session pool and for the caller.
 *
 *   data     the input was refused (bad tag, bad length, key not allowed to do that):
 *            the session is fine, keep it; the caller gets a data error.
 *   object   the object handle is stale (token objects were reloaded): keep the session,
 *            forget cached handles and look the key up again.
 *   session  the session is unusable (closed, logged out, operation state confused):
 *            drop it; the next request opens a new one.
 *   device   the module or token is gone or broken: drop every session, re-initialise the
 *            module (C_Finalize + C_Initialize) and find the token by label again.
 *   login    the PIN was refused. Never retried automatically: repeating a wrong PIN locks
 *            the token (CKR_PIN_LOCKED) on most HSMs.
 *   config   the module does not support what was asked (mechanism, template, params):
 *            retrying cannot help; the message names the likely capability flag.
 */
import { CKR } from './ckr.js';

export type FailureClass = 'data' | 'object' | 'session' | 'device' | 'login' | 'config';

/** The call that failed; some codes mean different things per call. */
export type Pkcs11Call =
  | 'initialize'
  | 'open'
  | 'login'
  | 'tokenInfo'
  | 'find'
  | 'attributes'
  | 'generate'
  | 'random'
  | 'encrypt'
  | 'decrypt'
  | 'close';

const DATA = new Set<number>([
  CKR.DATA_INVALID,
  CKR.DATA_LEN_RANGE,
  CKR.ENCRYPTED_DATA_INVALID,
  CKR.ENCRYPTED_DATA_LEN_RANGE,
  CKR.KEY_FUNCTION_NOT_PERMITTED,
  CKR.BUFFER_TOO_SMALL,
  CKR.ATTRIBUTE_SENSITIVE,
  CKR.ATTRIBUTE_TYPE_INVALID,
]);

const OBJECT = new Set<number>([CKR.OBJECT_HANDLE_INVALID, CKR.KEY_HANDLE_INVALID]);

const SESSION = new Set<number>([
  CKR.SESSION_HANDLE_INVALID,
  CKR.SESSION_CLOSED,
  CKR.SESSION_COUNT,
  CKR.SESSION_READ_ONLY,
  CKR.OPERATION_ACTIVE,
  CKR.OPERATION_NOT_INITIALIZED,
  CKR.USER_NOT_LOGGED_IN,
]);

const DEVICE = new Set<number>([
  CKR.DEVICE_ERROR,
  CKR.DEVICE_MEMORY,
  CKR.DEVICE_REMOVED,
  CKR.TOKEN_NOT_PRESENT,
  CKR.TOKEN_NOT_RECOGNIZED,
  CKR.CRYPTOKI_NOT_INITIALIZED,
  CKR.SLOT_ID_INVALID,
  CKR.GENERAL_ERROR,
  CKR.FUNCTION_FAILED,
  CKR.HOST_MEMORY,
]);

const LOGIN = new Set<number>([
  CKR.PIN_INCORRECT,
  CKR.PIN_INVALID,
  CKR.PIN_LEN_RANGE,
  CKR.PIN_EXPIRED,
  CKR.PIN_LOCKED,
]);

const CONFIG = new Set<number>([
  CKR.USER_PIN_NOT_INITIALIZED, // the token has no user PIN yet: set one (not a wrong PIN)
  CKR.MECHANISM_INVALID,
  CKR.MECHANISM_PARAM_INVALID,
  CKR.FUNCTION_NOT_SUPPORTED,
  CKR.ARGUMENTS_BAD,
  CKR.TEMPLATE_INCOMPLETE,
  CKR.TEMPLATE_INCONSISTENT,
  CKR.ATTRIBUTE_VALUE_INVALID,
  CKR.KEY_SIZE_RANGE,
  CKR.KEY_TYPE_INCONSISTENT,
  CKR.TOKEN_WRITE_PROTECTED,
]);

export function classifyPkcs11Error(code: number, call: Pkcs11Call, tagMismatchCodes: readonly number[]): FailureClass {
  // A decrypt that fails with one of the profile's "tag did not verify" codes is a data
  // error even when the code is otherwise alarming (SoftHSM2 answers CKR_GENERAL_ERROR).
  if (call === 'decrypt' && tagMismatchCodes.includes(code)) return 'data';
  if (DATA.has(code)) return 'data';
  if (OBJECT.has(code)) return 'object';
  if (SESSION.has(code)) return 'session';
  if (LOGIN.has(code)) return call === 'login' || call === 'open' ? 'login' : 'session';
  if (DEVICE.has(code)) return 'device';
  if (CONFIG.has(code)) return 'config';
  // Unknown and vendor-defined codes: assume the session is suspect but the module is not.
  return 'session';
}
