/**
 * Does a slow HSM hold up requests for software keys? A token made slow by the fault shim
 * (every C_Encrypt takes DELAY ms) is kept busy by 8 concurrent HSM encrypt loops while the
 * main thread serves software-key encryptions; we record how long each software request
 * waits for the event loop. Four ways of calling PKCS#11 are compared, in one run:
 *
 *   baseline         no HSM traffic
 *   worker lanes     Keyhold's session pool: every PKCS#11 call on a worker thread
 *   async variants   pkcs11js C_EncryptAsync (libuv thread pool) after a synchronous C_EncryptInit
 *   sync on main     pkcs11js synchronous calls on the main thread
 *
 * Run: npm run build && node dist/bench/hsm-event-loop.js [delayMs] [seconds] [initDelayMs]
 */
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import type * as Pkcs11Types from 'pkcs11js';
import { buildGcmAad, gcmEncrypt } from '../src/crypto/index.js';
import { createSessionPool, createTokenKeys, resolveProfile } from '../src/hsm/index.js';
import { createSoftHsm } from '../test/support/softhsm.js';
import { createFaultToken } from '../test/support/fault-token.js';

const DELAY = Number(process.argv[2] ?? 20);
const SECONDS = Number(process.argv[3] ?? 2);
/** Also delay C_EncryptInit by this much (a network HSM's round trip), to show what the
 * async variants leave on the main thread. */
const INIT_DELAY = Number(process.argv[4] ?? 0);
const pk = createRequire(import.meta.url)('pkcs11js') as typeof Pkcs11Types;
const aad = buildGcmAad(Buffer.from('bench'), undefined);
const swKey = randomBytes(32);

/** Software-key requests, one every 2 ms: time from "request arrives" to "answered". */
async function softwareLatencies(stop: () => boolean): Promise<number[]> {
  const out: number[] = [];
  while (!stop()) {
    const arrived = performance.now();
    await new Promise((r) => setImmediate(r)); // the request waits its turn on the event loop
    gcmEncrypt(swKey, randomBytes(32), aad);
    out.push(performance.now() - arrived);
    await new Promise((r) => setTimeout(r, 2));
  }
  return out;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function measure(name: string, hsmLoad: ((stop: () => boolean) => Promise<number>) | undefined) {
  const until = performance.now() + SECONDS * 1000;
  const stop = () => performance.now() > until;
  const [lat, hsmOps] = await Promise.all([softwareLatencies(stop), hsmLoad ? hsmLoad(stop) : Promise.resolve(0)]);
  return { name, median: pct(lat, 50), p99: pct(lat, 99), max: Math.max(...lat), samples: lat.length, hsmOps };
}

const hsm = createSoftHsm();
try {
  const token = hsm.addToken('bench-loop');
  const fault = createFaultToken(hsm.module, hsm.root);
  const pool = createSessionPool({ modulePath: fault.module, tokenLabel: token.label, pin: token.userPin, maxSessions: 8, callTimeoutMs: 10_000, profile: resolveProfile('softhsm2') });
  await pool.warmUp(8);
  const keys = createTokenKeys(pool);
  const ref = await keys.generate('loop-key');

  // Main-thread pkcs11js on the same (slow) module, for the two alternatives.
  const p = new pk.PKCS11();
  p.load(fault.module);
  try {
    p.C_Initialize();
  } catch {
    // already initialised by the pool's workers (same library in this process)
  }
  const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trimEnd() === token.label)!;
  const sessions = Array.from({ length: 8 }, () => p.C_OpenSession(slot, pk.CKF_SERIAL_SESSION | pk.CKF_RW_SESSION));
  try {
    p.C_Login(sessions[0]!, pk.CKU_USER, token.userPin);
  } catch {
    // already logged in (login state is per application)
  }
  p.C_FindObjectsInit(sessions[0]!, [{ type: pk.CKA_LABEL, value: 'loop-key' }]);
  const handle = p.C_FindObjects(sessions[0]!, 1)[0]!;
  p.C_FindObjectsFinal(sessions[0]!);
  const mech = (): Pkcs11Types.Mechanism => ({ mechanism: pk.CKM_AES_GCM, parameter: { type: pk.CK_PARAMS_AES_GCM_v240, iv: randomBytes(12), ivBits: 96, aad, tagBits: 128 } as Pkcs11Types.GcmParams });

  fault.delay(DELAY, INIT_DELAY);
  const results = [];
  results.push(await measure('baseline (no HSM traffic)', undefined));
  results.push(
    await measure('worker lanes (Keyhold)', async (stop) => {
      let n = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (!stop()) {
            await keys.encrypt(ref, randomBytes(32), aad);
            n++;
          }
        }),
      );
      return n;
    }),
  );
  results.push(
    await measure('pkcs11js async variants', async (stop) => {
      let n = 0;
      await Promise.all(
        sessions.map(async (s) => {
          while (!stop()) {
            p.C_EncryptInit(s, mech(), handle);
            await p.C_EncryptAsync(s, randomBytes(32), Buffer.alloc(64));
            n++;
          }
        }),
      );
      return n;
    }),
  );
  results.push(
    await measure('pkcs11js sync on main thread', async (stop) => {
      let n = 0;
      while (!stop()) {
        const s = sessions[n % sessions.length]!;
        p.C_EncryptInit(s, mech(), handle);
        p.C_Encrypt(s, randomBytes(32), Buffer.alloc(64));
        n++;
        await new Promise((r) => setImmediate(r));
      }
      return n;
    }),
  );
  fault.clear();

  // How soon a stalled call answers DependencyTimeout, against a 150 ms budget.
  const tight = createSessionPool({ modulePath: fault.module, tokenLabel: token.label, pin: token.userPin, maxSessions: 2, callTimeoutMs: 150, profile: resolveProfile('softhsm2') });
  await tight.warmUp(2);
  const tightKeys = createTokenKeys(tight);
  await tightKeys.encrypt(ref, randomBytes(32), aad);
  fault.hold();
  const waits: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await tightKeys.encrypt(ref, randomBytes(32), aad).catch(() => undefined);
    waits.push(performance.now() - t0);
  }
  fault.release();

  const base = results[0]!;
  console.log(
    `Software-key request latency while 8 HSM loops keep a token with ${DELAY} ms per C_Encrypt${INIT_DELAY ? ` and ${INIT_DELAY} ms per C_EncryptInit` : ''} busy (${SECONDS}s each, node ${process.version})`,
  );
  console.log('strategy                        median ms   p99 ms   max ms   p99 / baseline p99   HSM ops');
  for (const r of results) {
    console.log(
      `${r.name.padEnd(31)} ${r.median.toFixed(3).padStart(9)} ${r.p99.toFixed(3).padStart(8)} ${r.max.toFixed(1).padStart(8)} ${(r.p99 / base.p99).toFixed(1).padStart(20)} ${String(r.hsmOps).padStart(9)}`,
    );
  }
  console.log(`DependencyTimeout with a 150 ms budget and a stalled token: median ${pct(waits, 50).toFixed(1)} ms (of ${waits.length})`);
  for (const s of sessions) p.C_CloseSession(s);
  await tight.close();
  await pool.close();
} finally {
  hsm.cleanup();
}
