/**
 * Encrypt, Decrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext, ReEncrypt and
 * GenerateRandom (kms-semantics §2.11). Native keys encrypt under their KMS-side material.
 * Keys in an external key store use KMS's double encryption (§1.1): the inner layer under
 * the key's HBK, then the proxy's Encrypt over that inner ciphertext, with a CDIV check;
 * every proxy failure becomes KMSInvalidStateException (§1.5).
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { gcmDecrypt, gcmEncrypt } from '../crypto/index.js';
import { wipe } from '../base/index.js';
import { kmsError } from './errors.js';
import { op, type Call, type Operation } from './context.js';
import { requireStore } from './custom-key-stores.js';
import {
  decodeBlob,
  encodeHeader,
  encodeNativeBlob,
  encodeXksBlob,
  FORMAT_NATIVE,
  FORMAT_XKS,
  innerAad,
  packInner,
  proxyAad,
  unpackInner,
} from './ciphertext-blob.js';
import { resolveKey } from './key-resolution.js';
import { currentMaterial, requireUsable } from './key-state.js';
import { cryptoProxyError } from './proxy-outcomes.js';
import { keyRequestMetadata, proxyCall } from './proxy-calls.js';
import { blob, encryptionContext, grantTokens, int, oneOf, str } from './schemas.js';
import type { KmsKey } from './model.js';
import { rsaDecrypt, rsaEncrypt } from './asymmetric-operations.js';

const MAX_PLAINTEXT = 4096;
const MAX_CIPHERTEXT = 6144;
const ENCRYPTION_ALGORITHMS = ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'] as const;

const recipient = () => z.object({ KeyEncryptionAlgorithm: z.string().optional(), AttestationDocument: z.string().optional() });

function checkAlgorithm(key: KmsKey, algorithm: string | undefined): void {
  requireSymmetric(key);
  if (algorithm !== undefined && algorithm !== 'SYMMETRIC_DEFAULT') {
    throw kmsError('InvalidKeyUsageException', `${key.arn} is a symmetric key; the encryption algorithm ${algorithm} is not valid for it.`);
  }
}

/** Symmetric operations on RSA, ECC or HMAC keys are InvalidKeyUsageException in KMS. */
function requireSymmetric(key: KmsKey): void {
  if (key.keySpec !== 'SYMMETRIC_DEFAULT') throw kmsError('InvalidKeyUsageException', `${key.arn} is a ${key.keySpec} key with usage ${key.keyUsage}; this operation needs a symmetric encryption key.`);
}

function isRsaEncryptionKey(key: KmsKey): boolean {
  return key.keySpec.startsWith('RSA_') && key.keyUsage === 'ENCRYPT_DECRYPT';
}

function rejectRecipient(r: unknown): void {
  if (r !== undefined) throw kmsError('UnsupportedOperationException', 'This KMS simulator does not support Recipient (Nitro Enclaves attestation).');
}

function dryRun(): never {
  throw kmsError('DryRunOperationException', 'The request would have succeeded, but the DryRun option is set.');
}

function noteKey(call: Call, key: KmsKey): void {
  call.entry.keyArn ??= key.arn;
  if (key.customKeyStoreId !== undefined) {
    call.entry.customKeyStoreId ??= key.customKeyStoreId;
    call.entry.xksKeyId ??= key.xksKeyId;
  }
}

interface Sealed {
  blob: Buffer;
  /** KeyMaterialId for native keys. */
  materialId: string | undefined;
}

