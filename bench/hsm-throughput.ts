/**
 * HSM-backed (SoftHSM2 through the session pool) versus software-backed AES-256-GCM encrypt
 * throughput, measured in one run on the same machine; prints the ratio to the software
 * baseline and the process's CPU time per operation (all threads). Without the HTTP server
 * around it, this is what the session pool, the lane crossing and SoftHSM2 cost on their own.
 * Run: npm run build && taskset -c 0 node dist/bench/hsm-throughput.js [ops] [threads|inline]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createHsmKeyBackend, createSoftwareBackend } from '../src/backends/index.js';
import { createSoftwareSeal } from '../src/seal/index.js';
import { buildGcmAad, encodeCiphertextMetadata, METADATA_FORMAT_V1 } from '../src/crypto/index.js';
import type { KeyBackend, KeyVersion } from '../src/domain/index.js';
import { createSessionPool, resolveProfile } from '../src/hsm/index.js';
import { createSoftHsm } from '../test/support/softhsm.js';

const OPS = Number(process.argv[2] ?? 4000);
const DISPATCH = process.argv[3] ?? 'threads';
if (DISPATCH !== 'threads' && DISPATCH !== 'inline') {
  console.error(`dispatch must be "threads" or "inline", not "${DISPATCH}"`);
  process.exit(2);
}
const aad = buildGcmAad(randomBytes(64), encodeCiphertextMetadata({ format: METADATA_FORMAT_V1, keyVersion: 1 }));
const plaintext = randomBytes(32); // a data key, KMS's usual payload

async function version(b: KeyBackend, protection: 'software' | 'hsm'): Promise<KeyVersion> {
  const keyId = randomUUID();
  return { keyId, version: 1, protection, createdAt: new Date().toISOString(), ...(await b.createVersion({ id: keyId, externalId: 'bench' }, 1)) };
}

async function run(b: KeyBackend, v: KeyVersion, concurrency: number): Promise<{ opsPerSec: number; medianUs: number; cpuUs: number }> {
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < OPS) {
        const s = performance.now();
        await b.encrypt(v, plaintext, aad);
        lat.push((performance.now() - s) * 1000);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, c) => a - c);
  return { opsPerSec: OPS / secs, medianUs: lat[Math.floor(lat.length / 2)]!, cpuUs: (cpu.user + cpu.system) / OPS };
}

const hsm = createSoftHsm();
try {
  const token = hsm.addToken('bench');
  const seal = createSoftwareSeal(randomBytes(32), 'keyfile');
  const meta = new Map<string, string>();
  const software = createSoftwareBackend({ seal, meta: { getMeta: async (n) => meta.get(n), setMeta: async (n, val) => void meta.set(n, val) } });
  const pool = createSessionPool({ modulePath: hsm.module, tokenLabel: token.label, pin: token.userPin, maxSessions: 4, callTimeoutMs: 5000, profile: resolveProfile('softhsm2'), dispatch: DISPATCH });
  await pool.warmUp(4);
  const hsmBackend = createHsmKeyBackend({ pool });
  const sv = await version(software, 'software');
  const hv = await version(hsmBackend, 'hsm');
  await run(software, sv, 1); // warm-up
  await run(hsmBackend, hv, 4);

  console.log(`AES-256-GCM encrypt of 32 bytes, ${OPS} operations per run, median of 3 runs, PKCS#11 dispatch ${DISPATCH}, node ${process.version}`);
  console.log('backend                      concurrency   ops/s     median µs   CPU µs/op   ratio to software');
  // Median of three runs per configuration, alternating backends, to damp GC and scheduler noise.
  const median3 = async (b: KeyBackend, v: KeyVersion, c: number) => {
    const rs = [await run(b, v, c), await run(b, v, c), await run(b, v, c)].sort((x, y) => x.opsPerSec - y.opsPerSec);
    return rs[1]!;
  };
  for (const c of [1, 8]) {
    const sw = await median3(software, sv, c);
    const hw = await median3(hsmBackend, hv, c);
    const row = (name: string, r: typeof sw) =>
      console.log(`${name.padEnd(28)} ${String(c).padStart(11)} ${r.opsPerSec.toFixed(0).padStart(9)} ${r.medianUs.toFixed(0).padStart(11)} ${r.cpuUs.toFixed(1).padStart(11)}   ${(r.opsPerSec / sw.opsPerSec).toFixed(3)}`);
    row('software (OpenSSL)', sw);
    row('SoftHSM2 via session pool', hw);
  }
  await pool.close();
} finally {
  hsm.cleanup();
}
