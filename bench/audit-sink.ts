/**
 * The audit writer on its own: records/s and CPU per record (all threads, and the main
 * thread alone) for the writer thread and for inline commits, on an empty log and on a log
 * that already holds --prefill records, measured in the same run; prints ratios against the
 * empty log (medians of three runs each). Then times `verify` over the big log.
 *
 *   npm run build && node dist/bench/audit-sink.js [--prefill 2000000] [--records 100000] [--callers 64]
 */
import { createSecretKey, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from '../src/base/index.js';
import { createAuditService, type XksAuditRecord } from '../src/domain/index.js';
import { openSqliteAuditLog, openSqliteStorage } from '../src/storage/index.js';

const { values } = parseArgs({
  options: {
    prefill: { type: 'string', default: '2000000' },
    records: { type: 'string', default: '100000' },
    callers: { type: 'string', default: '64' },
  },
});
const PREFILL = Number(values.prefill);
const RECORDS = Number(values.records);
const CALLERS = Number(values.callers);

const key = createSecretKey(randomBytes(32));

function record(i: number): XksAuditRecord {
  return {
    kind: 'xks',
    time: new Date().toISOString(),
    node: 'bench-node',
    operation: i % 3 ? 'encrypt' : 'decrypt',
    kmsRequestId: `3f1c6a2e-${i}`,
    kmsOperation: i % 3 ? 'GenerateDataKey' : 'Decrypt',
    keyStore: 'demo',
    keyStoreId: '5f0c7a9e-1d2b-4c3d-9e8f-0a1b2c3d4e5f',
    keyId: `key-${i % 50}`,
    keyVersion: 1,
    authenticated: true,
    accessKeyId: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
    awsPrincipalArn: `arn:aws:iam::111122223333:role/App${i % 7}`,
    kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
    remoteAddress: '10.0.3.17',
    status: 200,
    outcome: 'ok',
    latencyMs: 0.412,
  };
}

/** CPU µs of one thread of this process (Linux). */
function threadCpu(tid: number): number {
  const f = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

interface Result {
  rate: number;
  allCpu: number;
  mainCpu: number;
}

async function run(path: string, mode: 'thread' | 'inline'): Promise<Result> {
  const log = openSqliteAuditLog({ path });
  const sink = log.openSink({ key, mode });
  let next = 0;
  const main0 = threadCpu(process.pid);
  const all0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (next < RECORDS) await sink.append([record(next++)]);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const all = process.cpuUsage(all0);
  const main = threadCpu(process.pid) - main0;
  await log.close();
  return { rate: RECORDS / seconds, allCpu: (all.user + all.system) / RECORDS, mainCpu: main / RECORDS };
}

/** The key's first record, as loadAuditKey writes it: appends need a started chain. */
async function startRoot(path: string): Promise<void> {
  const log = openSqliteAuditLog({ path });
  await log.keys.initSealedAuditKey(Buffer.from('bench'), { key, genesis: { kind: 'admin', time: new Date().toISOString(), node: 'bench', actor: 'keyhold', source: 'audit', action: 'audit.start', target: 'main', outcome: 'ok' } });
  await log.close();
}

async function prefill(path: string, n: number): Promise<void> {
  const log = openSqliteAuditLog({ path });
  const sink = log.openSink({ key, mode: 'inline', maxBatch: 10_000 });
  const t0 = performance.now();
  for (let i = 0; i < n; i += 10_000) await sink.append(Array.from({ length: Math.min(10_000, n - i) }, (_, j) => record(i + j)));
  console.log(`prefilled ${n} records in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await log.close();
}

const dir = mkdtempSync(join(tmpdir(), 'keyhold-bench-sink-'));
try {
  const results: Record<string, Result> = {};
  for (const size of [0, PREFILL]) {
    const path = join(dir, `log-${size}.db`);
    const storage = await openSqliteStorage({ path }); // migrations
    await startRoot(path);
    if (size) await prefill(path, size);
    if (size === 0) await run(path, 'thread'); // warm-up: worker start, JIT
    for (const mode of ['thread', 'inline'] as const) {
      const runs: Result[] = [];
      for (let i = 0; i < 3; i++) runs.push(await run(path, mode));
      const med = (f: (r: Result) => number) => runs.map(f).sort((x, y) => x - y)[1]!;
      const r = { rate: med((x) => x.rate), allCpu: med((x) => x.allCpu), mainCpu: med((x) => x.mainCpu) };
      results[`${mode} ${size}`] = r;
      console.log(`${mode.padEnd(6)} log of ${String(size).padStart(8)}: ${r.rate.toFixed(0).padStart(6)} records/s, CPU ${r.allCpu.toFixed(1)} µs/record (main thread ${r.mainCpu.toFixed(1)})  [medians of 3]`);
    }
    await storage.close();
  }
  console.log(`\n${CALLERS} concurrent callers, ${RECORDS} records per run, synchronous=FULL`);
  console.log('mode    records/s vs empty log   CPU/record vs empty log');
  for (const mode of ['thread', 'inline']) {
    const a = results[`${mode} 0`]!;
    const b = results[`${mode} ${PREFILL}`]!;
    console.log(`${mode.padEnd(7)} ${(b.rate / a.rate).toFixed(3).padStart(23)}   ${(b.allCpu / a.allCpu).toFixed(3).padStart(23)}`);
  }

  const path = join(dir, `log-${PREFILL}.db`);
  const storage = await openSqliteStorage({ path });
  const log = openSqliteAuditLog({ path });
  const svc = createAuditService({ sink: log.openSink({ key, mode: 'inline' }), reader: log.reader, key, node: 'bench', clock: systemClock });
  const t0 = performance.now();
  const report = await svc.verify();
  const s = (performance.now() - t0) / 1000;
  console.log(`\nverify: ${report.ok ? 'OK' : 'FAILED'}, ${report.count} records in ${s.toFixed(1)} s (${(report.count / s).toFixed(0)} records/s); database ${(statSync(path).size / 2 ** 20).toFixed(0)} MiB`);
  const t1 = performance.now();
  let n = 0;
  for await (const _ of svc.export({ keyId: 'key-7', since: new Date(Date.now() - 60_000).toISOString() })) n++;
  console.log(`export of one key's last minute: ${n} records in ${((performance.now() - t1) / 1000).toFixed(2)} s`);
  await svc.close();
  await log.close();
  await storage.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
