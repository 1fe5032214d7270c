import { z } from 'zod';
import { fail } from '../../base/index.js';
import type { ClusterStatus } from '../../domain/index.js';
import { defineRoute, type AdminRoute } from '../route.js';
import { ERROR_RESPONSES } from '../views.js';

const ekmView = z.object({ id: z.string(), model: z.string(), healthStatus: z.enum(['ACTIVE', 'DEGRADED', 'UNAVAILABLE']) });

export const clusterStatusView = z.object({
  self: z.string(),
  fleetSize: z.number().int(),
  custody: z.object({ ok: z.boolean(), lastContactMs: z.number().optional(), leaseMs: z.number() }).optional(),
  scheduler: z.object({ holder: z.string().optional(), fence: z.number().optional() }),
  nodes: z.array(
    z.object({
      id: z.string(),
      address: z.string(),
      version: z.string(),
      startedAt: z.string(),
      ageMs: z.number(),
      live: z.boolean(),
      self: z.boolean(),
      scheduler: z.boolean(),
      ekm: z.array(ekmView),
    }),
  ),
});

/** GET /api/v1/cluster: every registered node with its last heartbeat, version and health. */
export function clusterRoutes(deps: { status: (() => Promise<ClusterStatus>) | undefined }): AdminRoute[] {
  return [
    defineRoute({
      id: 'cluster.status',
      method: 'GET',
      url: '/cluster',
      access: ['administrator', 'custodian', 'auditor'],
      tag: 'cluster',
      summary: 'The nodes of the cluster: address, version, start time, last heartbeat, EKM health, scheduler owner, and this node’s custody lease',
      responses: { 200: clusterStatusView, ...ERROR_RESPONSES },
      async handle() {
        if (!deps.status) fail('Unsupported', 'this server runs on SQLite: one node, no cluster registry (storage.type = "postgres" makes a cluster)');
        return deps.status();
      },
    }),
  ];
}
