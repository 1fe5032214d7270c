import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

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
  /** Runs in --quick mode too. */
  quick: boolean;
  /** The variant whose figures the targets apply to (first available one wins). */
  target?: boolean;
  /** Why this variant cannot run in this checkout, or undefined when it can. */
  unavailable(root: string): string | undefined;
}

const missing = (root: string, file: string, what: string) => (existsSync(join(root, file)) ? undefined : `${what} does not exist in this checkout yet (${file} is missing)`);

export const VARIANTS: readonly Variant[] = [
  {
    id: 'software-audit',
    title: 'software keys, 1 key, durable audit',
    keys: 1,
    poolKeys: 1,
    quick: true,
    target: true,
    // The audit log is built on its own branch; its config goes here when it lands on main.
    unavailable: (root) => missing(root, 'src/audit/index.ts', 'the durable audit log') ?? 'the benchmark does not know the audit configuration yet',
  },
  {
    id: 'software',
    title: 'software keys, 1 key, audit off',
    keys: 1,
    poolKeys: 1,
    quick: true,
    target: true,
    unavailable: () => undefined,
  },
  {
    id: 'software-100k',
    title: 'software keys, 100,000 keys (requests over 10,000 of them), audit off',
    keys: 100_000,
    poolKeys: 10_000,
    quick: false,
    unavailable: () => undefined,
  },
  {
    id: 'softhsm',
    title: 'SoftHSM2 keys (PKCS#11), 1 key',
    keys: 1,
    poolKeys: 1,
    quick: false,
    unavailable: (root) =>
      missing(root, 'src/hsm/index.ts', 'the PKCS#11 key backend') ??
      (spawnSync('softhsm2-util', ['--version'], { stdio: 'ignore' }).status === 0 ? undefined : 'softhsm2-util is not installed') ??
      'the benchmark does not know the HSM configuration yet',
  },
  {
    id: 'postgres',
    title: 'software keys, 1 key, PostgreSQL storage',
    keys: 1,
    poolKeys: 1,
    quick: false,
    unavailable: (root) => missing(root, 'src/storage/postgres.ts', 'PostgreSQL storage') ?? 'the benchmark does not know the PostgreSQL configuration yet',
  },
];
