/**
 * Builds the proxy call for a key store and a KMS request: the SigV4 target (endpoint, path,
 * Region and the unsealed credential) and the requestMetadata KMS sends (xks-spec §5).
 */
import type { Call, SimServices } from './context.js';
import type { CustomKeyStore, KmsKey } from './model.js';
import type { ProxyCall, RequestMetadata } from './xks-proxy.js';

export function proxyTarget(sim: SimServices, store: CustomKeyStore) {
  return {
    uriEndpoint: store.uriEndpoint,
    uriPath: store.uriPath,
    region: store.region,
    accessKeyId: store.accessKeyId,
    secretAccessKey: sim.secrets.unseal(store.sealedSecret),
  };
}

/** requestMetadata for a key operation on behalf of the caller. */
export function keyRequestMetadata(call: Call, kmsOperation: string, key: KmsKey | undefined): RequestMetadata {
  const c = call.caller;
  return {
    awsPrincipalArn: c.principalArn,
    ...(key ? { kmsKeyArn: key.arn } : {}),
    kmsOperation,
    kmsRequestId: call.requestId,
    ...(c.viaService !== undefined ? { kmsViaService: c.viaService } : {}),
    ...(c.sourceVpc !== undefined ? { awsSourceVpc: c.sourceVpc } : {}),
    ...(c.sourceVpce !== undefined ? { awsSourceVpce: c.sourceVpce } : {}),
  };
}

export function proxyCall(call: Call, store: CustomKeyStore, metadata: RequestMetadata): ProxyCall {
  return {
    target: proxyTarget(call.sim, store),
    customKeyStoreId: store.id,
    metadata,
    record: (r) => call.entry.proxyCalls.push(r),
  };
}