/** Encrypts under `key`; the caller has checked the key state. */
async function sealUnder(call: Call, key: KmsKey, plaintext: Buffer, ec: Record<string, string> | undefined, kmsOperation: string): Promise<Sealed> {
  const material = currentMaterial(key);
  if (!material?.bytes) throw kmsError('KMSInvalidStateException', `${key.arn} has no usable key material.`);
  if (key.origin !== 'EXTERNAL_KEY_STORE') {
    const header = encodeHeader(FORMAT_NATIVE, key.id, Buffer.from(material.id, 'hex'));
    const out = gcmEncrypt(material.bytes, plaintext, innerAad(header, ec));
    return { blob: encodeNativeBlob(header, out.iv, out.tag, out.ciphertext), materialId: material.id };
  }
  const store = requireStore(call, key.customKeyStoreId!);
  const header = encodeHeader(FORMAT_XKS, key.id, Buffer.from(material.id, 'hex'));
  const out = gcmEncrypt(material.bytes, plaintext, innerAad(header, ec));
  const inner = packInner(out.iv, out.ciphertext, out.tag);
  const r = await call.sim.proxy.encrypt(proxyCall(call, store, keyRequestMetadata(call, kmsOperation, key)), key.xksKeyId!, inner, proxyAad(header, ec));
  if (!r.ok) throw cryptoProxyError(r.failure, key.arn, 'encrypt');
  return { blob: encodeXksBlob(header, r.value), materialId: undefined };
}

interface Opened {
  key: KmsKey;
  plaintext: Buffer;
  materialId: string | undefined;
}

const invalidCiphertext = () => kmsError('InvalidCiphertextException', 'The ciphertext is not valid, or was not encrypted under this key and encryption context.');

/**
 * Finds the key a blob names, checks it against `keyRef` and its state, then decrypts.
 * `dry` stops before any decryption.
 */
async function openBlob(call: Call, ciphertext: Buffer, ec: Record<string, string> | undefined, keyRef: string | undefined, kmsOperation: string, dry: boolean): Promise<Opened> {
  const requested = keyRef === undefined ? undefined : resolveKey(call, keyRef, { aliases: true });
  const parsed = decodeBlob(ciphertext);
  if (!parsed) throw invalidCiphertext();
  const header = 'native' in parsed ? parsed.native.header : parsed.xks.header;
  if (requested && requested.id !== header.keyId) {
    throw kmsError('IncorrectKeyException', `The ciphertext was not encrypted under ${requested.arn}.`);
  }
  const key = call.rs.keys.get(header.keyId);
  if (!key) throw invalidCiphertext();
  noteKey(call, key);
  const isXks = key.origin === 'EXTERNAL_KEY_STORE';
  if ((header.format === FORMAT_XKS) !== isXks) throw invalidCiphertext();
  requireUsable(call.rs, key);
  const material = key.materials.find((m) => m.id === header.materialId.toString('hex'));
  if (!material) throw invalidCiphertext();
  if (!material.bytes) throw kmsError('KMSInvalidStateException', `${key.arn} is pending import.`);
  if (dry) dryRun();
  const aad = innerAad(header.bytes, ec);

  if ('native' in parsed) {
    const pt = gcmDecrypt(material.bytes, parsed.native.nonce, parsed.native.ciphertext, parsed.native.tag, aad);
    if (!pt) throw invalidCiphertext();
    return { key, plaintext: pt, materialId: material.id };
  }

  const x = parsed.xks;
  const store = requireStore(call, key.customKeyStoreId!);
  const r = await call.sim.proxy.decrypt(
    proxyCall(call, store, keyRequestMetadata(call, kmsOperation, key)),
    key.xksKeyId!,
    { ciphertext: x.proxyCiphertext, iv: x.proxyIv, tag: x.proxyTag, metadata: x.metadata },
    proxyAad(header.bytes, ec),
  );
  if (!r.ok) throw cryptoProxyError(r.failure, key.arn, 'decrypt');
  const inner = unpackInner(r.value);
  const pt = inner ? gcmDecrypt(material.bytes, inner.nonce, inner.ciphertext, inner.tag, aad) : undefined;
  wipe(r.value);
  // The proxy said yes but the inner layer does not open: KMS cannot use the answer.
  if (!pt) throw kmsError('KMSInvalidStateException', `${key.arn}: KMS cannot interpret the response from the external key store proxy.`);
  return { key, plaintext: pt, materialId: undefined };
}

function withMaterial(field: string, id: string | undefined): Record<string, string> {
  return id === undefined ? {} : { [field]: id };
}

