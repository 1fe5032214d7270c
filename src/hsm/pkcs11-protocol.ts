/**
 * Messages between the main thread and a PKCS#11 worker thread. Every PKCS#11 call runs on a
 * worker so that a slow or hung token never blocks the event loop that serves software keys.
 * Object and session handles travel as lower-case hex of pkcs11js's 8-byte handle buffers.
 */
import type { IvStrategy } from './capability-profile.js';
import type { Pkcs11Call } from './error-classifier.js';

export interface TokenInfo {
  label: string;
  manufacturer: string;
  model: string;
  serialNumber: string;
  firmware: string;
  loginRequired: boolean;
}

export interface KeyAttributes {
  handle: string;
  label: string;
  idHex: string;
  /** CKO_* class and CKK_* key type numbers. */
  objectClass: number;
  keyType: number;
  valueLen: number | undefined;
  encrypt: boolean;
  decrypt: boolean;
  wrap: boolean;
  unwrap: boolean;
  sign: boolean;
  verify: boolean;
  derive: boolean;
  sensitive: boolean;
  extractable: boolean;
  token: boolean;
}

export type WorkerRequest =
  | {
      op: 'open';
      modulePath: string;
      tokenLabel: string;
      pin: string | null;
      /**
       * Whether the worker's previous session may still exist and should be closed. After a
       * C_Finalize its handle is void, and its number may already belong to another lane's
       * new session: closing it then would close someone else's session.
       */
      closePrevious: boolean;
    }
  | { op: 'close' }
  | { op: 'finalize'; modulePath: string }
  | { op: 'tokenInfo' }
  | { op: 'find'; label: string; idHex?: string | undefined }
  | { op: 'attributes'; handle: string }
  | { op: 'generate'; label: string; idHex: string }
  | { op: 'random'; length: number }
  | {
      op: 'encrypt';
      handle: string;
      plaintext: Uint8Array;
      aad: Uint8Array;
      ivStrategy: IvStrategy;
      /** Caller-supplied IV (ivStrategy 'caller' with a host IV); otherwise absent. */
      iv?: Uint8Array | undefined;
    }
  | { op: 'decrypt'; handle: string; iv: Uint8Array; ciphertext: Uint8Array; tag: Uint8Array; aad: Uint8Array };

export interface WorkerResults {
  open: { slot: string; session: string; token: TokenInfo };
  close: null;
  finalize: null;
  tokenInfo: TokenInfo;
  find: string[];
  attributes: KeyAttributes;
  generate: string;
  random: Uint8Array;
  encrypt: { iv: Uint8Array; ciphertext: Uint8Array; tag: Uint8Array };
  decrypt: Uint8Array;
}

export type WorkerOp = WorkerRequest['op'];
export type RequestOf<O extends WorkerOp> = Extract<WorkerRequest, { op: O }>;

/** Why a worker call failed. `ckr` is set when the PKCS#11 module returned an error code. */
export interface WorkerFailure {
  call: Pkcs11Call;
  message: string;
  ckr?: number | undefined;
  /** No token with the configured label is present (treated like a removed device). */
  tokenMissing?: boolean | undefined;
  /**
   * A crypto call failed after its *Init succeeded with an error that may leave the
   * operation active (PKCS#11 v2.40 has no way to cancel it): the session must be dropped
   * unless the failure is a data error, which ends the operation.
   */
  operationMayBeActive?: boolean | undefined;
  /** A problem Keyhold detected itself (e.g. the token did not return an IV). */
  keyhold?: 'config' | 'internal' | 'input' | undefined;
}

export type WorkerMessage = { id: number } & WorkerRequest;
export type WorkerReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; failure: WorkerFailure };

export const GCM_TAG_BYTES = 16;
export const GCM_IV_BYTES = 12;
