import type { AdminActionRecord, AdminAuditSink, AdminEvent } from '../domain/index.js';

/** The audit log's entry point for admin actions (AuditService.admin), as this module needs it. */
export interface AdminEventRecorder {
  admin(event: AdminEvent): Promise<unknown>;
}

/** An admin API or scheduler action as an audit log event. */
export function toAdminEvent(r: AdminActionRecord): AdminEvent {
  const target = r.target ?? r.path ?? r.action;
  const first = target.split('/')[0]!;
  const change = r.change === null || r.change === undefined ? {} : typeof r.change === 'object' && !Array.isArray(r.change) ? (r.change as Record<string, unknown>) : { value: r.change };
  return {
    actor: r.actor.username ?? 'anonymous',
    source: r.actor.via === 'system' ? 'scheduler' : 'api',
    address: r.sourceIp ?? undefined,
    action: r.action,
    target,
    keyStore: r.action.startsWith('keystores.') ? first : undefined,
    keyId: r.action.startsWith('keys.') ? first : undefined,
    outcome: r.outcome === 'ok' || r.outcome === 'pending-approval' ? 'ok' : 'error',
    errorName: r.errorCode ?? (r.outcome === 'denied' ? 'AccessDenied' : undefined),
    change: {
      ...change,
      ...(r.actor.role ? { role: r.actor.role } : {}),
      via: r.actor.via,
      ...(r.outcome === 'pending-approval' ? { pendingApproval: true } : {}),
      ...(r.approvalId ? { approvalId: r.approvalId } : {}),
      ...(r.method ? { method: r.method, path: r.path, status: r.status } : {}),
    },
  };
}

export function createAuditLogSink(audit: AdminEventRecorder): AdminAuditSink {
  return {
    async recordAdminAction(record) {
      await audit.admin(toAdminEvent(record));
    },
  };
}
