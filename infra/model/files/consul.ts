import type { ConsulPolicy } from '../../contract/index.js';

/** Consul server agent configuration (HCL). */
export function consulHcl(o: {
  readonly bootstrapExpect: number;
  readonly retryJoin: readonly string[];
  /**
   * The subnet whose address the agent binds and advertises (server RPC, Serf): where the container has several
   * private addresses (Compose: one per network), Consul refuses to start without being told which. Absent in
   * Kubernetes, where a pod has one address.
   */
  readonly bindSubnet?: string;
}): string {
  const bind = o.bindSubnet
    ? [
        '# Several networks, several private addresses: server RPC and Serf bind to (and advertise) the one on',
        '# the data network, where Consul itself lives; the HTTP API (client_addr) listens on every network.',
        `bind_addr = "{{ GetPrivateInterfaces | include \\"network\\" \\"${o.bindSubnet}\\" | attr \\"address\\" }}"`,
      ]
    : [];
  return [
    '# Rendered from the Prism platform model; do not edit by hand.',
    'datacenter = "prism"',
    'data_dir = "/consul/data"',
    'server = true',
    `bootstrap_expect = ${o.bootstrapExpect}`,
    'client_addr = "0.0.0.0"',
    ...bind,
    'ui_config { enabled = true }',
    'disable_update_check = true',
    '# Prometheus metrics at /v1/agent/metrics?format=prometheus (kept for a minute between scrapes).',
    'telemetry {',
    '  prometheus_retention_time = "60s"',
    '  disable_hostname = true',
    '}',
    `retry_join = [${o.retryJoin.map((h) => `"${h}"`).join(', ')}]`,
    '# Default deny: nothing without a token (the tokens themselves: consulStartScript, the consul-setup task).',
    'acl {',
    '  enabled = true',
    '  default_policy = "deny"',
    '  enable_token_persistence = true',
    '}',
    '',
  ].join('\n');
}

/**
 * The server's command: the management token (from the Secret, in `tokenVar`) goes into an HCL file of its own in a
 * private tmpfs file, never into the rendered configuration or an argument. It is also the server's agent token
 * (the agent registers its own node): the server holds the management token anyway.
 */
export function consulStartScript(o: {
  readonly configDir: string;
  readonly tokenVar: string;
  readonly tokenFile: string;
}): string {
  return [
    'set -eu',
    'umask 077',
    `[ -n "$${o.tokenVar}" ] || { echo '${o.tokenVar} (the management token) is not set' >&2; exit 1; }`,
    `printf 'acl {\\n  tokens {\\n    initial_management = "%s"\\n    agent = "%s"\\n  }\\n}\\n' "$${o.tokenVar}" "$${o.tokenVar}" > ${o.tokenFile}`,
    `exec consul agent -config-dir=${o.configDir} -config-file=${o.tokenFile}`,
  ].join('\n');
}

/** One token the set-up creates: its policy, and the variable holding its SecretID. */
export interface ConsulTokenSpec {
  readonly description: string;
  readonly policy: ConsulPolicy;
  /** The policy's rules file, beside the script. */
  readonly rulesFile: string;
  readonly tokenVar: string;
}

/**
 * The ACL set-up (run with the management token in CONSUL_HTTP_TOKEN): creates or updates each policy, then
 * creates each token with its given SecretID unless a token with that SecretID already exists, and deletes the
 * other tokens of that description: a rotated SecretID ends the old one (a leaked token must not outlive its
 * rotation). Idempotent, so it runs on every deploy. SecretIDs are UUIDs (no leading '-'); `consul acl token create`
 * only takes them as an argument, which only this one-shot container's own processes can see (awk reads them from
 * its environment).
 */
export function consulSetupScript(tokens: readonly ConsulTokenSpec[]): string {
  const lines = [
    '#!/bin/sh',
    '# Rendered from the Prism platform model; do not edit by hand.',
    'set -eu',
    ': "${CONSUL_HTTP_TOKEN:?CONSUL_HTTP_TOKEN (the management token) is not set}"',
    '# Until a leader answers for the ACL system with the management token.',
    'i=0',
    'until consul acl token read -self >/dev/null 2>&1; do',
    '  i=$((i + 1))',
    '  [ "$i" -lt 90 ] || { echo "consul-setup: Consul refuses the management token or has no leader" >&2; exit 1; }',
    '  sleep 2',
    'done',
    'policy() {',
    '  if consul acl policy read -name "$1" >/dev/null 2>&1; then',
    '    consul acl policy update -name "$1" -rules "@$2" >/dev/null',
    // A read can fail for a moment while the policy exists (a second run, Consul busy): create then says so.
    '  elif ! out=$(consul acl policy create -name "$1" -rules "@$2" 2>&1 >/dev/null); then',
    '    case "$out" in',
    '      *"already exists"*) consul acl policy update -name "$1" -rules "@$2" >/dev/null ;;',
    '      *) echo "consul-setup: policy $1: $out" >&2; exit 1 ;;',
    '    esac',
    '  fi',
    '}',
    'token() {',
    '  [ -n "$3" ] || { echo "consul-setup: no SecretID for $1" >&2; exit 1; }',
    '  if ! CONSUL_HTTP_TOKEN="$3" consul acl token read -self >/dev/null 2>&1; then',
    '    consul acl token create -description "$1" -policy-name "$2" -secret "$3" >/dev/null',
    '    echo "consul-setup: token created: $1"',
    '  fi',
    '  # The tokens this one replaces: same description, another SecretID.',
    '  list=$(consul acl token list)',
    '  printf "%s\\n" "$list" | DESCRIPTION="$1" SECRET="$3" awk \'',
    '    $1 == "AccessorID:" { id = $2 }',
    '    $1 == "SecretID:" { secret = $2 }',
    '    $1 == "Description:" { sub(/^Description:[ \\t]*/, ""); if ($0 == ENVIRON["DESCRIPTION"] && secret != ENVIRON["SECRET"]) print id }',
    "  ' | while read -r old; do",
    '    consul acl token delete -id "$old" >/dev/null',
    '    echo "consul-setup: token replaced: $1"',
    '  done',
    '}',
  ];
  for (const t of tokens) {
    lines.push(`policy ${t.policy.name} ${t.rulesFile}`, `token "${t.description}" ${t.policy.name} "$${t.tokenVar}"`);
  }
  lines.push('echo "consul-setup: ACL policies and tokens in place"', '');
  return lines.join('\n');
}
