// The linter's first job is the architecture: which part may import which (docs/architecture in
// DEVELOPERS.md): plugins → SDK → protocol; mouth → protocol (and the SDK); tree-supervisor →
// protocol and the mouth's network config schema. `npm test` runs it before vitest.
import tseslint from 'typescript-eslint';

const restrict = (...patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });
const never = (regex, message) => ({ regex, message });

const NO_SUPERVISOR = never('(^|/)tree-supervisor/', 'only the tree supervisor imports tree-supervisor/: move what is shared into protocol/ (or the mouth\'s config schema into mouth/)');
const NO_PLUGINS = never('(^|/)plugins/', 'nothing below plugins imports a plugin: move what is shared into the SDK (protocol/sdk/)');
const NO_MOUTH = never('(^|/)mouth/', 'protocol/ and plugins are below the mouth: they do not import it');

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      // The code base uses `_`-prefixed names for deliberately unused parameters.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  // protocol/ (not the SDK): the bottom layer, imports nothing of Hive's above it.
  { files: ['protocol/*.ts'], ignores: ['**/*.test.ts'], rules: restrict(NO_SUPERVISOR, NO_PLUGINS, NO_MOUTH, never('^\\./sdk/', 'protocol/ is below the SDK: it does not import protocol/sdk/')) },
  { files: ['protocol/sdk/**/*.ts'], ignores: ['**/*.test.ts'], rules: restrict(NO_SUPERVISOR, NO_PLUGINS, NO_MOUTH) },
  { files: ['mouth/**/*.ts'], ignores: ['**/*.test.ts'], rules: restrict(NO_SUPERVISOR, NO_PLUGINS) },
  {
    files: ['tree-supervisor/**/*.ts'], ignores: ['**/*.test.ts'],
    rules: restrict(NO_PLUGINS, never('(^|/)mouth/(?!network-config\\.js$)', 'the supervisor imports only the mouth\'s network config schema (mouth/network-config.ts)')),
  },
  // A plugin sees the SDK's public API (protocol/sdk/index.ts, what `hive/sdk` exports; config.ts,
  // `hive/sdk/config`, for config schemas, apart so that a plugin without one does not load zod) and its own files.
  {
    files: ['plugins/*/*.ts'], ignores: ['**/*.test.ts'],
    rules: restrict(
      never('^\\.\\./\\.\\./(?!protocol/sdk/(index|config)\\.js$)', 'a plugin imports only the SDK\'s public API, ../../protocol/sdk/index.js (and config.js)'),
      never('^\\.\\./(?!\\.\\./)', 'a plugin does not import another plugin\'s files: move what is shared into the SDK'),
    ),
  },
  {
    files: ['plugins/*/*/*.ts'], ignores: ['**/*.test.ts'],
    rules: restrict(
      never('^\\.\\./\\.\\./\\.\\./(?!protocol/sdk/(index|config)\\.js$)', 'a plugin imports only the SDK\'s public API, ../../../protocol/sdk/index.js (and config.js)'),
      never('^\\.\\./(?!\\.\\./\\.\\./)', 'a plugin does not import another plugin\'s files: move what is shared into the SDK'),
    ),
  },
);
