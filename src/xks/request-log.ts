import type { Logger } from '../base/index.js';
import type { XksCallObserver } from '../domain/xks-call.js';

/**
 * The request log: one line per answered call. Its fields are this fixed list, none of them
 * secret, so the logger handed in need not redact: pino's redaction clones and walks every
 * logged object, which cost more than SigV4 per call.
 */
export function requestLogObserver(requestLog: Logger): XksCallObserver {
  return {
    answered(call, answer) {
      requestLog.info(
        {
          event: 'xks',
          kmsRequestId: call.ctx?.kmsRequestId ?? call.claimedRequestId,
          operation: call.operation,
          kmsOperation: call.ctx?.kmsOperation,
          keyStore: call.keyStoreName,
          key: call.externalKeyId,
          keyVersion: call.keyVersion,
          status: answer.status,
          outcome: answer.errorName ?? 'ok',
          latencyMs: Math.round(answer.latencyMs * 1000) / 1000,
        },
        'xks call',
      );
    },
  };
}
