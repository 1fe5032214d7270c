import { encodeBase64 } from '../base/index.js';
import type { OperationDeps, XksOperationHandler } from './operation.js';
import { parseEncrypt } from './wire.js';

/** Encrypt: AES-256-GCM under the key's current version, with a CDIV when asked. */
export function encryptOperation({ service, limits }: OperationDeps): XksOperationHandler {
  return async (json, ks, keyId, facts) => {
    const r = parseEncrypt(json, limits);
    facts.ctx = r.ctx;
    const out = await service.encrypt(ks, keyId!, r.ctx, r, facts);
    return {
      ciphertext: encodeBase64(out.ciphertext),
      initializationVector: encodeBase64(out.iv),
      authenticationTag: encodeBase64(out.tag),
      ciphertextMetadata: encodeBase64(out.metadata),
      ...(out.cdiv ? { ciphertextDataIntegrityValue: encodeBase64(out.cdiv) } : {}),
    };
  };
}
