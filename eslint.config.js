// ESLint: typescript-eslint's recommended rules, and the layer direction of design.md
// enforced by eslint-plugin-boundaries:  base ← crypto ← domain ← adapters ← app.
import tseslint from 'typescript-eslint';
import boundaries from 'eslint-plugin-boundaries';

const ADAPTERS = ['storage', 'seal', 'backends', 'hsm', 'xks', 'admin', 'audit', 'aws', 'kms-sim', 'metrics', 'cli'];

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
    files: ['src/**/*.ts'],
    plugins: { boundaries },
    settings: {
      'import/resolver': { typescript: true, node: true },
      'boundaries/include': ['src/**/*.ts'],
      'boundaries/elements': [
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
          message: 'layer violation: imports point base <- crypto <- domain <- adapters <- app (design.md); adapters never import each other, only src/app wires them',
          policies: [
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
            // Libraries and node: builtins are fine everywhere.
            { allow: { to: { module: { origin: 'external' } } } },
            { allow: { to: { module: { origin: 'core' } } } },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', '**/*.test.ts', 'scripts/**'],
    rules: { 'no-console': 'off' },
  },
);
