/**
 * KMS-side key material: 32 random or imported bytes, named by a KeyMaterialId (64 lower-case
 * hex) that KMS can recompute from the key and the material (kms-semantics §2.10). Here it is
 * an HMAC keyed with the material, so the id reveals nothing about it.
 */
import { createHmac } from 'node:crypto';

export function materialId(keyId: string, material: Uint8Array): string {
  return createHmac('sha256', material).update(`kms-sim key material id\0${keyId}`).digest('hex');
}
