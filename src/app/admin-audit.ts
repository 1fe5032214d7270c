import type { Logger } from '../base/index.js';
import type { AdminAuditSink } from '../domain/index.js';

/**
 * Where admin actions go until the hash-chained audit log (issue 4, branch audit) lands:
 * one structured log line per action. Replacing this sink with the audit log's is the only
 * change needed; every call site already goes through AdminAuditSink.
 */
export function createLogAuditSink(log: Logger): AdminAuditSink {
  return {
    async recordAdminAction(record) {
      log.info({ event: 'admin_action', ...record }, 'admin action');
    },
  };
}
