/**
 * Importing key material into EXTERNAL-origin keys (kms-semantics §2.10, §5.1):
 * GetParametersForImport (an RSA wrapping key pair and a token, valid 24 h, single use),
 * ImportKeyMaterial (RSA-OAEP or RSA + AES key wrap, 32-byte symmetric material, the
 * expiration model, re-import of the same material, new material for on-demand rotation),
 * and DeleteImportedKeyMaterial (immediate, reversible → PendingImport).
 */
import { constants, createDecipheriv, createPrivateKey, generateKeyPair, privateDecrypt, randomBytes, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { z } from 'zod';
import { wipe } from '../base/index.js';
import { kmsError } from './errors.js';
import { op, wireTime, type Call, type Operation } from './context.js';
import { materialId } from './key-material.js';
import { resolveKey } from './key-resolution.js';
import { allMaterialImported } from './key-state.js';
import { blob, oneOf, str } from './schemas.js';
import type { KmsKey } from './model.js';
import { specInfo, type SimKeySpec } from './key-specs.js';

const generateKeyPairAsync = promisify(generateKeyPair);
const DAY_MS = 86_400_000;
const PARAMETERS_VALID_MS = DAY_MS;
const MAX_VALID_TO_MS = 365 * DAY_MS;
const MATERIAL_BYTES = 32;

const WRAPPING_ALGORITHMS = ['RSAES_PKCS1_V1_5', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256', 'SM2PKE'] as const;
const WRAPPING_KEY_SPECS = ['RSA_2048', 'RSA_3072', 'RSA_4096', 'SM2'] as const;
const MODULUS_BITS: Record<string, number> = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 };

/** Import applies only to EXTERNAL-origin keys outside custom key stores. */
function requireImportable(key: KmsKey): void {
  if (key.customKeyStoreId !== undefined) throw kmsError('UnsupportedOperationException', `${key.arn} is in a custom key store; you cannot import key material into it.`);
  if (key.origin !== 'EXTERNAL') throw kmsError('UnsupportedOperationException', `${key.arn} origin is ${key.origin} which is not valid for this operation.`);
}

/** Why `material` cannot be the material of a key of `spec`, or undefined when it fits. */
function materialProblem(spec: SimKeySpec, material: Buffer): string | undefined {
  const info = specInfo(spec);
  if (info.kind === 'symmetric') return material.length === MATERIAL_BYTES ? undefined : `Key material for a SYMMETRIC_DEFAULT key must be exactly ${MATERIAL_BYTES} bytes.`;
  if (info.kind === 'hmac') return material.length === info.hmacBytes ? undefined : `Key material for a ${spec} key must be exactly ${info.hmacBytes} bytes.`;
  let k: KeyObject;
  try {
    k = createPrivateKey({ key: material, format: 'der', type: 'pkcs8' });
  } catch {
    return `Key material for a ${spec} key must be a DER-encoded PKCS#8 private key.`;
  }
  const d = k.asymmetricKeyDetails;
  const fits = info.kind === 'rsa' ? k.asymmetricKeyType === 'rsa' && d?.modulusLength === info.rsaBits : k.asymmetricKeyType === 'ec' && d?.namedCurve === info.curve;
  return fits ? undefined : `The private key is not a ${spec} key.`;
}

function unwrap(privateKey: KeyObject, algorithm: string, wrapped: Buffer): Buffer | undefined {
  const oaepHash = algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256';
  try {
    if (algorithm.startsWith('RSAES_OAEP')) {
      return privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, wrapped);
    }
    // RSA_AES_KEY_WRAP_*: RSA-OAEP(ephemeral AES key) || AES-KWP(RFC 5649, that key, material).
    const modulusBytes = (privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8;
    if (wrapped.length <= modulusBytes) return undefined;
    const aesKey = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, wrapped.subarray(0, modulusBytes));
    if (aesKey.length !== 32) return undefined;
    const d = createDecipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('A65959A6', 'hex'));
    const out = Buffer.concat([d.update(wrapped.subarray(modulusBytes)), d.final()]);
    wipe(aesKey);
    return out;
  } catch {
    return undefined;
  }
}

