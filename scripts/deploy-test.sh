#!/usr/bin/env bash
# The local deploy test: the real Pulumi CLI and Kubernetes provider against a real Kubernetes v1.31 API server
# (scripts/local-cluster.sh: etcd, apiserver, controller-manager, scheduler, kwok fake nodes on 127.0.0.1).
#   1. Server-side dry-run apply of every environment's synthesized files (cert-manager, approver-policy and External
#      Secrets CRDs installed, warnings are errors), then of a Pod per workload pod template, Pod Security admission
#      enforced; the same Pods with a planted violation of the restricted profile must all be refused.
#   2. For dev, staging and prod in turn, on a local file backend: stack init, secrets from generated values,
#      preview, up (every Deployment and StatefulSet Available, every Job complete, HPAs and PDBs present), a
#      second preview that must report no changes, a one-key config change whose preview shows exactly that
#      change, destroy. Secrets: dev as its stack says (local: npm run local-secrets, the file applied before
#      Pulumi runs, and the Secret must predate every workload); staging in mode pulumi (generated values set
#      with pulumi config set --secret; none may appear in the state in plain text); prod as its stack says
#      (external: the ExternalSecret against the CRDs). Images are not built (images.build false).
# The checkout is left as it was: each stack works on a copy of its stack file (pulumi --config-file).
# Tools come from scripts/control-plane-tools.sh (built and cached on first use: about an hour on 2 busy cores), or,
# with PRISM_TOOLCHAIN=download (scripts/toolchain.sh; the default on GitHub Actions), from PATH.
# Usage: bash scripts/deploy-test.sh [--dry-run-only] [--existing-cluster] [stack...]   (default: dev staging prod)
#   --dry-run-only      step 1 only (needs no Pulumi); PRISM_KEEP_CLUSTER=1 keeps the cluster running at the end.
#   --existing-cluster  no control plane of its own: the cluster $KUBECONFIG points at (a throwaway one, e.g. kind
#                       in the pull-request workflow: real kubelets, real images), with no namespace prism yet.
#                       Step 1 covers dev, staging and prod; step 2 the stacks named (default dev). CRDs already
#                       there (cert-manager installed) are kept. PRISM_DEPLOY_TEST_REGISTRY and _TAG point the
#                       stacks at images loaded into the cluster (pull policy IfNotPresent).
#                       PRISM_DEPLOY_TEST_CONFIG: more settings of the cluster, one `<key> <value>` per line, each
#                       set with `pulumi config set --path` (e.g. `prism:cluster.apiServer.port 6443`).
#   --keep <dir>        with --existing-cluster and one stack: leave it deployed (no destroy). Its Pulumi state, stack
#                       file and scratch clone stay in <dir>; <dir>/pulumi.env sets what `pulumi -C <dir>/tree` needs
#                       (backend, passphrase, stack, config file) for later commands. The real-pods lane uses it.
#                       Step 1 then covers that stack only (every environment's dry run is the deploy test's).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/toolchain.sh
. scripts/toolchain.sh
prism_toolchain
TOOLS=(kubernetes kubectl kwok pulumi pulumi-resource-kubernetes)
DRY_RUN_ONLY=no EXISTING=no KEEP=
while [ $# -gt 0 ]; do
  case $1 in
    --dry-run-only) DRY_RUN_ONLY=yes && shift ;;
    --existing-cluster) EXISTING=yes && shift ;;
    --keep) KEEP=${2:?--keep needs a directory} && shift 2 ;;
    -*) echo "deploy-test: unknown option $1 (--dry-run-only, --existing-cluster, --keep <dir>)" >&2 && exit 2 ;;
    *) break ;;
  esac
