// Preloaded into `cdk8s import k8s@<version>` by scripts/k8s-imports/generate.sh. The CLI downloads the
// Kubernetes schema from GitHub; this machine has no network, so its download is answered from
// $K8S_SCHEMA_FILE (the Kubernetes 1.29 `_definitions.json` of the kubernetes-validate wheel), in the form
// the CLI reads (draft-4 `definitions`, no `null` in types: kubernetes-validate writes draft 2020-12 with
// nullable types), pruned to the kinds in $K8S_KINDS and the types they reference, so the generated module
// holds what the constructs use.
const { readFileSync } = require('node:fs');
const { dirname, join } = require('node:path');

const util = require(join(dirname(require.resolve('cdk8s-cli/package.json')), 'lib/util.js'));
const schemaFile = process.env.K8S_SCHEMA_FILE;
const kinds = new Set((process.env.K8S_KINDS ?? '').split(/\s+/).filter(Boolean));
if (!schemaFile || kinds.size === 0) throw new Error('K8S_SCHEMA_FILE and K8S_KINDS must be set');

/** `apiVersion/kind` of a definition that is an API object (`v1/ConfigMap`, `apps/v1/Deployment`). */
function gvk(def) {
  const [g] = def['x-kubernetes-group-version-kind'] ?? [];
  return g ? `${g.group ? `${g.group}/` : ''}${g.version}/${g.kind}` : undefined;
}

/** Draft 2020-12 with nullable types to the draft-4 form of cdk8s-team's kubernetes-schemas. */
function draft4(schema) {
  const convert = (v) => {
    if (Array.isArray(v)) return v.map(convert);
    if (typeof v !== 'object' || v === null) return v;
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === '$ref' && typeof x === 'string') out[k] = x.replace('#/$defs/', '#/definitions/');
      else if (k === 'type' && Array.isArray(x)) {
        const types = x.filter((t) => t !== 'null');
        out[k] = types.length === 1 ? types[0] : types;
      } else out[k] = convert(x);
    }
    return out;
  };
  return { definitions: convert(schema.$defs ?? schema.definitions) };
}

function pruned(schema) {
  const keep = new Set();
  const visit = (name) => {
    if (keep.has(name) || !schema.definitions[name]) return;
    keep.add(name);
    JSON.stringify(schema.definitions[name]).replace(/"\$ref":"#\/definitions\/([^"]+)"/g, (_, ref) => visit(ref));
  };
  const found = new Set();
  for (const [name, def] of Object.entries(schema.definitions)) {
    const id = gvk(def);
    if (id && kinds.has(id)) {
      found.add(id);
      visit(name);
    }
  }
  const missing = [...kinds].filter((k) => !found.has(k));
  if (missing.length > 0) throw new Error(`kinds not in ${schemaFile}: ${missing.join(', ')}`);
  return {
    ...schema,
    definitions: Object.fromEntries(Object.entries(schema.definitions).filter(([n]) => keep.has(n))),
  };
}

const original = util.download;
util.download = async (url) => {
  if (!url.startsWith('https://raw.githubusercontent.com/cdk8s-team/cdk8s/master/kubernetes-schemas/'))
    return original(url);
  return JSON.stringify(pruned(draft4(JSON.parse(readFileSync(schemaFile, 'utf8')))));
};
