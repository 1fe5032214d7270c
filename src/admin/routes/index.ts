import type { Clock } from '../../base/index.js';
import type { AdminIdentityService, ApprovalService, KeyService, KeyStoreService } from '../../domain/index.js';
import type { AdminRoute } from '../route.js';
import { approvalRoutes } from './approval-routes.js';
import { authRoutes } from './auth-routes.js';
import { keyRoutes } from './key-routes.js';
import { keyStoreRoutes } from './keystore-routes.js';
import { metaRoutes } from './meta-routes.js';
import { settingsRoutes } from './settings-routes.js';
import { userRoutes } from './user-routes.js';

export interface AdminServices {
  identity: AdminIdentityService;
  approvals: ApprovalService;
  keyStores: KeyStoreService;
  keys: KeyService;
}

/** Prometheus text exposition (src/metrics). */
export interface MetricsSource {
  render(): Promise<string>;
}

export interface RouteDeps {
  services: AdminServices;
  clock: Clock;
  metrics?: MetricsSource | undefined;
  openapi: () => unknown;
}

/** The whole route table: what the server registers, documents and the role matrix test walks. */
export function buildRoutes(deps: RouteDeps): AdminRoute[] {
  return [
    ...authRoutes(deps),
    ...userRoutes(deps),
    ...settingsRoutes(deps),
    ...keyStoreRoutes(deps),
    ...keyRoutes(deps),
    ...approvalRoutes(deps),
    ...metaRoutes(deps),
  ];
}
