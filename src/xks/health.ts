import type { OperationDeps, XksOperationHandler } from './operation.js';
import { parseHealth } from './wire.js';

/** GetHealthStatus: the proxy fleet and the key backends as KMS sees them. */
export function healthOperation({ service }: OperationDeps): XksOperationHandler {
  return async (json, _ks, _keyId, facts) => {
    facts.ctx = parseHealth(json);
    const h = await service.health();
    return {
      xksProxyFleetSize: h.xksProxyFleetSize,
      xksProxyVendor: h.xksProxyVendor,
      xksProxyModel: h.xksProxyModel,
      ekmVendor: h.ekmVendor,
      ekmFleetDetails: h.ekmFleetDetails,
    };
  };
}
