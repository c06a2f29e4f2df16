// Lint rules that catch real mistakes (a promise nobody awaits, a value never
// used, an `any` leaking through a signature), not matters of taste: layout is
// Prettier's job (`npm run format`).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const browserGlobals = Object.fromEntries(
  [
    'window',
    'document',
    'navigator',
    'localStorage',
    'sessionStorage',
    'fetch',
    'location',
    'history',
    'URL',
    'URLSearchParams',
    'console',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'Intl',
    'HTMLElement',
    'Blob',
    'CustomEvent',
    'Event',
    'AbortController',
    'requestAnimationFrame',
    'getComputedStyle',
    'matchMedia',
    'Node',
    'FormData',
  ].map((name) => [name, 'readonly']),
);

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'certs/', 'bench-results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // An async function without await is often an interface's shape (a sync
      // implementation of an async contract); not a mistake.
      '@typescript-eslint/require-await': 'off',
      // `const { dropped, ...rest } = x` is how a field is left out of a copy.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // store/ owns all data access (docs/architecture.md, "Data access"): no other
    // folder of src/ talks to the driver or reaches past store/index.ts.
    // test/store/boundary.test.ts checks the SQL text itself.
    files: ['src/**/*.ts'],
    ignores: ['src/store/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'better-sqlite3',
              message: 'Only src/store/ talks to the database: add a repository method there.',
            },
          ],
          patterns: [
            {
              group: ['**/store/*', '!**/store/index.ts'],
              message: 'Import the store through src/store/index.ts (its public face).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['web/**/*.js', 'eslint.config.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { parserOptions: { projectService: false }, globals: browserGlobals },
  },
);
