import { z } from 'zod';
import type { HealthReport } from '../../domain/index.js';
import { defineRoute, type AdminRoute } from '../route.js';
import { ERROR_RESPONSES } from '../views.js';

const healthStatus = z.enum(['ACTIVE', 'DEGRADED', 'UNAVAILABLE']);

const statusView = z
  .object({
    health: z.object({
      kmsView: healthStatus.describe('what KMS concludes from GetHealthStatus: ACTIVE when every backend is, UNAVAILABLE when none is, else DEGRADED'),
      xksProxyFleetSize: z.number().int(),
      xksProxyVendor: z.string(),
      xksProxyModel: z.string(),
      ekmVendor: z.string(),
      ekmFleetDetails: z.array(z.object({ id: z.string(), model: z.string(), healthStatus })),
      checkedAt: z.string(),
    }),
    certificate: z.object({ notAfter: z.string().nullable(), daysToExpire: z.number().nullable() }).describe('the XKS listener certificate KMS connects to'),
    hsm: z.object({ configured: z.boolean() }).describe('whether the server has an [hsm] section (GET /hsm shows the token)'),
  })
  .meta({ id: 'ServerStatus' });

/**
 * The server's state as KMS sees it, for the console's overview: the deep health check that
 * GetHealthStatus answers and the XKS certificate's expiry. Nothing secret; every role.
 */
export function statusRoutes(deps: { health: () => Promise<HealthReport>; certificateNotAfter: () => Date | undefined; hsmConfigured: boolean; now: () => number }): AdminRoute[] {
  return [
    defineRoute({
      id: 'status.get',
      method: 'GET',
      url: '/status',
      access: ['administrator', 'custodian', 'auditor'],
      tag: 'meta',
      summary: 'Health as KMS sees it (GetHealthStatus) and the XKS certificate expiry',
      responses: { 200: statusView, ...ERROR_RESPONSES },
      async handle() {
        const r = await deps.health();
        const statuses = r.ekmFleetDetails.map((e) => e.healthStatus);
        const kmsView = statuses.length > 0 && statuses.every((s) => s === 'ACTIVE') ? 'ACTIVE' : statuses.some((s) => s !== 'UNAVAILABLE') ? 'DEGRADED' : 'UNAVAILABLE';
        const notAfter = deps.certificateNotAfter();
        return {
          health: {
            kmsView,
            xksProxyFleetSize: r.xksProxyFleetSize,
            xksProxyVendor: r.xksProxyVendor,
            xksProxyModel: r.xksProxyModel,
            ekmVendor: r.ekmVendor,
            ekmFleetDetails: r.ekmFleetDetails,
            checkedAt: new Date(r.checkedAt).toISOString(),
          },
          certificate: {
            notAfter: notAfter ? notAfter.toISOString() : null,
            daysToExpire: notAfter ? Math.round(((notAfter.getTime() - deps.now()) / 86_400_000) * 100) / 100 : null,
          },
          hsm: { configured: deps.hsmConfigured },
        };
      },
    }),
  ];
}
