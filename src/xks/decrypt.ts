import { encodeBase64 } from '../base/index.js';
import type { OperationDeps, XksOperationHandler } from './operation.js';
import { parseDecrypt } from './wire.js';

/** Decrypt: the plaintext leaves as Base64 and its buffer is zeroed at once. */
export function decryptOperation({ service, limits }: OperationDeps): XksOperationHandler {
  return async (json, ks, keyId, facts) => {
    const r = parseDecrypt(json, limits);
    facts.ctx = r.ctx;
    const plaintext = await service.decrypt(ks, keyId!, r.ctx, r, facts);
    const text = encodeBase64(plaintext);
    plaintext.fill(0);
    return { plaintext: text };
  };
}
