// ESLint (flat config) with typescript-eslint's type-aware rules (recommendedTypeChecked) over every
// TypeScript and JavaScript file of the repository. Run by `npm run lint` (part of `npm test`);
// formatting is Prettier's job, not ESLint's.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** The rules that follow an `any` through the code. */
const UNSAFE_ANY = {
  '@typescript-eslint/no-explicit-any': 'off',
  '@typescript-eslint/no-unsafe-argument': 'off',
  '@typescript-eslint/no-unsafe-assignment': 'off',
  '@typescript-eslint/no-unsafe-call': 'off',
  '@typescript-eslint/no-unsafe-member-access': 'off',
  '@typescript-eslint/no-unsafe-return': 'off',
};

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'build/',
      'coverage/',
      'deploy/',
      '.prism-local/',
      'services/proto/',
      'infra/k8s/imports/',
      'services/runtime/src/proto/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Imports that are types only say so (verbatimModuleSyntax needs it; one style, fixable).
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // `_`-prefixed names are deliberately unused (positional parameters of callbacks).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // A relative import climbs at most two levels; farther targets have a name in package.json "imports"
      // (#contract, #runtime, #runtime/proto/*, #infra/*, #services/*, #test/*), resolved alike by TypeScript,
      // Node, tsx, vitest, dependency-cruiser and knip.
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./){3,}',
              message:
                'Climbs more than two levels: import it by its package.json "imports" subpath (#contract, #runtime, #test/..., ...).',
            },
          ],
        },
      ],
    },
  },
  {
    // Tests and the hardening rules walk parsed YAML/JSON documents (manifests, compose files,
    // reports) whose shape is what they check: `any` is the honest type of such a document, and the
    // assertions (for the rules, their own tests against planted bad objects) are the type check.
    files: ['test/**', 'services/*/test/**', 'services/*/bench/**', 'infra/policy/hardening.ts'],
    rules: UNSAFE_ANY,
  },
  {
    files: ['test/**', 'services/*/test/**', 'services/*/bench/**'],
    rules: {
      // Test doubles implement async interfaces (handlers, hooks) that need not await anything.
      '@typescript-eslint/require-await': 'off',
      // Tests call gRPC methods by name on dynamic clients until the types are generated from services/proto.
      '@typescript-eslint/no-unsafe-function-type': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    // CommonJS files (the dependency-cruiser config, a `node --require` preload) load modules with require().
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
