/**
 * CPU per request per node: one node on PostgreSQL, then two nodes on the same PostgreSQL,
 * measured in the same run. Each node gets the same number of signed encrypts from its own
 * clients; the figure is the node process's user+system CPU divided by the calls it
 * answered. With per-node audit batching the two-node figure should stay at the one-node
 * figure (the audit path must not grow with the number of nodes).
 *
 *   npm run -s build && node dist/bench/cluster-cpu.js [--calls N] [--concurrency C]
 *
 * Short by default (2000 calls per node); it is a ratio, not a throughput benchmark.
 */
import { parseArgs } from 'node:util';
import { startPostgres } from '../test/support/postgres.js';
import { startCluster, type ClusterNode, type TestCluster } from '../test/support/cluster-nodes.js';
import { xksClient } from '../test/support/xks-client.js';
import { cpuSeconds } from './processes.js';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '8' } } });
const calls = Number(values.calls);
const concurrency = Number(values.concurrency);

async function drive(c: TestCluster, node: ClusterNode, n: number): Promise<number> {
  let ok = 0;
  let next = 0;
  const clients = Array.from({ length: concurrency }, () => xksClient({ url: node.url, caPem: c.caPem, uriPath: c.demo.uriPath, credential: c.demo.credential }));
  await Promise.all(
    clients.map(async (cl) => {
      while (next < n) {
        next++;
        const r = await cl.encrypt(c.demo.keyId, { plaintext: Buffer.from('benchmark plaintext') });
        if (r.status === 200) ok++;
      }
    }),
  );
  for (const cl of clients) cl.close();
  return ok;
}

async function measure(c: TestCluster, nodes: ClusterNode[]): Promise<{ id: string; ok: number; usPerCall: number }[]> {
  // Warm up (caches, JIT, pool connections), then measure.
  await Promise.all(nodes.map((n) => drive(c, n, Math.min(500, calls))));
  const before = nodes.map((n) => cpuSeconds(n.pid()!) ?? NaN);
  const oks = await Promise.all(nodes.map((n) => drive(c, n, calls)));
  const after = nodes.map((n) => cpuSeconds(n.pid()!) ?? NaN);
  return nodes.map((n, i) => ({ id: n.id, ok: oks[i]!, usPerCall: ((after[i]! - before[i]!) * 1e6) / oks[i]! }));
}

const pg = await startPostgres();
try {
  const one = await startCluster({ url: await pg.createDatabase('bench_one'), ids: ['solo'] });
  const single = await measure(one, one.nodes);
  await one.dispose();
  const two = await startCluster({ url: await pg.createDatabase('bench_two'), ids: ['node-a', 'node-b'] });
  const pair = await measure(two, two.nodes);
  await two.dispose();
  const base = single[0]!.usPerCall;
  console.log(`CPU per answered encrypt (user+system of the node process), ${calls} calls per node, ${concurrency} connections per node`);
  console.log(`  one node on PostgreSQL:   ${single[0]!.id.padEnd(7)} ${base.toFixed(0).padStart(6)} us/call  (${single[0]!.ok} ok)`);
  for (const r of pair) console.log(`  two nodes on PostgreSQL:  ${r.id.padEnd(7)} ${r.usPerCall.toFixed(0).padStart(6)} us/call  (${r.ok} ok)  ratio ${(r.usPerCall / base).toFixed(2)}`);
} finally {
  await pg.stop();
}
