import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createSoftHsm } from '../test/support/softhsm.js';
import { startPostgres } from '../test/support/postgres.js';

/** What a variant needs beyond a plain data directory. */
export interface VariantSetup {
  /** keyhold.toml written before `keyhold init` (storage, [hsm]). */
  toml?: string;
  /** Environment for the data set's creation and for the server (PINs, SOFTHSM2_CONF). */
  env?: Record<string, string>;
  /** Protection of the keys the data set creates. */
  protection?: 'software' | 'hsm';
  cleanup?(): Promise<void> | void;
}

/**
 * The configurations the benchmark measures. Each names what it needs; a variant whose
 * backend does not exist in this checkout is skipped with the reason printed, so the list
 * can name variants before their backends land.
 */
export interface Variant {
  id: string;
  title: string;
  /** Keys in storage. */
  keys: number;
  /** How many distinct keys the requests use (spread round robin). */
  poolKeys: number;
  /** Appended to keyhold.toml after init. */
  configToml?: string;
  /** XKS records written to the audit log before the run (the log-size variant). */
  auditRecords?: number;
  /** Runs in --quick mode too. */
  quick: boolean;
  /** Connection counts to measure unless --connections says otherwise (default 1, 10, 50). */
  connections?: number[];
  /** The variant whose figures the targets apply to (first available one wins). */
  target?: boolean;
  /** Why this variant cannot run in this checkout, or undefined when it can. */
  unavailable(root: string): string | undefined;
  /** Brings up what the variant needs (a token, a database); default: nothing. */
  prepare?(): Promise<VariantSetup>;
}

const missing = (root: string, file: string, what: string) => (existsSync(join(root, file)) ? undefined : `${what} does not exist in this checkout yet (${file} is missing)`);

const softHsmUnavailable = (root: string) =>
  missing(root, 'src/hsm/index.ts', 'the PKCS#11 key backend') ?? (spawnSync('softhsm2-util', ['--version'], { stdio: 'ignore' }).status === 0 ? undefined : 'softhsm2-util is not installed (Debian package softhsm2)');

/** A fresh SoftHSM2 token and the [hsm] section that uses it, 4 sessions. */
function softHsm(dispatch: 'threads' | 'inline'): Promise<VariantSetup> {
  const hsm = createSoftHsm();
  const token = hsm.addToken('keyhold-bench');
  return Promise.resolve({
    toml: `[hsm]\nmodule = "${hsm.module}"\ntoken_label = "${token.label}"\npin_env = "KEYHOLD_HSM_PIN"\nprofile = "softhsm2"\nsessions = 4\ntimeout_ms = 150\ndispatch = "${dispatch}"\n`,
    env: { SOFTHSM2_CONF: hsm.confPath, KEYHOLD_HSM_PIN: token.userPin },
    protection: 'hsm',
    cleanup: () => hsm.cleanup(),
  });
}

// Every variant but one keeps the realistic default: durable audit (answers wait for the commit).

export const VARIANTS: readonly Variant[] = [
  {
    id: 'software-audit',
    title: 'software keys, 1 key, durable audit',
    keys: 1,
    poolKeys: 1,
    quick: true,
    target: true,
    unavailable: (root) => missing(root, 'src/audit/index.ts', 'the durable audit log'),
  },
  {
    id: 'software',
    title: 'software keys, 1 key, audit off',
    keys: 1,
    poolKeys: 1,
    quick: true,
    target: true,
    unavailable: () => undefined,
    prepare: () => Promise.resolve({ env: { KEYHOLD_AUDIT_ENABLED: 'false' } }),
  },
  {
    id: 'software-100k',
    connections: [10, 50],
    title: 'software keys, 100,000 keys (requests over 10,000 of them), durable audit',
    keys: 100_000,
    poolKeys: 10_000,
    quick: false,
    unavailable: () => undefined,
  },
  {
    id: 'audit-10m',
    connections: [50],
    title: 'software keys, 1 key, durable audit on a log of 10,000,000 records',
    keys: 1,
    poolKeys: 1,
    auditRecords: 10_000_000,
    quick: false,
    unavailable: (root) => missing(root, 'src/audit/index.ts', 'the durable audit log'),
  },
  {
    id: 'softhsm',
    connections: [10, 50],
    title: 'SoftHSM2 keys (PKCS#11, 4 sessions), 1 key, durable audit',
    keys: 1,
    poolKeys: 1,
    quick: false,
    unavailable: softHsmUnavailable,
    prepare: () => softHsm('threads'),
  },
  {
    id: 'softhsm-inline',
    connections: [10, 50],
    title: 'SoftHSM2 keys, PKCS#11 calls on the event loop ([hsm] dispatch = "inline"), 1 key, durable audit',
    keys: 1,
    poolKeys: 1,
    quick: false,
    unavailable: softHsmUnavailable,
    prepare: () => softHsm('inline'),
  },
  {
    id: 'postgres',
    connections: [10, 50],
    title: 'software keys, 1 key, PostgreSQL storage (local throwaway server), durable audit',
    keys: 1,
    poolKeys: 1,
    quick: false,
    unavailable: (root) => missing(root, 'src/storage/postgres.ts', 'PostgreSQL storage') ?? (existsSync('/usr/lib/postgresql') ? undefined : 'PostgreSQL server binaries are not installed (Debian package postgresql)'),
    async prepare() {
      const pg = await startPostgres();
      return { toml: `[storage]\ntype = "postgres"\nurl = "${pg.url}"\n`, cleanup: () => pg.stop() };
    },
  },
];
