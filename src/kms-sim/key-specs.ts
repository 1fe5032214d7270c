/**
 * Key specs the simulator makes, and what each allows (kms-semantics §2.4): symmetric
 * AES-256, RSA 2048/3072/4096 for encryption or signing, the NIST and secp256k1 curves for
 * signing, and HMAC keys. Asymmetric material is kept as a DER PKCS#8 private key, HMAC
 * material as raw bytes of the spec's length; node:crypto makes both.
 */
import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { kmsError } from './errors.js';

const generateKeyPairAsync = promisify(generateKeyPair);

export type SimKeySpec =
  | 'SYMMETRIC_DEFAULT'
  | 'RSA_2048'
  | 'RSA_3072'
  | 'RSA_4096'
  | 'ECC_NIST_P256'
  | 'ECC_NIST_P384'
  | 'ECC_NIST_P521'
  | 'ECC_SECG_P256K1'
  | 'HMAC_224'
  | 'HMAC_256'
  | 'HMAC_384'
  | 'HMAC_512';

export type SimKeyUsage = 'ENCRYPT_DECRYPT' | 'SIGN_VERIFY' | 'GENERATE_VERIFY_MAC';

export type KeyKind = 'symmetric' | 'rsa' | 'ecc' | 'hmac';

interface SpecInfo {
  kind: KeyKind;
  usages: readonly SimKeyUsage[];
  /** RSA modulus bits, or the node:crypto curve name. */
  rsaBits?: number;
  curve?: string;
  /** HMAC: material length in bytes and the one MAC algorithm. */
  hmacBytes?: number;
  macAlgorithm?: string;
  signingAlgorithms?: readonly string[];
}

const RSA_SIGNING = ['RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512', 'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512'] as const;
export const RSA_ENCRYPTION = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] as const;

const SPECS: Record<SimKeySpec, SpecInfo> = {
  SYMMETRIC_DEFAULT: { kind: 'symmetric', usages: ['ENCRYPT_DECRYPT'] },
  RSA_2048: { kind: 'rsa', usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'], rsaBits: 2048, signingAlgorithms: RSA_SIGNING },
  RSA_3072: { kind: 'rsa', usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'], rsaBits: 3072, signingAlgorithms: RSA_SIGNING },
  RSA_4096: { kind: 'rsa', usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'], rsaBits: 4096, signingAlgorithms: RSA_SIGNING },
  ECC_NIST_P256: { kind: 'ecc', usages: ['SIGN_VERIFY'], curve: 'prime256v1', signingAlgorithms: ['ECDSA_SHA_256'] },
  ECC_NIST_P384: { kind: 'ecc', usages: ['SIGN_VERIFY'], curve: 'secp384r1', signingAlgorithms: ['ECDSA_SHA_384'] },
  ECC_NIST_P521: { kind: 'ecc', usages: ['SIGN_VERIFY'], curve: 'secp521r1', signingAlgorithms: ['ECDSA_SHA_512'] },
  ECC_SECG_P256K1: { kind: 'ecc', usages: ['SIGN_VERIFY'], curve: 'secp256k1', signingAlgorithms: ['ECDSA_SHA_256'] },
  HMAC_224: { kind: 'hmac', usages: ['GENERATE_VERIFY_MAC'], hmacBytes: 28, macAlgorithm: 'HMAC_SHA_224' },
  HMAC_256: { kind: 'hmac', usages: ['GENERATE_VERIFY_MAC'], hmacBytes: 32, macAlgorithm: 'HMAC_SHA_256' },
  HMAC_384: { kind: 'hmac', usages: ['GENERATE_VERIFY_MAC'], hmacBytes: 48, macAlgorithm: 'HMAC_SHA_384' },
  HMAC_512: { kind: 'hmac', usages: ['GENERATE_VERIFY_MAC'], hmacBytes: 64, macAlgorithm: 'HMAC_SHA_512' },
};

export function isSimulatedSpec(spec: string): spec is SimKeySpec {
  return Object.hasOwn(SPECS, spec);
}

export function specInfo(spec: SimKeySpec): SpecInfo {
  return SPECS[spec];
}

export function keyKind(spec: SimKeySpec): KeyKind {
  return SPECS[spec].kind;
}

/**
 * The usage a CreateKey gets: KMS defaults to ENCRYPT_DECRYPT, which only symmetric and RSA
 * keys allow; any other pairing is a ValidationException.
 */
export function checkSpecUsage(spec: SimKeySpec, usage: string): SimKeyUsage {
  const info = SPECS[spec];
  if (!(info.usages as readonly string[]).includes(usage)) {
    throw kmsError('ValidationException', `KeyUsage ${usage} is not compatible with KeySpec ${spec}. Valid usages: ${info.usages.join(', ')}.`);
  }
  return usage as SimKeyUsage;
}

/** New material for a key of this spec: 32 random bytes, HMAC bytes, or a DER PKCS#8 key. */
export async function generateMaterial(spec: SimKeySpec): Promise<Buffer> {
  const info = SPECS[spec];
  if (info.kind === 'symmetric') return randomBytes(32);
  if (info.kind === 'hmac') return randomBytes(info.hmacBytes!);
  const pair = info.kind === 'rsa'
    ? await generateKeyPairAsync('rsa', { modulusLength: info.rsaBits!, publicExponent: 0x10001 })
    : await generateKeyPairAsync('ec', { namedCurve: info.curve! });
  return pair.privateKey.export({ type: 'pkcs8', format: 'der' });
}

/** The KeyMetadata / GetPublicKey fields that describe what the key can do. */
export function algorithmFields(spec: SimKeySpec, usage: SimKeyUsage): Record<string, string[]> {
  const info = SPECS[spec];
  if (info.kind === 'symmetric') return { EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'] };
  if (info.kind === 'hmac') return { MacAlgorithms: [info.macAlgorithm!] };
  if (usage === 'ENCRYPT_DECRYPT') return { EncryptionAlgorithms: [...RSA_ENCRYPTION] };
  return { SigningAlgorithms: [...info.signingAlgorithms!] };
}
