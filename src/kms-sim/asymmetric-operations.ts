/**
 * Operations on asymmetric and HMAC keys (kms-semantics §2.4): GetPublicKey, Sign, Verify,
 * GenerateMac and VerifyMac, and RSA encryption (RSAES_OAEP_SHA_1/256) used by Encrypt and
 * Decrypt. node:crypto does the work; the private key never leaves the simulator.
 * Sign/Verify take RAW messages (KMS hashes them); DIGEST and EXTERNAL_MU are refused as not
 * simulated.
 */
import { constants, createHmac, createPrivateKey, createPublicKey, privateDecrypt, publicEncrypt, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { kmsError } from './errors.js';
import { op, type Call, type Operation } from './context.js';
import { resolveKey } from './key-resolution.js';
import { algorithmFields, keyKind, RSA_ENCRYPTION, specInfo } from './key-specs.js';
import { currentMaterial, requireUsable } from './key-state.js';
import { blob, grantTokens, oneOf, str } from './schemas.js';
import type { KmsKey } from './model.js';

const MAX_MESSAGE = 4096;
const SIGNING_ALGORITHMS = [
  'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512', 'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512',
  'ECDSA_SHA_256', 'ECDSA_SHA_384', 'ECDSA_SHA_512', 'SM2DSA', 'ML_DSA_SHAKE_256',
] as const;
const MAC_ALGORITHMS = ['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512'] as const;

function note(call: Call, key: KmsKey): void {
  call.entry.keyArn ??= key.arn;
}

function dryRun(): never {
  throw kmsError('DryRunOperationException', 'The request would have succeeded, but the DryRun option is set.');
}

function privateKeyOf(key: KmsKey): KeyObject {
  const m = currentMaterial(key);
  if (!m?.bytes) throw kmsError('KMSInvalidStateException', `${key.arn} has no usable key material.`);
  return createPrivateKey({ key: m.bytes, format: 'der', type: 'pkcs8' });
}

function requireUsage(key: KmsKey, usage: KmsKey['keyUsage'], what: string): void {
  if (key.keyUsage !== usage) throw kmsError('InvalidKeyUsageException', `${key.arn} key usage is ${key.keyUsage} which is not valid for ${what}.`);
}

function hashOf(algorithm: string): string {
  return `sha${algorithm.slice(-3)}`;
}

function signOptions(key: KeyObject, algorithm: string) {
  if (algorithm.startsWith('RSASSA_PSS')) return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(algorithm.slice(-3)) / 8 };
  if (algorithm.startsWith('RSASSA_PKCS1')) return { key, padding: constants.RSA_PKCS1_PADDING };
  return { key, dsaEncoding: 'der' as const };
}

function requireSigningAlgorithm(key: KmsKey, algorithm: string): void {
  const allowed = specInfo(key.keySpec).signingAlgorithms ?? [];
  if (!allowed.includes(algorithm)) {
    throw kmsError('InvalidKeyUsageException', `Signing algorithm ${algorithm} is not valid for ${key.arn} (${key.keySpec}); it supports ${allowed.join(', ') || 'none'}.`);
  }
}

function requireRawMessage(type: string | undefined): void {
  if (type !== undefined && type !== 'RAW') throw kmsError('UnsupportedOperationException', `MessageType ${type} is not simulated; send the RAW message.`);
}

function requireMacAlgorithm(key: KmsKey, algorithm: string): void {
  const allowed = specInfo(key.keySpec).macAlgorithm;
  if (algorithm !== allowed) throw kmsError('InvalidKeyUsageException', `MAC algorithm ${algorithm} is not valid for ${key.arn} (${key.keySpec}); use ${allowed ?? 'none'}.`);
}

function mac(key: KmsKey, algorithm: string, message: Buffer): Buffer {
  const m = currentMaterial(key);
  if (!m?.bytes) throw kmsError('KMSInvalidStateException', `${key.arn} has no usable key material.`);
  return createHmac(`sha${algorithm.slice(-3)}`, m.bytes).update(message).digest();
}

/** RSA encryption for Encrypt on an RSA ENCRYPT_DECRYPT key. */
export function rsaEncrypt(key: KmsKey, algorithm: string | undefined, plaintext: Buffer): Buffer {
  if (algorithm === undefined || !(RSA_ENCRYPTION as readonly string[]).includes(algorithm)) {
    throw kmsError('InvalidKeyUsageException', `${key.arn} is an RSA key; specify EncryptionAlgorithm ${RSA_ENCRYPTION.join(' or ')}.`);
  }
  const publicKey = createPublicKey(privateKeyOf(key));
  try {
    return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256' }, plaintext);
  } catch {
    throw kmsError('ValidationException', `The plaintext is too long for ${key.keySpec} with ${algorithm}.`);
  }
}

