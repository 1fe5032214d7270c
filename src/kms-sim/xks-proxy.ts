/**
 * The four XKS proxy APIs as KMS calls them (xks-spec §4), with KMS's checks on each
 * answer: shapes and sizes, and for Encrypt the CDIV, which KMS always requests here and
 * recomputes itself (kms-semantics §1.4). Every call is recorded for the request log.
 * A failure is returned as data (ProxyFailure); each KMS operation maps it differently.
 */
import { computeCdiv } from '../crypto/index.js';
import { decodeBase64Strict, encodeBase64 } from '../base/index.js';
import type { ProxyCallRecord, XksOperation } from './request-log.js';
import type { XksTarget, XksTransport, XksTransportOutcome } from './xks-transport.js';

export interface RequestMetadata {
  awsPrincipalArn?: string;
  kmsKeyArn?: string;
  kmsOperation: string;
  kmsRequestId: string;
  kmsViaService?: string;
  awsSourceVpc?: string;
  awsSourceVpce?: string;
}

export type ProxyFailure =
  | { kind: 'timeout' }
  | { kind: 'network'; code: string }
  | { kind: 'tls'; code: string }
  /** The proxy answered with an XKS error (errorName as sent). */
  | { kind: 'error'; status: number; errorName: string }
  /** An answer KMS cannot interpret: malformed body, wrong sizes, CDIV mismatch. */
  | { kind: 'invalid'; reason: string };

export type ProxyResult<T> = { ok: true; value: T } | { ok: false; failure: ProxyFailure };

export interface ProxyCall {
  target: XksTarget;
  customKeyStoreId: string;
  metadata: RequestMetadata;
  record(r: ProxyCallRecord): void;
}

export type EkmHealth = 'ACTIVE' | 'DEGRADED' | 'UNAVAILABLE';

export interface HealthAnswer {
  xksProxyFleetSize: number;
  xksProxyVendor: string;
  xksProxyModel: string;
  ekmVendor: string;
  ekmFleetDetails: { id: string; model: string; healthStatus: EkmHealth }[];
}

export interface KeyMetadataAnswer {
  keySpec: string;
  keyUsage: string[];
  keyStatus: string;
}

export interface EncryptAnswer {
  ciphertext: Buffer;
  iv: Buffer;
  tag: Buffer;
  metadata: Buffer | undefined;
}

