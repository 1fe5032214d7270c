/**
 * Throwaway SoftHSM2 tokens for tests. Each test process gets its own token directory and
 * softhsm2.conf (SOFTHSM2_CONF is read by the module at C_Initialize, so it is set on this
 * process before any PKCS#11 call). Missing SoftHSM2 is a test failure, never a skip: CI
 * installs the Debian package `softhsm2`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Debian/Ubuntu (any arch) and source builds put the module. */
const MODULE_CANDIDATES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
];

const MISSING = 'SoftHSM2 is required for the HSM tests but is not installed. Install the Debian package: apt-get install softhsm2';

export function softHsmModulePath(): string {
  const found = MODULE_CANDIDATES.find((p) => existsSync(p));
  if (!found) throw new Error(`${MISSING} (looked for libsofthsm2.so in ${MODULE_CANDIDATES.join(', ')})`);
  return found;
}

function softHsmUtil(args: string[], env: NodeJS.ProcessEnv): string {
  try {
    return execFileSync('softhsm2-util', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new Error(`${MISSING} (softhsm2-util not found on PATH)`);
    throw new Error(`softhsm2-util ${args[0]} failed: ${err.stderr ?? err.message}`);
  }
}

export interface SoftHsmToken {
  label: string;
  userPin: string;
  soPin: string;
  /** The token's directory inside the SoftHSM token store. */
  dir: string;
}

export interface SoftHsm {
  /** Path of libsofthsm2.so. */
  module: string;
  /** The temp directory holding softhsm2.conf and the token store. */
  root: string;
  confPath: string;
  addToken(label?: string, pins?: { userPin?: string; soPin?: string }): SoftHsmToken;
  /**
   * Simulates the token being pulled: its directory (all SoftHSM2 has of a token) leaves
   * the token store. The loaded module starts failing calls on that token, and stops seeing
   * it after re-initialisation — the same sequence a network HSM that drops off gives.
   * Returns a function that puts the token back.
   */
  unplug(token: SoftHsmToken): () => void;
  cleanup(): void;
}

export function createSoftHsm(): SoftHsm {
  const module = softHsmModulePath();
  const root = mkdtempSync(join(tmpdir(), 'keyhold-softhsm-'));
  const tokens = join(root, 'tokens');
  const parked = join(root, 'unplugged');
  mkdirSync(tokens);
  mkdirSync(parked);
  const confPath = join(root, 'softhsm2.conf');
  writeFileSync(confPath, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env.SOFTHSM2_CONF = confPath;
  const env = { ...process.env, SOFTHSM2_CONF: confPath };

  return {
    module,
    root,
    confPath,
    addToken(label = `kh-${randomBytes(4).toString('hex')}`, pins = {}) {
      const userPin = pins.userPin ?? randomBytes(6).toString('hex');
      const soPin = pins.soPin ?? randomBytes(6).toString('hex');
      const before = new Set(readdirSync(tokens));
      softHsmUtil(['--init-token', '--free', '--label', label, '--so-pin', soPin, '--pin', userPin], env);
      const added = readdirSync(tokens).filter((d) => !before.has(d));
      if (added.length !== 1) throw new Error(`expected one new token directory, found ${added.length}`);
      return { label, userPin, soPin, dir: join(tokens, added[0]!) };
    },
    unplug(token) {
      const away = join(parked, randomBytes(4).toString('hex'));
      renameSync(token.dir, away);
      return () => renameSync(away, token.dir);
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}
