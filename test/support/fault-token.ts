/**
 * A slow or failing token for tests and benchmarks: a tiny PKCS#11 module
 * (pkcs11-fault-shim.c) that forwards to SoftHSM2 and, when told through a control file,
 * sleeps in C_Encrypt/C_Decrypt, holds them until released, or returns an error code.
 * Compiled on first use with the system C compiler (the same one native npm modules need).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const SOURCE = join(ROOT, 'test', 'support', 'pkcs11-fault-shim.c');
const HEADERS = join(ROOT, 'node_modules', 'pkcs11js', 'includes', 'pkcs11');

export function buildFaultShim(): string {
  const src = readFileSync(SOURCE);
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'keyhold-fault-shim');
  const out = join(dir, `shim-${hash}.so`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    execFileSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', '-I', HEADERS, '-o', tmp, SOURCE, '-ldl'], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') throw new Error('a C compiler (cc) is required to build the PKCS#11 fault shim; install build-essential');
    throw new Error(`building the PKCS#11 fault shim failed: ${err.stderr?.toString() ?? err.message}`);
  }
  renameSync(tmp, out); // atomic: concurrent test files never load a half-written library
  return out;
}

export interface FaultToken {
  /** Module path to give Keyhold instead of the real module. */
  module: string;
  /** Every C_Encrypt/C_Decrypt takes `ms`; with `initMs`, every C_EncryptInit/C_DecryptInit too. */
  delay(ms: number, initMs?: number): void;
  /** C_Encrypt/C_Decrypt block until release(). */
  hold(): void;
  release(): void;
  /** Calls return this CK_RV until clear(). */
  fail(ckr: number): void;
  clear(): void;
}

/**
 * Points this process's PKCS#11 loads of the shim at `target`. The shim reads its
 * environment once, when a worker first loads it, so call this before creating a pool.
 */
export function createFaultToken(target: string, controlDir: string): FaultToken {
  const control = join(controlDir, 'fault-shim.ctl');
  writeFileSync(control, '');
  process.env.KEYHOLD_SHIM_TARGET = target;
  process.env.KEYHOLD_SHIM_CONTROL = control;
  const state = { delay: 0, initDelay: 0, hold: false, fail: 0 };
  const write = () =>
    writeFileSync(
      control,
      `${state.delay ? `delay_ms=${state.delay}\n` : ''}${state.initDelay ? `init_delay_ms=${state.initDelay}\n` : ''}${state.hold ? 'hold=1\n' : ''}${state.fail ? `fail=${state.fail}\n` : ''}`,
    );
  return {
    module: buildFaultShim(),
    delay(ms, initMs = 0) {
      state.delay = ms;
      state.initDelay = initMs;
      write();
    },
    hold() {
      state.hold = true;
      write();
    },
    release() {
      state.hold = false;
      write();
    },
    fail(ckr) {
      state.fail = ckr;
      write();
    },
    clear() {
      state.delay = 0;
      state.initDelay = 0;
      state.hold = false;
      state.fail = 0;
      write();
    },
  };
}
