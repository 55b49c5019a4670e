/**
 * The layering of the package, checked by `npm test` (test/architecture/layers.test.ts):
 *
 *   contract ← config ← model ← renderers (k8s, compose, docs) ← local set-up (local, local-platform)
 *                               ← deploy (pulumi) ← tools (diff, checklist) ← entry points (charts, infra/cli)
 *
 *   manifest (a rendered Kubernetes object: its type, key and pod-template walker) sits beside contract at
 *   the bottom: it imports nothing, and whatever reads rendered output (policy, pulumi, diff, checklist)
 *   imports it. The diff reads rendered YAML only, so it needs nothing else (and never loads the Pulumi SDK).
 *
 * Each layer lists what it may import; the services import only the contract (and their shared
 * runtime). Tests may import anything.
 */

/** What each directory of infra/ may import from the repository, besides itself. */
const ALLOWED = {
  contract: [],
  manifest: [],
  config: ['contract'],
  model: ['contract', 'config'],
  policy: ['manifest'],
  k8s: ['contract', 'config', 'model', 'policy'],
  compose: ['contract', 'config', 'model'],
  docs: ['contract', 'config', 'model'],
  local: ['contract', 'config', 'model', 'k8s'],
  'local-platform': ['contract', 'config', 'model', 'local'],
  pulumi: ['contract', 'config', 'model', 'k8s', 'manifest'],
  diff: ['manifest'],
  checklist: ['contract', 'config', 'model', 'policy', 'manifest'],
};

/** Layers other code reaches through their index only (their public surface). */
const INDEXED = ['contract', 'config', 'model', 'manifest'];

const NOT_TESTS = ['(^|/)test/', '\\.test\\.ts$'];
const alt = (names) => names.map((n) => n.replace(/[-]/g, '\\-')).join('|');

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'A cycle makes the layers meaningless and module initialization order-dependent. A cycle closed only by ' +
        '`import type` is erased at run time and allowed (a context type naming the handlers that use it).',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    ...Object.entries(ALLOWED).map(([layer, allowed]) => ({
      name: `layer-${layer}`,
      severity: 'error',
      comment: `infra/${layer} may import only ${allowed.length ? allowed.map((a) => `infra/${a}`).join(', ') : 'packages'} (see the layering at the top of this file).`,
      from: { path: `^infra/${layer}/` },
      to: {
        path: '^(infra|charts|services|test|scripts)/',
        pathNot: `^infra/(${alt([layer, ...allowed])})/`,
      },
    })),
    {
      name: 'entry-points-are-leaves',
      severity: 'error',
      comment: 'charts/ and infra/cli/ are entry points: nothing but a test imports them.',
      from: { path: '^(infra|services)/', pathNot: [...NOT_TESTS, '^infra/cli/'] },
      to: { path: '^(charts|infra/cli)/' },
    },
    {
      name: 'charts-entry-point',
      severity: 'error',
      comment:
        'charts/ is the cdk8s entry point: the charts themselves live with the Kubernetes renderer (infra/k8s/charts).',
      from: { path: '^charts/' },
      to: { path: '^(infra/(?!(config|model|k8s)/)|services/|test/|scripts/)' },
    },
    ...INDEXED.map((layer) => ({
      name: `public-index-${layer}`,
      severity: 'error',
      comment: `Outside infra/${layer}, import it through infra/${layer}/index.ts (its public surface), not its internals.`,
      from: { path: '^(infra|charts|services)/', pathNot: [`^infra/${layer}/`, ...NOT_TESTS] },
      to: { path: `^infra/${layer}/`, pathNot: `^infra/${layer}/index\\.ts$` },
    })),
    {
      name: 'services-import-only-the-contract',
      severity: 'error',
      comment: 'A service imports infra/contract and services/runtime, never the model, a renderer or another service.',
      from: { path: '^services/([^/]+)/src/' },
      to: {
        path: '^(infra|charts|scripts|test|services)/',
        pathNot: ['^infra/contract/index\\.ts$', '^services/$1/src/', '^services/runtime/src/'],
      },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
    moduleSystems: ['es6', 'cjs'],
  },
};