export interface XksProxyClient {
  health(call: ProxyCall): Promise<ProxyResult<HealthAnswer>>;
  keyMetadata(call: ProxyCall, xksKeyId: string): Promise<ProxyResult<KeyMetadataAnswer>>;
  encrypt(call: ProxyCall, xksKeyId: string, plaintext: Buffer, aad: Buffer): Promise<ProxyResult<EncryptAnswer>>;
  decrypt(call: ProxyCall, xksKeyId: string, input: EncryptAnswer, aad: Buffer): Promise<ProxyResult<Buffer>>;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function b64(v: unknown): Buffer | undefined {
  return typeof v === 'string' ? decodeBase64Strict(v) : undefined;
}

const HEALTH = new Set(['ACTIVE', 'DEGRADED', 'UNAVAILABLE']);

function parseHealth(j: unknown): HealthAnswer | string {
  if (!isObject(j)) return 'health answer is not a JSON object';
  const { xksProxyFleetSize, xksProxyVendor, xksProxyModel, ekmVendor, ekmFleetDetails } = j;
  if (typeof xksProxyFleetSize !== 'number' || !Number.isInteger(xksProxyFleetSize) || xksProxyFleetSize < 1) return 'xksProxyFleetSize is not a positive integer';
  if (typeof xksProxyVendor !== 'string' || typeof xksProxyModel !== 'string' || typeof ekmVendor !== 'string') return 'vendor or model missing';
  if (!Array.isArray(ekmFleetDetails) || ekmFleetDetails.length < 1 || ekmFleetDetails.length > 10) return 'ekmFleetDetails must have 1 to 10 entries';
  const details: HealthAnswer['ekmFleetDetails'] = [];
  for (const d of ekmFleetDetails) {
    if (!isObject(d) || typeof d.id !== 'string' || typeof d.model !== 'string' || typeof d.healthStatus !== 'string' || !HEALTH.has(d.healthStatus)) {
      return 'malformed ekmFleetDetails entry';
    }
    details.push({ id: d.id, model: d.model, healthStatus: d.healthStatus as EkmHealth });
  }
  return { xksProxyFleetSize, xksProxyVendor, xksProxyModel, ekmVendor, ekmFleetDetails: details };
}

function parseKeyMetadata(j: unknown): KeyMetadataAnswer | string {
  if (!isObject(j)) return 'metadata answer is not a JSON object';
  const { keySpec, keyUsage, keyStatus } = j;
  if (typeof keySpec !== 'string' || typeof keyStatus !== 'string') return 'keySpec or keyStatus missing';
  if (!Array.isArray(keyUsage) || keyUsage.length > 10 || !keyUsage.every((u) => typeof u === 'string')) return 'keyUsage is not a list of at most 10 strings';
  return { keySpec, keyUsage: keyUsage as string[], keyStatus };
}

function failureOf(o: Exclude<XksTransportOutcome, { kind: 'response' }>): ProxyFailure {
  return o;
}

function outcomeLabel(f: ProxyFailure): string {
  switch (f.kind) {
    case 'timeout':
      return 'timeout';
    case 'network':
      return `network:${f.code}`;
    case 'tls':
      return `tls:${f.code}`;
    case 'error':
      return f.errorName;
    case 'invalid':
      return 'invalid-response';
  }
}

export function createXksProxyClient(transport: XksTransport): XksProxyClient {
  /** One proxy call: send, classify the answer, validate a 200 with `parse`, record. */
  async function run<T>(call: ProxyCall, op: XksOperation, route: string, body: Json, xksKeyId: string | undefined, parse: (j: unknown) => T | string): Promise<ProxyResult<T>> {
    const res = await transport.post(call.target, route, body);
    let result: ProxyResult<T>;
    let httpStatus: number | undefined;
    const o = res.outcome;
    if (o.kind !== 'response') result = { ok: false, failure: failureOf(o) };
    else {
      httpStatus = o.status;
      if (o.status === 200) {
        const parsed = parse(o.json);
        result = typeof parsed === 'string' ? { ok: false, failure: { kind: 'invalid', reason: parsed } } : { ok: true, value: parsed };
      } else if (o.status >= 400 && isObject(o.json) && typeof o.json.errorName === 'string' && o.json.errorName.length > 0 && o.json.errorName.length <= 128) {
        result = { ok: false, failure: { kind: 'error', status: o.status, errorName: o.json.errorName } };
      } else {
        result = { ok: false, failure: { kind: 'invalid', reason: `HTTP ${o.status} without an XKS error body` } };
      }
    }
    call.record({
      xksOperation: op,
      kmsOperation: call.metadata.kmsOperation,
      customKeyStoreId: call.customKeyStoreId,
      ...(xksKeyId !== undefined ? { xksKeyId } : {}),
      attempts: res.attempts,
      outcome: result.ok ? 'ok' : outcomeLabel(result.failure),
      ...(httpStatus !== undefined ? { httpStatus } : {}),
      latencyMs: res.latencyMs,
    });
    return result;
  }

  const keyRoute = (id: string, op: string) => `/keys/${encodeURIComponent(id)}/${op}`;

  return {
    health(call) {
      const md = { kmsRequestId: call.metadata.kmsRequestId, kmsOperation: call.metadata.kmsOperation };
      return run(call, 'GetHealthStatus', '/health', { requestMetadata: md }, undefined, parseHealth);
    },

    keyMetadata(call, xksKeyId) {
      return run(call, 'GetKeyMetadata', keyRoute(xksKeyId, 'metadata'), { requestMetadata: call.metadata }, xksKeyId, parseKeyMetadata);
    },

    encrypt(call, xksKeyId, plaintext, aad) {
      const body = {
        requestMetadata: call.metadata,
        plaintext: encodeBase64(plaintext),
        encryptionAlgorithm: 'AES_GCM',
        additionalAuthenticatedData: encodeBase64(aad),
        ciphertextDataIntegrityValueAlgorithm: 'SHA_256',
      };
      return run(call, 'Encrypt', keyRoute(xksKeyId, 'encrypt'), body, xksKeyId, (j) => {
        if (!isObject(j)) return 'encrypt answer is not a JSON object';
        const ciphertext = b64(j.ciphertext);
        const iv = b64(j.initializationVector);
        const tag = b64(j.authenticationTag);
        const cdiv = b64(j.ciphertextDataIntegrityValue);
        const metadata = j.ciphertextMetadata === undefined ? undefined : b64(j.ciphertextMetadata);
        if (!ciphertext || ciphertext.length !== plaintext.length) return 'ciphertext missing or not the length of the plaintext';
        if (!iv || (iv.length !== 12 && iv.length !== 16)) return 'initializationVector missing or not 12 or 16 bytes';
        if (!tag || tag.length !== 16) return 'authenticationTag missing or not 16 bytes';
        if (j.ciphertextMetadata !== undefined && (!metadata || metadata.length > 20)) return 'ciphertextMetadata malformed or longer than 20 bytes';
        if (!cdiv) return 'ciphertextDataIntegrityValue missing';
        const expected = computeCdiv({ aad, metadata, iv, ciphertext, tag });
        if (!expected.equals(cdiv)) return 'ciphertextDataIntegrityValue does not match';
        return { ciphertext, iv, tag, metadata };
      });
    },

    decrypt(call, xksKeyId, input, aad) {
      const body = {
        requestMetadata: call.metadata,
        ciphertext: encodeBase64(input.ciphertext),
        initializationVector: encodeBase64(input.iv),
        authenticationTag: encodeBase64(input.tag),
        encryptionAlgorithm: 'AES_GCM',
        additionalAuthenticatedData: encodeBase64(aad),
        ...(input.metadata ? { ciphertextMetadata: encodeBase64(input.metadata) } : {}),
      };
      return run(call, 'Decrypt', keyRoute(xksKeyId, 'decrypt'), body, xksKeyId, (j) => {
        if (!isObject(j)) return 'decrypt answer is not a JSON object';
        const plaintext = b64(j.plaintext);
        if (!plaintext || plaintext.length !== input.ciphertext.length) return 'plaintext missing or not the length of the ciphertext';
        return plaintext;
      });
    },
  };
}