const encrypt = op(
  z.object({
    KeyId: str(1, 2048),
    Plaintext: blob(1, MAX_PLAINTEXT),
    EncryptionContext: encryptionContext().optional(),
    GrantTokens: grantTokens().optional(),
    EncryptionAlgorithm: oneOf(ENCRYPTION_ALGORITHMS).optional(),
    DryRun: z.boolean().optional(),
  }),
  async (call, input) => {
    const key = resolveKey(call, input.KeyId, { aliases: true });
    noteKey(call, key);
    requireUsable(call.rs, key);
    if (isRsaEncryptionKey(key)) {
      const ct = rsaEncrypt(key, input.EncryptionAlgorithm, input.Plaintext);
      if (input.DryRun) dryRun();
      return { CiphertextBlob: ct.toString('base64'), KeyId: key.arn, EncryptionAlgorithm: input.EncryptionAlgorithm };
    }
    checkAlgorithm(key, input.EncryptionAlgorithm);
    if (input.DryRun) dryRun();
    const sealed = await sealUnder(call, key, input.Plaintext, input.EncryptionContext, 'Encrypt');
    return { CiphertextBlob: sealed.blob.toString('base64'), KeyId: key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  },
);

const decrypt = op(
  z.object({
    CiphertextBlob: blob(1, MAX_CIPHERTEXT),
    EncryptionContext: encryptionContext().optional(),
    GrantTokens: grantTokens().optional(),
    KeyId: str(1, 2048).optional(),
    EncryptionAlgorithm: oneOf(ENCRYPTION_ALGORITHMS).optional(),
    Recipient: recipient().optional(),
    DryRun: z.boolean().optional(),
  }),
  async (call, input) => {
    rejectRecipient(input.Recipient);
    // Asymmetric ciphertexts carry no key id: Decrypt needs the KeyId of the RSA key.
    const named = input.KeyId !== undefined ? resolveKey(call, input.KeyId, { aliases: true }) : undefined;
    if (named && isRsaEncryptionKey(named)) {
      noteKey(call, named);
      requireUsable(call.rs, named);
      if (input.DryRun) dryRun();
      const pt = rsaDecrypt(named, input.EncryptionAlgorithm, input.CiphertextBlob);
      const out = { Plaintext: pt.toString('base64'), KeyId: named.arn, EncryptionAlgorithm: input.EncryptionAlgorithm };
      wipe(pt);
      return out;
    }
    if (named) requireSymmetric(named);
    if (input.EncryptionAlgorithm !== undefined && input.EncryptionAlgorithm !== 'SYMMETRIC_DEFAULT') {
      throw kmsError('IncorrectKeyException', `The ciphertext was not produced with the encryption algorithm ${input.EncryptionAlgorithm}.`);
    }
    const opened = await openBlob(call, input.CiphertextBlob, input.EncryptionContext, input.KeyId, 'Decrypt', input.DryRun === true);
    const out = { Plaintext: opened.plaintext.toString('base64'), KeyId: opened.key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT', ...withMaterial('KeyMaterialId', opened.materialId) };
    wipe(opened.plaintext);
    return out;
  },
);

function dataKeyOperation(withPlaintext: boolean, kmsOperation: string): Operation {
  return op(
    z.object({
      KeyId: str(1, 2048),
      EncryptionContext: encryptionContext().optional(),
      NumberOfBytes: int(1, 1024).optional(),
      KeySpec: oneOf(['AES_256', 'AES_128']).optional(),
      GrantTokens: grantTokens().optional(),
      Recipient: recipient().optional(),
      DryRun: z.boolean().optional(),
    }),
    async (call, input) => {
      if (!withPlaintext && input.Recipient !== undefined) throw kmsError('ValidationException', 'Recipient is not a parameter of GenerateDataKeyWithoutPlaintext.');
      rejectRecipient(input.Recipient);
      if ((input.KeySpec === undefined) === (input.NumberOfBytes === undefined)) {
        throw kmsError('ValidationException', 'Specify exactly one of KeySpec or NumberOfBytes.');
      }
      const key = resolveKey(call, input.KeyId, { aliases: true });
      noteKey(call, key);
      requireUsable(call.rs, key);
      requireSymmetric(key);
      if (input.DryRun) dryRun();
      const size = input.NumberOfBytes ?? (input.KeySpec === 'AES_128' ? 16 : 32);
      const dataKey = randomBytes(size);
      try {
        const sealed = await sealUnder(call, key, dataKey, input.EncryptionContext, kmsOperation);
        return {
          CiphertextBlob: sealed.blob.toString('base64'),
          ...(withPlaintext ? { Plaintext: dataKey.toString('base64') } : {}),
          KeyId: key.arn,
          ...withMaterial('KeyMaterialId', sealed.materialId),
        };
      } finally {
        wipe(dataKey);
      }
    },
  );
}

const reEncrypt = op(
  z.object({
    CiphertextBlob: blob(1, MAX_CIPHERTEXT),
    SourceEncryptionContext: encryptionContext().optional(),
    SourceKeyId: str(1, 2048).optional(),
    DestinationKeyId: str(1, 2048),
    DestinationEncryptionContext: encryptionContext().optional(),
    SourceEncryptionAlgorithm: oneOf(ENCRYPTION_ALGORITHMS).optional(),
    DestinationEncryptionAlgorithm: oneOf(ENCRYPTION_ALGORITHMS).optional(),
    GrantTokens: grantTokens().optional(),
    DryRun: z.boolean().optional(),
  }),
  async (call, input) => {
    const destination = resolveKey(call, input.DestinationKeyId, { aliases: true });
    if (input.SourceEncryptionAlgorithm !== undefined && input.SourceEncryptionAlgorithm !== 'SYMMETRIC_DEFAULT') {
      throw kmsError('IncorrectKeyException', `The ciphertext was not produced with the encryption algorithm ${input.SourceEncryptionAlgorithm}.`);
    }
    checkAlgorithm(destination, input.DestinationEncryptionAlgorithm);
    if (input.DryRun) {
      requireUsable(call.rs, destination);
      await openBlob(call, input.CiphertextBlob, input.SourceEncryptionContext, input.SourceKeyId, 'ReEncrypt', true); // throws DryRunOperationException
    }
    const opened = await openBlob(call, input.CiphertextBlob, input.SourceEncryptionContext, input.SourceKeyId, 'ReEncrypt', false);
    try {
      requireUsable(call.rs, destination);
      const sealed = await sealUnder(call, destination, opened.plaintext, input.DestinationEncryptionContext, 'ReEncrypt');
      return {
        CiphertextBlob: sealed.blob.toString('base64'),
        SourceKeyId: opened.key.arn,
        KeyId: destination.arn,
        SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        ...withMaterial('SourceKeyMaterialId', opened.materialId),
        ...withMaterial('DestinationKeyMaterialId', sealed.materialId),
      };
    } finally {
      wipe(opened.plaintext);
    }
  },
);

const generateRandom = op(
  z.object({ NumberOfBytes: int(1, 1024).optional(), CustomKeyStoreId: str(1, 64).optional(), Recipient: recipient().optional() }),
  async (call, input) => {
    rejectRecipient(input.Recipient);
    if (input.CustomKeyStoreId !== undefined) {
      requireStore(call, input.CustomKeyStoreId);
      throw kmsError('UnsupportedOperationException', 'GenerateRandom is not supported for an external key store.');
    }
    if (input.NumberOfBytes === undefined) throw kmsError('ValidationException', 'NumberOfBytes is required.');
    return { Plaintext: randomBytes(input.NumberOfBytes).toString('base64') };
  },
);

export const cryptoOperations: Record<string, Operation> = {
  Encrypt: encrypt,
  Decrypt: decrypt,
  GenerateDataKey: dataKeyOperation(true, 'GenerateDataKey'),
  GenerateDataKeyWithoutPlaintext: dataKeyOperation(false, 'GenerateDataKeyWithoutPlaintext'),
  ReEncrypt: reEncrypt,
  GenerateRandom: generateRandom,
};
