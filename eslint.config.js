// ESLint: typescript-eslint's recommended rules, the layer direction of design.md enforced
// by eslint-plugin-boundaries (base ← crypto ← domain ← adapters ← app, and where test/ and
// bench/ may reach), no import cycles anywhere (eslint-plugin-import-x), and no Node I/O in
// the layers below the adapters.
import tseslint from 'typescript-eslint';
import boundaries from 'eslint-plugin-boundaries';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

const ADAPTERS = ['storage', 'seal', 'backends', 'hsm', 'xks', 'admin', 'audit', 'aws', 'kms-sim', 'metrics', 'cli'];
const SRC = ['base', 'crypto', 'domain', ...ADAPTERS, 'app'];

// Modules that reach the file system, the network, processes or threads: the adapters' job.
const NODE_IO = ['fs', 'fs/promises', 'net', 'tls', 'http', 'https', 'http2', 'dgram', 'dns', 'child_process', 'cluster', 'worker_threads', 'os', 'process', 'readline', 'v8'];
const LAYER_MESSAGE =
  'layer violation: imports point base <- crypto <- domain <- adapters <- app (design.md); adapters never import each other, only src/app wires them; src/ never imports test/ or bench/';

const LAYER_POLICIES = [
  { from: { element: { type: 'crypto' } }, allow: { to: { element: { types: { anyOf: ['base'] } } } } },
  { from: { element: { type: 'domain' } }, allow: { to: { element: { types: { anyOf: ['base', 'crypto'] } } } } },
  ...ADAPTERS.map((a) => ({ from: { element: { type: a } }, allow: { to: { element: { types: { anyOf: ['base', 'crypto', 'domain'] } } } } })),
  // The HSM seal (src/seal/) and the HSM key backend (src/backends/) sit beside their
  // software siblings and build on the PKCS#11 session pool of src/hsm/.
  { from: { element: { types: { anyOf: ['seal', 'backends'] } } }, allow: { to: { element: { types: { anyOf: ['hsm'] } } } } },
  // The CLI's admin API client (src/cli/remote/) reads the admin API's
  // published view types. Types only: no admin code runs in the CLI.
  { from: { element: { type: 'cli' } }, allow: { to: { element: { types: { anyOf: ['admin'] } } }, dependency: { kind: 'type' } } },
  { from: { element: { type: 'app' } }, allow: { to: { element: { types: { anyOf: ['base', 'crypto', 'domain', ...ADAPTERS] } } } } },
  // Tests reach every layer, their support and the benchmarks' parsers; benchmarks reach
  // every layer and the test support (SoftHSM, PostgreSQL); src/ never reaches into test/
  // or bench/ (unit tests aside, below).
  { from: { element: { type: 'test-support' } }, allow: { to: { element: { types: { anyOf: [...SRC, 'test-support'] } } } } },
  { from: { element: { type: 'test' } }, allow: { to: { element: { types: { anyOf: [...SRC, 'test-support', 'test', 'bench'] } } } } },
  { from: { element: { type: 'bench' } }, allow: { to: { element: { types: { anyOf: [...SRC, 'test-support', 'bench'] } } } } },
  // Libraries and node: builtins are fine everywhere.
  { allow: { to: { module: { origin: 'external' } } } },
  { allow: { to: { module: { origin: 'core' } } } },
];

const NODE_IO_PATTERNS = NODE_IO.flatMap((m) => [m, `node:${m}`]);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'keyhold-data/**', 'bench/results/**', 'deploy/**', 'web/dist/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'tsconfig.json' })],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/extensions': ['.ts', '.js'],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    files: ['src/base/**/*.ts', 'src/crypto/**/*.ts', 'src/domain/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: NODE_IO_PATTERNS.map((name) => ({ name, message: 'base/, crypto/ and domain/ do no I/O: files, network, processes and threads belong to an adapter (design.md)' })) }],
    },
  },
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    plugins: { boundaries },
    settings: {
      'import/resolver': { typescript: true, node: true },
      'boundaries/include': ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
      'boundaries/elements': [
        { type: 'test-support', pattern: 'test/support' },
        { type: 'test', pattern: 'test' },
        { type: 'bench', pattern: 'bench' },
        { type: 'base', pattern: 'src/base' },
        { type: 'crypto', pattern: 'src/crypto' },
        { type: 'domain', pattern: 'src/domain' },
        ...ADAPTERS.map((a) => ({ type: a, pattern: `src/${a}` })),
        { type: 'app', pattern: 'src/app' },
      ],
    },
    rules: {
      'boundaries/dependencies': [
        'error',
        {
          default: 'disallow',
          message: LAYER_MESSAGE,
          policies: LAYER_POLICIES,
        },
      ],
    },
  },
  {
    // A unit test beside its module may also run a shared suite from test/ (the storage and
    // audit-store conformance suites) and use test/support.
    files: ['src/**/*.test.ts'],
    rules: {
      'boundaries/dependencies': ['error', { default: 'disallow', message: LAYER_MESSAGE, policies: [...LAYER_POLICIES, { allow: { to: { element: { types: { anyOf: ['test', 'test-support'] } } } } }] }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', '**/*.test.ts', 'scripts/**'],
    rules: { 'no-console': 'off' },
  },
);
