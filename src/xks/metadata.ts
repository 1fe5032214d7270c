import type { OperationDeps, XksOperationHandler } from './operation.js';
import { parseMetadata } from './wire.js';

/** GetKeyMetadata: key spec, usage and state of one external key. */
export function metadataOperation({ service }: OperationDeps): XksOperationHandler {
  return async (json, ks, keyId, facts) => {
    const ctx = (facts.ctx = parseMetadata(json));
    return service.getKeyMetadata(ks, keyId!, ctx, facts);
  };
}
