/**
 * The audit writer thread. better-sqlite3 is synchronous: a COMMIT with synchronous=FULL
 * waits for fsync, and on the main thread that wait would stall every request. Here it
 * stalls only this thread, while the main thread keeps serving and queueing the next batch.
 */
import { createSecretKey } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import type { PreparedBatch } from './audit-batch.js';
import { createSqliteAuditAppender, openAuditConnection } from './sqlite-audit-append.js';

export interface AuditWorkerData {
  path: string;
  key: Uint8Array;
  chain: string;
}

export type AuditWorkerRequest = { type: 'append'; id: number; batch: PreparedBatch } | { type: 'close' };

export type AuditWorkerReply =
  | { id: number; ok: true; firstSeq: number; prev: Uint8Array; macs: Uint8Array }
  | { id: number; ok: false; message: string; code?: string | undefined };

const port = parentPort;
if (!port) throw new Error('sqlite-audit-worker must run as a worker thread');
const data = workerData as AuditWorkerData;
const db = openAuditConnection(data.path);
const key = createSecretKey(Buffer.from(data.key));
data.key.fill(0);
const append = createSqliteAuditAppender(db, key, data.chain);

port.on('message', (m: AuditWorkerRequest) => {
  if (m.type === 'close') {
    db.close();
    port.close();
    return;
  }
  let reply: AuditWorkerReply;
  try {
    const r = append(m.batch);
    reply = { id: m.id, ok: true, firstSeq: r.firstSeq, prev: r.prev, macs: Buffer.concat(r.macs) };
  } catch (e) {
    reply = { id: m.id, ok: false, message: e instanceof Error ? e.message : String(e), code: (e as { code?: string }).code };
  }
  port.postMessage(reply);
});