const getParametersForImport = op(
  z.object({ KeyId: str(1, 2048), WrappingAlgorithm: oneOf(WRAPPING_ALGORITHMS), WrappingKeySpec: oneOf(WRAPPING_KEY_SPECS) }),
  async (call, input) => {
    const key = resolveKey(call, input.KeyId, { aliases: false });
    call.entry.keyArn = key.arn;
    requireImportable(key);
    if (key.state === 'PendingDeletion') throw kmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    if (input.WrappingAlgorithm === 'RSAES_PKCS1_V1_5') throw kmsError('UnsupportedOperationException', 'The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported.');
    if (input.WrappingAlgorithm === 'SM2PKE' || input.WrappingKeySpec === 'SM2') throw kmsError('UnsupportedOperationException', 'SM2 wrapping is available only in China Regions.');
    const rs = call.rs;
    const now = call.sim.clock.now();
    const interval = call.sim.settings.importParametersIntervalMs;
    if (interval > 0 && rs.lastImportParametersAt !== undefined && now - rs.lastImportParametersAt < interval) {
      throw kmsError('ThrottlingException', 'Rate exceeded for GetParametersForImport.');
    }
    rs.lastImportParametersAt = now;
    const { publicKey, privateKey } = await generateKeyPairAsync('rsa', { modulusLength: MODULUS_BITS[input.WrappingKeySpec]!, publicExponent: 0x10001 });
    const token = randomBytes(48);
    const validTo = now + PARAMETERS_VALID_MS;
    rs.importTokens.set(token.toString('hex'), { keyId: key.id, privateKey, wrappingAlgorithm: input.WrappingAlgorithm, validTo });
    return {
      KeyId: key.arn,
      ImportToken: token.toString('base64'),
      PublicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      ParametersValidTo: wireTime(validTo),
    };
  },
);

function expiration(call: Call, model: 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE', validToSeconds: number | undefined): number | undefined {
  if (model === 'KEY_MATERIAL_DOES_NOT_EXPIRE') {
    if (validToSeconds !== undefined) throw kmsError('ValidationException', 'ValidTo is not allowed when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.');
    return undefined;
  }
  if (validToSeconds === undefined) throw kmsError('ValidationException', 'ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES (the default).');
  const validTo = Math.round(validToSeconds * 1000);
  const now = call.sim.clock.now();
  if (validTo <= now) throw kmsError('ValidationException', 'ValidTo must be in the future.');
  if (validTo > now + MAX_VALID_TO_MS) throw kmsError('ValidationException', 'ValidTo must be at most 365 days from now.');
  return validTo;
}

