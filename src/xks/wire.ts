import { z } from 'zod';
import { base64DecodedMax, decodeBase64Strict, fail } from '../base/index.js';
import { MAX_CIPHERTEXT_METADATA } from '../crypto/index.js';
import type { RequestContext } from '../domain/model.js';

/**
 * Wire shapes of the XKS requests, named exactly as the spec names them. Any structural
 * failure is a ValidationException; a well-formed value above this implementation's limits
 * (which are at or above the spec minimums) is an UnsupportedOperationException.
 * Unknown fields are ignored, as the spec requires.
 */
export interface XksLimits {
  /** Decoded bytes of plaintext / ciphertext. Spec minimum 4300. */
  maxPlaintextBytes: number;
  /** Decoded bytes of additionalAuthenticatedData. Spec minimum 8192. */
  maxAadBytes: number;
}

export const SPEC_MINIMUM_LIMITS: XksLimits = { maxPlaintextBytes: 4300, maxAadBytes: 8192 };
export const DEFAULT_LIMITS: XksLimits = { maxPlaintextBytes: 8192, maxAadBytes: 16384 };

const ARN_MAX = 2048;
const str = (max: number) => z.string().min(1).max(max);

const metadataBase = z.object({
  kmsRequestId: str(ARN_MAX),
  kmsOperation: str(256),
  awsPrincipalArn: str(ARN_MAX).optional(),
  kmsKeyArn: str(ARN_MAX).optional(),
  kmsViaService: str(ARN_MAX).optional(),
  awsSourceVpc: str(ARN_MAX).optional(),
  awsSourceVpce: str(ARN_MAX).optional(),
});

const healthBody = z.object({ requestMetadata: metadataBase });
const metadataBody = z.object({ requestMetadata: metadataBase.extend({ awsPrincipalArn: str(ARN_MAX) }) });
const cryptoMetadata = metadataBase.extend({ awsPrincipalArn: str(ARN_MAX), kmsKeyArn: str(ARN_MAX) });
// Base64 fields are bounded generously here; the exact limits are applied after decoding.
const b64 = z.string().max(1 << 20);
const encryptBody = z.object({
  requestMetadata: cryptoMetadata,
  plaintext: b64,
  encryptionAlgorithm: z.literal('AES_GCM'),
  additionalAuthenticatedData: b64.optional(),
  ciphertextDataIntegrityValueAlgorithm: z.literal('SHA_256').optional(),
});
const decryptBody = z.object({
  requestMetadata: cryptoMetadata,
  ciphertext: b64,
  initializationVector: b64,
  authenticationTag: b64,
  encryptionAlgorithm: z.literal('AES_GCM'),
  additionalAuthenticatedData: b64.optional(),
  ciphertextMetadata: b64.optional(),
});

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) {
    const i = r.error.issues[0]!;
    fail('ValidationFailed', `${i.path.join('.') || 'body'}: ${i.message}`);
  }
  return r.data;
}

function context(m: z.infer<typeof metadataBase>): RequestContext {
  return m;
}

/** Decodes a Base64 field; checks the encoded length against the limit before decoding. */
function bytes(field: string, text: string, opts: { max: number; tooLarge: 'unsupported' | 'invalid'; min?: number }): Buffer {
  if (base64DecodedMax(text.length) - 2 > opts.max) {
    fail(opts.tooLarge === 'unsupported' ? 'TooLarge' : 'ValidationFailed', `${field} is longer than ${opts.max} bytes`);
  }
  const b = decodeBase64Strict(text) ?? fail('ValidationFailed', `${field} is not valid standard Base64 with padding`);
  if (b.length > opts.max) fail(opts.tooLarge === 'unsupported' ? 'TooLarge' : 'ValidationFailed', `${field} is longer than ${opts.max} bytes`);
  if (b.length < (opts.min ?? 0)) fail('ValidationFailed', `${field} must not be empty`);
  return b;
}

export function parseHealth(body: unknown): RequestContext {
  return context(parse(healthBody, body).requestMetadata);
}

export function parseMetadata(body: unknown): RequestContext {
  return context(parse(metadataBody, body).requestMetadata);
}

export function parseEncrypt(body: unknown, limits: XksLimits) {
  const b = parse(encryptBody, body);
  return {
    ctx: context(b.requestMetadata),
    plaintext: bytes('plaintext', b.plaintext, { max: limits.maxPlaintextBytes, tooLarge: 'unsupported', min: 1 }),
    aad: b.additionalAuthenticatedData === undefined ? undefined : bytes('additionalAuthenticatedData', b.additionalAuthenticatedData, { max: limits.maxAadBytes, tooLarge: 'unsupported' }),
    wantCdiv: b.ciphertextDataIntegrityValueAlgorithm === 'SHA_256',
  };
}

export function parseDecrypt(body: unknown, limits: XksLimits) {
  const b = parse(decryptBody, body);
  const iv = bytes('initializationVector', b.initializationVector, { max: 16, tooLarge: 'invalid' });
  if (iv.length !== 12 && iv.length !== 16) fail('ValidationFailed', 'initializationVector must be 12 or 16 bytes');
  const tag = bytes('authenticationTag', b.authenticationTag, { max: 16, tooLarge: 'invalid' });
  if (tag.length !== 16) fail('ValidationFailed', 'authenticationTag must be 16 bytes');
  return {
    ctx: context(b.requestMetadata),
    ciphertext: bytes('ciphertext', b.ciphertext, { max: limits.maxPlaintextBytes, tooLarge: 'unsupported', min: 1 }),
    iv,
    tag,
    aad: b.additionalAuthenticatedData === undefined ? undefined : bytes('additionalAuthenticatedData', b.additionalAuthenticatedData, { max: limits.maxAadBytes, tooLarge: 'unsupported' }),
    metadata: b.ciphertextMetadata === undefined ? undefined : bytes('ciphertextMetadata', b.ciphertextMetadata, { max: MAX_CIPHERTEXT_METADATA, tooLarge: 'invalid' }),
  };
}
