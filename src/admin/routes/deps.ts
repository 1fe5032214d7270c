/** What the route modules are given: services, clock, metrics and the OpenAPI document. */
import type { Clock } from '../../base/index.js';
import type { AdminIdentityService, ApprovalService, AwsConnectionService, AwsKeyService, AwsXksService, KeyService, KeyStoreService } from '../../domain/index.js';

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

export interface AwsAdminServices {
  connections: Pick<AwsConnectionService, 'list' | 'get' | 'delete' | 'test' | 'sealPending'>;
  xks: Pick<AwsXksService, 'createKeyStore' | 'connect' | 'status' | 'createAwsKey' | 'keyLink' | 'listKeyLinks'>;
  /** AWS keys (bring your own key); absent: the AWS key routes answer Unsupported. */
  keys?: AwsKeyService | undefined;
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