/** RSA decryption for Decrypt with the KeyId of an RSA ENCRYPT_DECRYPT key. */
export function rsaDecrypt(key: KmsKey, algorithm: string | undefined, ciphertext: Buffer): Buffer {
  if (algorithm === undefined || !(RSA_ENCRYPTION as readonly string[]).includes(algorithm)) {
    throw kmsError('InvalidKeyUsageException', `${key.arn} is an RSA key; specify EncryptionAlgorithm ${RSA_ENCRYPTION.join(' or ')}.`);
  }
  try {
    return privateDecrypt({ key: privateKeyOf(key), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256' }, ciphertext);
  } catch {
    throw kmsError('InvalidCiphertextException', 'The ciphertext is not valid for this key and encryption algorithm.');
  }
}

export const asymmetricOperations: Record<string, Operation> = {
  GetPublicKey: op(z.object({ KeyId: str(1, 2048), GrantTokens: grantTokens().optional() }), async (call, input) => {
    const key = resolveKey(call, input.KeyId, { aliases: true });
    note(call, key);
    const kind = keyKind(key.keySpec);
    if (kind === 'symmetric' || kind === 'hmac') throw kmsError('UnsupportedOperationException', `${key.arn} is a ${kind === 'hmac' ? 'HMAC' : 'symmetric'} key; it has no public key.`);
    requireUsable(call.rs, key);
    const der = createPublicKey(privateKeyOf(key)).export({ type: 'spki', format: 'der' });
    return {
      KeyId: key.arn,
      PublicKey: der.toString('base64'),
      CustomerMasterKeySpec: key.keySpec,
      KeySpec: key.keySpec,
      KeyUsage: key.keyUsage,
      ...algorithmFields(key.keySpec, key.keyUsage),
    };
  }),

  Sign: op(
    z.object({
      KeyId: str(1, 2048),
      Message: blob(1, MAX_MESSAGE),
      MessageType: oneOf(['RAW', 'DIGEST', 'EXTERNAL_MU']).optional(),
      GrantTokens: grantTokens().optional(),
      SigningAlgorithm: oneOf(SIGNING_ALGORITHMS),
      DryRun: z.boolean().optional(),
    }),
    async (call, input) => {
      const key = resolveKey(call, input.KeyId, { aliases: true });
      note(call, key);
      requireUsable(call.rs, key);
      requireUsage(key, 'SIGN_VERIFY', 'Sign');
      requireSigningAlgorithm(key, input.SigningAlgorithm);
      requireRawMessage(input.MessageType);
      if (input.DryRun) dryRun();
      const signature = sign(hashOf(input.SigningAlgorithm), input.Message, signOptions(privateKeyOf(key), input.SigningAlgorithm));
      return { KeyId: key.arn, Signature: signature.toString('base64'), SigningAlgorithm: input.SigningAlgorithm };
    },
  ),

  Verify: op(
    z.object({
      KeyId: str(1, 2048),
      Message: blob(1, MAX_MESSAGE),
      MessageType: oneOf(['RAW', 'DIGEST', 'EXTERNAL_MU']).optional(),
      Signature: blob(1, 6144),
      SigningAlgorithm: oneOf(SIGNING_ALGORITHMS),
      GrantTokens: grantTokens().optional(),
      DryRun: z.boolean().optional(),
    }),
    async (call, input) => {
      const key = resolveKey(call, input.KeyId, { aliases: true });
      note(call, key);
      requireUsable(call.rs, key);
      requireUsage(key, 'SIGN_VERIFY', 'Verify');
      requireSigningAlgorithm(key, input.SigningAlgorithm);
      requireRawMessage(input.MessageType);
      if (input.DryRun) dryRun();
      let valid = false;
      try {
        valid = verify(hashOf(input.SigningAlgorithm), input.Message, signOptions(privateKeyOf(key), input.SigningAlgorithm), input.Signature);
      } catch {
        valid = false;
      }
      if (!valid) throw kmsError('KMSInvalidSignatureException', 'The signature verification failed.');
      return { KeyId: key.arn, SignatureValid: true, SigningAlgorithm: input.SigningAlgorithm };
    },
  ),

  GenerateMac: op(
    z.object({ Message: blob(1, MAX_MESSAGE), KeyId: str(1, 2048), MacAlgorithm: oneOf(MAC_ALGORITHMS), GrantTokens: grantTokens().optional(), DryRun: z.boolean().optional() }),
    async (call, input) => {
      const key = resolveKey(call, input.KeyId, { aliases: true });
      note(call, key);
      requireUsable(call.rs, key);
      requireUsage(key, 'GENERATE_VERIFY_MAC', 'GenerateMac');
      requireMacAlgorithm(key, input.MacAlgorithm);
      if (input.DryRun) dryRun();
      return { Mac: mac(key, input.MacAlgorithm, input.Message).toString('base64'), MacAlgorithm: input.MacAlgorithm, KeyId: key.arn };
    },
  ),

  VerifyMac: op(
    z.object({
      Message: blob(1, MAX_MESSAGE),
      KeyId: str(1, 2048),
      MacAlgorithm: oneOf(MAC_ALGORITHMS),
      Mac: blob(1, 6144),
      GrantTokens: grantTokens().optional(),
      DryRun: z.boolean().optional(),
    }),
    async (call, input) => {
      const key = resolveKey(call, input.KeyId, { aliases: true });
      note(call, key);
      requireUsable(call.rs, key);
      requireUsage(key, 'GENERATE_VERIFY_MAC', 'VerifyMac');
      requireMacAlgorithm(key, input.MacAlgorithm);
      if (input.DryRun) dryRun();
      const expected = mac(key, input.MacAlgorithm, input.Message);
      const ok = expected.length === input.Mac.length && timingSafeEqual(expected, input.Mac);
      if (!ok) throw kmsError('KMSInvalidMacException', 'The MAC verification failed.');
      return { KeyId: key.arn, MacValid: true, MacAlgorithm: input.MacAlgorithm };
    },
  ),
};
