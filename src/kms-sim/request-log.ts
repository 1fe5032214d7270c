/**
 * The simulator's stand-in for CloudTrail: one entry per KMS API call (and per periodic
 * health check), with the proxy calls it caused. `requestId` is the `x-amzn-RequestId` of
 * the KMS response and the `kmsRequestId` every proxy call of that request carried.
 * Entries hold no plaintext, key material or secret. The log is bounded (oldest dropped).
 */

export type XksOperation = 'GetHealthStatus' | 'GetKeyMetadata' | 'Encrypt' | 'Decrypt';

export interface ProxyCallRecord {
  xksOperation: XksOperation;
  kmsOperation: string;
  customKeyStoreId: string;
  xksKeyId?: string;
  /** 1, or 2 after a retry. */
  attempts: number;
  /** 'ok', the proxy's errorName, or the transport failure (timeout, network, tls, invalid-response). */
  outcome: string;
  httpStatus?: number;
  latencyMs: number;
}

export interface RequestLogEntry {
  requestId: string;
  eventTime: string;
  eventName: string;
  accountId: string;
  region: string;
  principalArn: string;
  accessKeyId?: string;
  viaService?: string;
  keyArn?: string;
  customKeyStoreId?: string;
  xksKeyId?: string;
  errorCode?: string;
  errorMessage?: string;
  proxyCalls: ProxyCallRecord[];
}

export interface RequestLog {
  entries(): readonly RequestLogEntry[];
  byRequestId(requestId: string): RequestLogEntry | undefined;
  /** Calls `listener` with each entry once it is complete; returns an unsubscribe function. */
  subscribe(listener: (e: RequestLogEntry) => void): () => void;
}

export interface RequestLogWriter extends RequestLog {
  append(e: RequestLogEntry): void;
}

export function createRequestLog(capacity = 10_000): RequestLogWriter {
  const items: RequestLogEntry[] = [];
  const listeners = new Set<(e: RequestLogEntry) => void>();
  return {
    entries: () => items,
    byRequestId: (id) => items.find((e) => e.requestId === id),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    append(e) {
      items.push(e);
      if (items.length > capacity) items.splice(0, items.length - capacity);
      for (const l of listeners) {
        try {
          l(e);
        } catch {
          // a failing listener must not break the API call that produced the entry
        }
      }
    },
  };
}