const importKeyMaterial = op(
  z.object({
    KeyId: str(1, 2048),
    ImportToken: blob(1, 6144),
    EncryptedKeyMaterial: blob(1, 6144),
    ValidTo: z.number().optional(),
    ExpirationModel: oneOf(['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE']).optional(),
    ImportType: oneOf(['NEW_KEY_MATERIAL', 'EXISTING_KEY_MATERIAL']).optional(),
    KeyMaterialDescription: str(0, 256, /^[a-zA-Z0-9:/_\s.-]*$/).optional(),
    KeyMaterialId: str(64, 64, /^[a-f0-9]+$/).optional(),
  }),
  async (call, input) => {
    const key = resolveKey(call, input.KeyId, { aliases: false });
    call.entry.keyArn = key.arn;
    requireImportable(key);
    if (key.state === 'PendingDeletion') throw kmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    const rs = call.rs;
    const tokenId = input.ImportToken.toString('hex');
    const params = rs.importTokens.get(tokenId);
    if (!params || params.keyId !== key.id) throw kmsError('InvalidImportTokenException', 'The import token is not valid for this KMS key.');
    if (params.validTo <= call.sim.clock.now()) throw kmsError('ExpiredImportTokenException', 'The import token has expired. Call GetParametersForImport again.');
    const model = input.ExpirationModel ?? 'KEY_MATERIAL_EXPIRES';
    const validTo = expiration(call, model, input.ValidTo);
    const importType = input.ImportType ?? (key.materials.length === 0 ? 'NEW_KEY_MATERIAL' : 'EXISTING_KEY_MATERIAL');
    if (importType === 'NEW_KEY_MATERIAL' && input.KeyMaterialId !== undefined) throw kmsError('ValidationException', 'KeyMaterialId is valid only with ImportType EXISTING_KEY_MATERIAL.');

    const material = unwrap(params.privateKey, params.wrappingAlgorithm, input.EncryptedKeyMaterial);
    if (!material) throw kmsError('InvalidCiphertextException', 'KMS could not unwrap the encrypted key material with the wrapping key of this import token.');
    const problem = materialProblem(key.keySpec, material);
    if (problem !== undefined) {
      wipe(material);
      throw kmsError('IncorrectKeyMaterialException', problem);
    }
    if (importType === 'NEW_KEY_MATERIAL' && key.materials.length > 0 && key.keySpec !== 'SYMMETRIC_DEFAULT') {
      wipe(material);
      throw kmsError('UnsupportedOperationException', `${key.arn} is a ${key.keySpec} key; only symmetric keys take new key material.`);
    }
    const id = materialId(key.id, material);
    const existing = key.materials.find((m) => m.id === id);

    if (importType === 'EXISTING_KEY_MATERIAL') {
      if (!existing || (input.KeyMaterialId !== undefined && input.KeyMaterialId !== id)) {
        wipe(material);
        throw kmsError('IncorrectKeyMaterialException', 'The key material is not the key material that was previously imported into this KMS key.');
      }
      existing.bytes?.fill(0);
      existing.bytes = material;
      existing.expirationModel = model;
      existing.validTo = validTo;
      if (input.KeyMaterialDescription !== undefined) existing.description = input.KeyMaterialDescription;
    } else {
      if (existing) {
        wipe(material);
        throw kmsError('IncorrectKeyMaterialException', 'This key material is already associated with the KMS key; import it with ImportType EXISTING_KEY_MATERIAL.');
      }
      const first = key.materials.length === 0;
      // A new material that is still pending rotation is replaced by a newer one.
      key.materials = key.materials.filter((m) => m.state !== 'PENDING_ROTATION');
      key.materials.push({
        id,
        bytes: material,
        state: first ? 'CURRENT' : 'PENDING_ROTATION',
        expirationModel: model,
        validTo,
        description: input.KeyMaterialDescription,
      });
    }
    if (key.materials.find((m) => m.state === 'CURRENT')?.id === id) key.expirationModel = model;
    rs.importTokens.delete(tokenId); // single use
    if (key.state === 'PendingImport' && allMaterialImported(key)) key.state = 'Enabled';
    return { KeyId: key.arn, KeyMaterialId: id };
  },
);

const deleteImportedKeyMaterial = op(z.object({ KeyId: str(1, 2048), KeyMaterialId: str(64, 64, /^[a-f0-9]+$/).optional() }), async (call, input) => {
  const key = resolveKey(call, input.KeyId, { aliases: false });
  call.entry.keyArn = key.arn;
  requireImportable(key);
  const target = input.KeyMaterialId !== undefined ? key.materials.find((m) => m.id === input.KeyMaterialId) : key.materials.find((m) => m.state === 'CURRENT');
  if (input.KeyMaterialId !== undefined && !target) throw kmsError('NotFoundException', `Key material ${input.KeyMaterialId} is not associated with ${key.arn}.`);
  if (!target) return { KeyId: key.arn };
  if (target.state === 'PENDING_ROTATION') {
    target.bytes?.fill(0);
    key.materials = key.materials.filter((m) => m !== target);
  } else if (target.bytes) {
    target.bytes.fill(0);
    target.bytes = undefined;
  }
  if (key.state !== 'PendingDeletion' && !allMaterialImported(key)) key.state = 'PendingImport';
  return { KeyId: key.arn, KeyMaterialId: target.id };
});

export const importOperations: Record<string, Operation> = {
  GetParametersForImport: getParametersForImport,
  ImportKeyMaterial: importKeyMaterial,
  DeleteImportedKeyMaterial: deleteImportedKeyMaterial,
};