done
[ $DRY_RUN_ONLY = no ] || TOOLS=(kubernetes kubectl kwok)
STACKS=("$@")
DRY_STACKS=()
if [ $EXISTING = yes ]; then
  [ -n "${KUBECONFIG:-}" ] || { echo "deploy-test: --existing-cluster needs KUBECONFIG (the throwaway cluster's kubeconfig)" >&2; exit 2; }
  # Whole names only: a pattern substitution would also cut "kubernetes" out of pulumi-resource-kubernetes.
  kept=()
  for t in "${TOOLS[@]}"; do [[ $t == kubernetes || $t == kwok ]] || kept+=("$t"); done
  TOOLS=("${kept[@]}")
  [ ${#STACKS[@]} -gt 0 ] || STACKS=(dev)
  DRY_STACKS=(dev staging prod)
fi
[ ${#STACKS[@]} -gt 0 ] || STACKS=(dev staging prod)
if [ -n "$KEEP" ] && { [ $EXISTING = no ] || [ ${#STACKS[@]} -ne 1 ] || [ $DRY_RUN_ONLY = yes ]; }; then
  echo "deploy-test: --keep goes with --existing-cluster and exactly one stack" >&2 && exit 2
fi
[ -z "$KEEP" ] || DRY_STACKS=("${STACKS[@]}")
[ ${#DRY_STACKS[@]} -gt 0 ] || DRY_STACKS=("${STACKS[@]}")
# kwok's pods are Ready at once; real kubelets pull the images first.
WAIT=300s
[ $EXISTING = no ] || WAIT=900s
CERT_MANAGER=v1.21.2     # cert-manager.io/v1 Issuer, ClusterIssuer, Certificate
APPROVER_POLICY=v0.28.0  # policy.cert-manager.io/v1alpha1 CertificateRequestPolicy
EXTERNAL_SECRETS=v1.3.2  # external-secrets.io/v1 ExternalSecret, ClusterSecretStore
started=$(date +%s)

step() { echo "== deploy-test [$(($(date +%s) - started)) s] $*"; }
fail() { echo "deploy-test: FAILED: $*" >&2; exit 1; }

bash scripts/control-plane-tools.sh "${TOOLS[@]}"
tools_path=$(bash scripts/control-plane-tools.sh --print-path "${TOOLS[@]}")
PATH="$tools_path${tools_path:+:}$PATH"
export PATH

if [ -n "$KEEP" ]; then
  rm -rf "$KEEP" && mkdir -p "$KEEP" && WORK=$(cd "$KEEP" && pwd)
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/prism-deploy-test.XXXX")
fi
export PRISM_CLUSTER_DIR=$WORK/cluster
tracked_before=$(git status --porcelain)
cleanup() {
  local rc=$?
  if [ -n "$KEEP" ]; then
    [ $rc -eq 0 ] || echo "deploy-test: failed; the stack's state is kept in $WORK" >&2
  elif [ $EXISTING = yes ]; then
    rm -rf "$WORK"
  elif [ "${PRISM_KEEP_CLUSTER:-}" = 1 ]; then
    echo "deploy-test: cluster kept: export KUBECONFIG=$PRISM_CLUSTER_DIR/admin.kubeconfig; stop: PRISM_CLUSTER_DIR=$PRISM_CLUSTER_DIR bash scripts/local-cluster.sh stop"
  else
    bash scripts/local-cluster.sh stop || true
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT

if [ $EXISTING = yes ]; then
  step "cluster: the existing one \$KUBECONFIG points at ($(kubectl config current-context))"
  ! kubectl get namespace prism >/dev/null 2>&1 || fail "namespace prism exists in $(kubectl config current-context): use a throwaway cluster"
  kubectl get nodes -L topology.kubernetes.io/zone
else
  step "cluster"
  bash scripts/local-cluster.sh start
  export KUBECONFIG=$PRISM_CLUSTER_DIR/admin.kubeconfig
fi
# The CRDs of the operators the manifests use, unless an operator installed them: source mode from their Go
# modules (through the module proxy), download mode from the projects' releases on GitHub.
crd_dir() { GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod download -json "$1" | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s).Dir))'; }
if [ "$PRISM_TOOLCHAIN" = source ]; then
  cert_manager=$(crd_dir "github.com/cert-manager/cert-manager@$CERT_MANAGER")/deploy/crds
  external_secrets=$(crd_dir "github.com/external-secrets/external-secrets@$EXTERNAL_SECRETS")/config/crds/bases
  approver_policy=$(crd_dir "github.com/cert-manager/approver-policy@$APPROVER_POLICY")/deploy/crds
else
  cert_manager=https://raw.githubusercontent.com/cert-manager/cert-manager/$CERT_MANAGER/deploy/crds
  external_secrets=https://raw.githubusercontent.com/external-secrets/external-secrets/$EXTERNAL_SECRETS/config/crds/bases
  approver_policy=https://raw.githubusercontent.com/cert-manager/approver-policy/$APPROVER_POLICY/deploy/crds
fi
crds=()
for crd in "$cert_manager/cert-manager.io_issuers.yaml" "$cert_manager/cert-manager.io_clusterissuers.yaml" \
  "$cert_manager/cert-manager.io_certificates.yaml" "$external_secrets/external-secrets.io_externalsecrets.yaml" \
  "$external_secrets/external-secrets.io_clustersecretstores.yaml" \
  "$approver_policy/policy.cert-manager.io_certificaterequestpolicies.yaml"; do
  name=${crd##*/} name=${name%.yaml} # <group>_<plural>
  kubectl get crd "${name#*_}.${name%%_*}" >/dev/null 2>&1 || crds+=(-f "$crd")
done
[ ${#crds[@]} -eq 0 ] || kubectl apply --server-side "${crds[@]}" >/dev/null
kubectl wait --for condition=Established --timeout 60s crd/issuers.cert-manager.io crd/clusterissuers.cert-manager.io \
  crd/certificates.cert-manager.io crd/externalsecrets.external-secrets.io crd/clustersecretstores.external-secrets.io \
  crd/certificaterequestpolicies.policy.cert-manager.io >/dev/null
# The mesh CA's Certificate lives in cert-manager's namespace (certManager.namespace), which installing cert-manager creates.
kubectl get namespace cert-manager >/dev/null 2>&1 || kubectl create namespace cert-manager >/dev/null

step "server-side dry run of the synthesized files of ${DRY_STACKS[*]}, Pod Security enforced"
OUT=$WORK/synth
CDK8S_OUTDIR=$OUT npx tsx charts/main.ts
for env in "${DRY_STACKS[@]}"; do
  # A dry run creates nothing: the namespaces and service accounts Pods need are created for real, then removed.
  node scripts/workload-pods.mjs prerequisites "$OUT/$env" | kubectl apply --server-side --warnings-as-errors -f - >/dev/null
  kubectl apply --server-side --dry-run=server --warnings-as-errors -f "$OUT/$env/" >"$WORK/dry-run-$env.log" 2>&1 ||
    { cat "$WORK/dry-run-$env.log" >&2; fail "$env: the API server refused a synthesized object"; }
  # Pod Security admission enforces on Pods (on workloads it only warns): a Pod of every pod template.
  node scripts/workload-pods.mjs pods "$OUT/$env" >"$WORK/pods-$env.json"
  kubectl apply --server-side --dry-run=server --warnings-as-errors -f "$WORK/pods-$env.json" >"$WORK/pods-$env.log" 2>&1 ||
    { cat "$WORK/pods-$env.log" >&2; fail "$env: the API server refused the Pod of a workload"; }
  # The proof that the namespace's enforce label is honoured: each of those Pods with a planted violation of
  # the restricted profile is refused, naming the version the label pins.
  node scripts/workload-pods.mjs pods --violate "$OUT/$env" >"$WORK/violations-$env.json"
  planted=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).items.length' "$WORK/violations-$env.json")
  ! kubectl apply --server-side --dry-run=server -f "$WORK/violations-$env.json" >"$WORK/violations-$env.log" 2>&1 ||
    fail "$env: Pods violating the restricted profile were accepted"
  refused=$(grep -c '(Forbidden): .* violates PodSecurity "restricted:v[0-9.]*": allowPrivilegeEscalation != false' "$WORK/violations-$env.log" || true)
  if [ "$planted" -eq 0 ] || [ "$refused" -ne "$planted" ]; then
    cat "$WORK/violations-$env.log" >&2
    fail "$env: $refused of $planted Pods with a planted violation refused by Pod Security"
  fi
  echo "   $env: $(grep -c 'serverside-applied' "$WORK/dry-run-$env.log") objects and $(grep -c 'serverside-applied' "$WORK/pods-$env.log") workload Pods accepted; $refused Pods with a planted violation refused"
  kubectl delete namespace prism prism-logging --ignore-not-found --wait=true >/dev/null
done
[ $DRY_RUN_ONLY = no ] || { step "passed (dry run only): ${DRY_STACKS[*]}"; exit 0; }

export PULUMI_BACKEND_URL=file://$WORK/state PULUMI_SKIP_UPDATE_CHECK=true PULUMI_CONFIG_PASSPHRASE=deploy-test-$RANDOM$RANDOM
# Source mode: the built provider on PATH, nothing fetched. Download mode: the plugin control-plane-tools.sh
# installed in the user's Pulumi home.
[ "$PRISM_TOOLCHAIN" = download ] || export PULUMI_HOME=$WORK/pulumi-home PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
mkdir -p "$WORK/state"
TREE=$WORK/tree
git clone -q --shared . "$TREE"

# pulumi with the stack's working copy of its config file (commands that take --config-file).
p() { pulumi --non-interactive --color never --stack "$stack" --config-file "$WORK/Pulumi.$stack.yaml" "$@"; }

# Each secret key: its Pulumi key, its source and, for one the local set-ups derive, the Pulumi key it derives from.
secret_keys() {
  npx tsx -e 'import { SECRET_KEYS, secretSpec } from "./infra/contract/index.ts";
    import { DERIVED_SECRETS } from "./infra/local/minio-token.ts";
    for (const s of SECRET_KEYS) {
      const d = DERIVED_SECRETS.find((x) => x.key === s.key);
      console.log(s.pulumiKey, s.source, d ? secretSpec(d.from).pulumiKey : "");
    }'
}

# Every Deployment and StatefulSet Available with all replicas ready, every Job complete, HPAs and PDBs there.
check_workloads() {
  local ns=prism
  kubectl -n $ns wait --for condition=Available deployment --all --timeout $WAIT >/dev/null || fail "$stack: a Deployment is not Available"
  local sts
  for sts in $(kubectl -n $ns get statefulset -o name); do
    kubectl -n $ns rollout status "$sts" --timeout $WAIT >/dev/null || fail "$stack: $sts is not ready"
  done
  kubectl -n $ns wait --for condition=Complete job --all --timeout $WAIT >/dev/null || fail "$stack: a Job did not complete"
  local expected_hpa expected_pdb expected=$OUT/$stack
  # With settings of the cluster's own (PRISM_DEPLOY_TEST_CONFIG: more replicas get a PodDisruptionBudget), the
  # expected objects are those of the stack file as deployed.
  if [ -n "${PRISM_DEPLOY_TEST_CONFIG:-}" ]; then
    mkdir -p "$WORK/deployed-config" && cp "$WORK/Pulumi.$stack.yaml" "$WORK/deployed-config/"
    PRISM_STACKS=$WORK/deployed-config PRISM_OUT=$WORK/deployed-synth npx tsx -e \
      'import { synthesizeEnvironments } from "./infra/k8s/charts/environments.ts"; synthesizeEnvironments(process.env.PRISM_STACKS, process.env.PRISM_OUT);'
    expected=$WORK/deployed-synth/$stack
  fi
  expected_hpa=$(cat "$expected"/*.yaml | grep -c '^kind: HorizontalPodAutoscaler' || true)
  expected_pdb=$(cat "$expected"/*.yaml | grep -c '^kind: PodDisruptionBudget' || true)
  [ "$(kubectl -n $ns get hpa --no-headers 2>/dev/null | wc -l)" -eq "$expected_hpa" ] || fail "$stack: expected $expected_hpa HPAs"
  [ "$(kubectl -n $ns get pdb --no-headers 2>/dev/null | wc -l)" -eq "$expected_pdb" ] || fail "$stack: expected $expected_pdb PDBs"
  echo "   $stack: $(kubectl -n $ns get deploy --no-headers | wc -l) Deployments and $(kubectl -n $ns get sts --no-headers | wc -l) StatefulSets available, $(kubectl -n $ns get job --no-headers | wc -l) Jobs complete, $expected_hpa HPAs, $expected_pdb PDBs"
}

# The Secret existed before any workload of the namespace was created.
check_secret_first() {
  local secret_time
  secret_time=$(kubectl -n prism get secret prism-secrets -o jsonpath='{.metadata.creationTimestamp}')
  kubectl -n prism get deploy,sts,job,cronjob -o jsonpath='{range .items[*]}{.metadata.creationTimestamp}{" "}{.kind}/{.metadata.name}{"\n"}{end}' |
    while read -r t name; do [[ ! "$t" < "$secret_time" ]] || fail "$stack: $name ($t) was created before prism-secrets ($secret_time)"; done
}

# The preview of one changed key: exactly the objects that carry it change (the edge's Ingresses, one per
# backend), each an update of only the annotations the key sets.
check_one_key_preview() {
  p config set --path prism:ingress.rateLimitRps 77
  p preview --json >"$WORK/preview-change-$stack.json" 2>"$WORK/preview-change-$stack.err" || { cat "$WORK/preview-change-$stack.err" >&2; fail "$stack: preview of the change failed"; }
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const changed = (r.steps || []).filter((s) => !["same", "read"].includes(s.op));
    const want = ["prism-ingress-gateway", "prism-ingress-auth"].map((n) => "kubernetes:networking.k8s.io/v1:Ingress::prism/" + n);
    const ok = changed.length === want.length && want.every((w) => changed.some((s) => s.urn.endsWith(w))) &&
      changed.every((s) => {
        const paths = [...Object.keys(s.detailedDiff || {}), ...(s.diffReasons || [])];
        return s.op === "update" && paths.length > 0 && paths.every((k) => /^metadata\.annotations/.test(k) || k === "metadata") &&
          s.newState.inputs.metadata.annotations["nginx.ingress.kubernetes.io/limit-rps"] === "77";
      });
    if (!ok) { console.error(JSON.stringify(changed.map((s) => ({ op: s.op, urn: s.urn, paths: Object.keys(s.detailedDiff || {}), reasons: s.diffReasons })), null, 1)); process.exit(1); }
  ' "$WORK/preview-change-$stack.json" || fail "$stack: the one-key change did not preview as exactly that change"
  echo "   $stack: prism:ingress.rateLimitRps 77 previews as an update of the annotations of Ingresses prism/prism-ingress-gateway and prism/prism-ingress-auth, nothing else"
}

for stack in "${STACKS[@]}"; do
  step "$stack: stack init, secrets"
  # `pulumi stack init` has no --config-file: it writes encryptionsalt into stacks/Pulumi.<stack>.yaml. It runs in
  # a scratch clone, where it must leave the image tag's revision clean; every later command runs here on the
  # clone's stack file (--config-file), so this checkout is never written.
  cp "stacks/Pulumi.$stack.yaml" "$TREE/stacks/Pulumi.$stack.yaml"
  pulumi --non-interactive --color never -C "$TREE" stack init "$stack" >/dev/null
  grep -q '^encryptionsalt:' "$TREE/stacks/Pulumi.$stack.yaml" || fail "$stack: pulumi stack init wrote no encryptionsalt"
  # The committed file is already in the form Pulumi writes: stack init adds its salt and changes no other line.
  reformatted=$(diff <(grep -v '^encryptionsalt:' "$TREE/stacks/Pulumi.$stack.yaml") "stacks/Pulumi.$stack.yaml" || true)
  [ -z "$reformatted" ] || fail "$stack: pulumi stack init rewrote committed lines of stacks/Pulumi.$stack.yaml: $reformatted"
  revision=$(PRISM_TREE=$TREE npx tsx -e 'import { gitRevision } from "./infra/pulumi/images.ts"; console.log(gitRevision(process.env.PRISM_TREE));')
  [[ $revision != *-dirty ]] || fail "$stack: pulumi stack init made the image tag's revision dirty ($revision)"
  cp "$TREE/stacks/Pulumi.$stack.yaml" "$WORK/Pulumi.$stack.yaml"
  git -C "$TREE" checkout -q -- "stacks/Pulumi.$stack.yaml"
  p config set --path prism:images.build false
  if [ -n "${PRISM_DEPLOY_TEST_REGISTRY:-}" ]; then
    p config set --path prism:images.registry "$PRISM_DEPLOY_TEST_REGISTRY"
    p config set --path prism:images.tag "${PRISM_DEPLOY_TEST_TAG:?PRISM_DEPLOY_TEST_TAG goes with PRISM_DEPLOY_TEST_REGISTRY}"
    p config set --path prism:images.pullPolicy IfNotPresent
  fi
  while read -r key value; do
    [ -z "$key" ] || p config set --path "$key" "$value"
  done <<<"${PRISM_DEPLOY_TEST_CONFIG:-}"
  mode=$(node -e 'const y = require("yaml").parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(y.config["prism:secrets"]?.mode ?? "local")' "stacks/Pulumi.$stack.yaml")
  [ "$stack" != staging ] || mode=pulumi
  case $mode in
    local)
      npm run -s local-secrets >/dev/null
      # Before Pulumi runs: the file carries the Namespace, so it applies to an empty cluster.
      kubectl apply --server-side -f .secrets/prism-secrets.yaml >/dev/null
      ;;
    pulumi)
      npm run -s local-secrets >/dev/null # the key pair in keys/
      p config rm prism:secrets
      p config set --path prism:secrets.mode pulumi
      : >"$WORK/secret-values-$stack"
      declare -A values=()
      while read -r key source from; do
        case $source in
          password) v=$(openssl rand -base64 32); values[$key]=$v; echo "$v" >>"$WORK/secret-values-$stack"; printf '%s' "$v" | p config set --secret "prism:$key" ;;
          # Consul takes only a UUID as a token's SecretID.
          consul-token) v=$(node -p 'crypto.randomUUID()'); values[$key]=$v; echo "$v" >>"$WORK/secret-values-$stack"; printf '%s' "$v" | p config set --secret "prism:$key" ;;
          # Derived from a key set above (MinIO's metrics token from the metrics user's key), as an operator derives it.
          minio-metrics-token)
            v=$(printf '%s' "${values[$from]:?$key derives from $from, not set before it}" | npm run -s minio-metrics-token)
            echo "$v" >>"$WORK/secret-values-$stack"
            printf '%s' "$v" | p config set --secret "prism:$key"
            ;;
          jwt-private-key) p config set --secret "prism:$key" <keys/private.pem ;;
          jwt-public-key) p config set --secret "prism:$key" <keys/public.pem ;;
          # Optional ones too (a configured alert receiver needs its credential): generated stand-ins.
          provided)
            case $key in *Url) v="https://hooks.example.invalid/$(openssl rand -hex 16)" ;; *) v=$(openssl rand -hex 24) ;; esac
            echo "$v" >>"$WORK/secret-values-$stack"
            printf '%s' "$v" | p config set --secret "prism:$key"
            ;;
        esac
      done < <(secret_keys)
      [ -s "$WORK/secret-values-$stack" ] || fail "$stack: no secret keys were set (secret_keys printed none)"
      ;;
  esac
  echo "   $stack: secrets mode $mode"

  step "$stack: preview, up"
  p preview >"$WORK/preview-$stack.log" 2>&1 || { cat "$WORK/preview-$stack.log" >&2; fail "$stack: preview failed"; }
  p up --yes --skip-preview >"$WORK/up-$stack.log" 2>&1 || { tail -60 "$WORK/up-$stack.log" >&2; fail "$stack: up failed"; }
  grep -E '^ +[0-9]+ (created|unchanged)' "$WORK/up-$stack.log" | sed 's/^ */   /' || true
  check_workloads
  [ "$mode" != local ] || check_secret_first
  if [ "$mode" = local ]; then
    # The program reads the Secret: what it read must be encrypted in the state too.
    pulumi --non-interactive --stack "$stack" stack export >"$WORK/state-$stack.json"
    node -e '
      const { parseAllDocuments } = require("yaml");
      const secret = parseAllDocuments(require("fs").readFileSync(".secrets/prism-secrets.yaml", "utf8")).map((d) => d.toJS()).find((o) => o.kind === "Secret");
      for (const b64 of Object.values(secret.data)) {
        console.log(b64);
        for (const line of Buffer.from(b64, "base64").toString("utf8").split("\n")) if (line.length >= 16 && !line.startsWith("-----")) console.log(line);
      }' >"$WORK/secret-values-$stack"
    while read -r v; do ! grep -qF -- "$v" "$WORK/state-$stack.json" || fail "$stack: a value of prism-secrets is in the state in plain text"; done <"$WORK/secret-values-$stack"
    echo "   $stack: prism-secrets predates every workload; its values are not in the state in plain text"
  fi
  if [ "$mode" = pulumi ]; then
    pulumi --non-interactive --stack "$stack" stack export >"$WORK/state-$stack.json"
    while read -r v; do
      for needle in "$v" "$(printf '%s' "$v" | base64 -w0)"; do
        ! grep -qF -- "$needle" "$WORK/state-$stack.json" || fail "$stack: a secret value is in the state in plain text"
      done
    done <"$WORK/secret-values-$stack"
    grep -q '"4dabf18193072939515e22adb298388d"' "$WORK/state-$stack.json" || fail "$stack: no secret in the state (the check above proves nothing)"
    echo "   $stack: prism-secrets created by Pulumi; no generated value in the state in plain text"
  fi

  step "$stack: second preview, one-key change$([ -n "$KEEP" ] && echo ' (kept deployed)' || echo ', destroy')"
  p preview --expect-no-changes >"$WORK/preview-again-$stack.log" 2>&1 || { cat "$WORK/preview-again-$stack.log" >&2; fail "$stack: the second preview reports changes"; }
  echo "   $stack: second preview: no changes"
  cp "$WORK/Pulumi.$stack.yaml" "$WORK/Pulumi.$stack.deployed.yaml"
  check_one_key_preview
  if [ -n "$KEEP" ]; then
    mv "$WORK/Pulumi.$stack.deployed.yaml" "$WORK/Pulumi.$stack.yaml" # the deployed configuration, not the previewed change
    # <dir>/pulumi: the Pulumi CLI on this stack (its backend, passphrase, config file and clone), for later commands.
    (
      umask 077
      {
        echo '#!/bin/sh'
        printf 'export PATH=%q PULUMI_BACKEND_URL=%q PULUMI_CONFIG_PASSPHRASE=%q PULUMI_SKIP_UPDATE_CHECK=true\n' \
          "$PATH" "$PULUMI_BACKEND_URL" "$PULUMI_CONFIG_PASSPHRASE"
        [ "$PRISM_TOOLCHAIN" = download ] || printf 'export PULUMI_HOME=%q PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true\n' "$PULUMI_HOME"
        printf 'exec pulumi --non-interactive --color never --stack %q --config-file %q -C %q "$@"\n' "$stack" "$WORK/Pulumi.$stack.yaml" "$TREE"
      } >"$WORK/pulumi"
      chmod 700 "$WORK/pulumi"
    )
    step "$stack: kept deployed (the Pulumi CLI on it: $WORK/pulumi)"
    continue
  fi
  p destroy --yes --skip-preview >"$WORK/destroy-$stack.log" 2>&1 || { tail -40 "$WORK/destroy-$stack.log" >&2; fail "$stack: destroy failed"; }
  kubectl wait --for delete namespace/prism --timeout 300s >/dev/null 2>&1 || true
  ! kubectl get namespace prism >/dev/null 2>&1 || fail "$stack: namespace prism still there after destroy"
  pulumi --non-interactive -C "$TREE" stack rm --yes --preserve-config "$stack" >/dev/null
  [ $EXISTING = yes ] || bash scripts/local-cluster.sh volumes
done

[ "$(git status --porcelain)" = "$tracked_before" ] || fail "the checkout changed: $(git status --porcelain)"
step "passed: ${STACKS[*]}"
