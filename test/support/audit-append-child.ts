/**
 * A separate process that appends to an audit log, for the multi-process tests:
 *   node audit-append-child.js <dbPath> <keyHex> <tag> <records> <perBatch>
 * Prints "done <n>" when all its records are committed.
 */
import { createSecretKey } from 'node:crypto';
import { openSqliteAuditLog } from '../../src/storage/index.js';
import type { AuditRecord } from '../../src/domain/index.js';

const [path, keyHex, tag, total, perBatch] = process.argv.slice(2) as [string, string, string, string, string];
const log = openSqliteAuditLog({ path });
const sink = log.openSink({ key: createSecretKey(Buffer.from(keyHex, 'hex')), mode: 'inline' });
const n = Number(total);
const batch = Number(perBatch);
const pending: Promise<unknown>[] = [];
for (let i = 0; i < n; i += batch) {
  const records: AuditRecord[] = [];
  for (let j = i; j < Math.min(n, i + batch); j++) {
    records.push({ kind: 'admin', time: new Date().toISOString(), node: tag, actor: tag, source: 'test', action: 'test.append', target: `${tag}-${j}`, outcome: 'ok' });
  }
  pending.push(sink.append(records));
  // Give the other processes a chance to interleave.
  if (pending.length % 5 === 0) await new Promise((r) => setTimeout(r, 1));
}
await Promise.all(pending);
await log.close();
process.stdout.write(`done ${n}\n`);
