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
import { hsmRoutes } from './hsm-routes.js';
import { awsRoutes, type AwsAdminServices } from './aws-routes.js';

export interface AdminServices {
  identity: AdminIdentityService;
  approvals: ApprovalService;
  keyStores: KeyStoreService;
  keys: KeyService;
  /** The PKCS#11 token, when the server has an [hsm] section. */
  hsm?: { status(): Promise<object>; setPin(pin: string): Promise<void> } | undefined;
  /** Import of the AWS sample proxy's settings.toml (key stores, credentials, HSM keys). */
  importSampleProxyConfig?(text: string, opts: { dryRun: boolean }): Promise<object>;
  /** The AWS plane (connections, the XKS side in AWS). */
  aws?: AwsAdminServices | undefined;
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
    ...hsmRoutes(deps),
    ...awsRoutes(deps),
    ...metaRoutes(deps),
  ];
}
