import { randomUUID } from 'node:crypto';
import { createXksTransport, type XksTarget } from './xks-transport.js';

export interface XksHealthProbe {
  status: number | null;
  healthStatus?: string[];
  fleetSize?: number;
  error?: string;
}

/**
 * One real, SigV4-signed GetHealthStatus call, as KMS makes it (`keyhold status`). The
 * target's secret signs the call only: it is never printed or stored.
 */
export async function probeXksHealth(target: XksTarget, ca: Buffer): Promise<XksHealthProbe> {
  const transport = createXksTransport({ ca, timeoutMs: 5000 });
  try {
    const r = await transport.post(target, '/health', { requestMetadata: { kmsRequestId: randomUUID(), kmsOperation: 'KmsHealthCheck' } });
    const o = r.outcome;
    if (o.kind !== 'response') return { status: null, error: `${o.kind}${'code' in o ? ` ${o.code}` : ''}` };
    const body = (o.json ?? {}) as { xksProxyFleetSize?: number; ekmFleetDetails?: { healthStatus: string }[]; errorName?: string };
    if (o.status !== 200) return { status: o.status, error: body.errorName ?? 'error' };
    return { status: 200, healthStatus: (body.ekmFleetDetails ?? []).map((d) => d.healthStatus), ...(body.xksProxyFleetSize !== undefined ? { fleetSize: body.xksProxyFleetSize } : {}) };
  } finally {
    transport.close();
  }
}
