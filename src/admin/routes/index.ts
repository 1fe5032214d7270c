import type { AdminRoute } from '../route.js';
import type { RouteDeps } from './deps.js';
import { approvalRoutes } from './approval-routes.js';
import { authRoutes } from './auth-routes.js';
import { keyRoutes } from './key-routes.js';
import { keyImportRoutes } from './key-import-routes.js';
import { keyStoreRoutes } from './keystore-routes.js';
import { metaRoutes } from './meta-routes.js';
import { settingsRoutes } from './settings-routes.js';
import { userRoutes } from './user-routes.js';
import { hsmRoutes } from './hsm-routes.js';
import { awsRoutes } from './aws-routes.js';
import { awsKeyRoutes } from './aws-key-routes.js';

export type { AdminServices, AwsAdminServices, MetricsSource, RouteDeps } from './deps.js';

/** The whole route table: what the server registers, documents and the role matrix test walks. */
export function buildRoutes(deps: RouteDeps): AdminRoute[] {
  return [
    ...authRoutes(deps),
    ...userRoutes(deps),
    ...settingsRoutes(deps),
    ...keyStoreRoutes(deps),
    ...keyImportRoutes(deps),
    ...keyRoutes(deps),
    ...approvalRoutes(deps),
    ...hsmRoutes(deps),
    ...awsRoutes(deps),
    ...awsKeyRoutes(deps),
    ...metaRoutes(deps),
  ];
}
