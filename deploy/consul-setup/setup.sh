#!/bin/sh
# Rendered from the Prism platform model; do not edit by hand.
set -eu
: "${CONSUL_HTTP_TOKEN:?CONSUL_HTTP_TOKEN (the management token) is not set}"
# Until a leader answers for the ACL system with the management token.
i=0
until consul acl token read -self >/dev/null 2>&1; do
  i=$((i + 1))
  [ "$i" -lt 90 ] || { echo "consul-setup: Consul refuses the management token or has no leader" >&2; exit 1; }
  sleep 2
done
policy() {
  if consul acl policy read -name "$1" >/dev/null 2>&1; then
    consul acl policy update -name "$1" -rules "@$2" >/dev/null
  elif ! out=$(consul acl policy create -name "$1" -rules "@$2" 2>&1 >/dev/null); then
    case "$out" in
      *"already exists"*) consul acl policy update -name "$1" -rules "@$2" >/dev/null ;;
      *) echo "consul-setup: policy $1: $out" >&2; exit 1 ;;
    esac
  fi
}
token() {
  [ -n "$3" ] || { echo "consul-setup: no SecretID for $1" >&2; exit 1; }
  if ! CONSUL_HTTP_TOKEN="$3" consul acl token read -self >/dev/null 2>&1; then
    consul acl token create -description "$1" -policy-name "$2" -secret "$3" >/dev/null
    echo "consul-setup: token created: $1"
  fi
  # The tokens this one replaces: same description, another SecretID.
  list=$(consul acl token list)
  printf "%s\n" "$list" | DESCRIPTION="$1" SECRET="$3" awk '
    $1 == "AccessorID:" { id = $2 }
    $1 == "SecretID:" { secret = $2 }
    $1 == "Description:" { sub(/^Description:[ \t]*/, ""); if ($0 == ENVIRON["DESCRIPTION"] && secret != ENVIRON["SECRET"]) print id }
  ' | while read -r old; do
    consul acl token delete -id "$old" >/dev/null
    echo "consul-setup: token replaced: $1"
  done
}
policy prism-service-gateway /etc/consul-setup/prism-service-gateway.hcl
token "prism gateway" prism-service-gateway "$CONSUL_GATEWAY_TOKEN"
policy prism-service-auth /etc/consul-setup/prism-service-auth.hcl
token "prism auth" prism-service-auth "$CONSUL_AUTH_TOKEN"
policy prism-service-config /etc/consul-setup/prism-service-config.hcl
token "prism config" prism-service-config "$CONSUL_CONFIG_TOKEN"
policy prism-service-dbmanager /etc/consul-setup/prism-service-dbmanager.hcl
token "prism dbmanager" prism-service-dbmanager "$CONSUL_DBMANAGER_TOKEN"
policy prism-metrics /etc/consul-setup/prism-metrics.hcl
token "prism prometheus" prism-metrics "$CONSUL_METRICS_TOKEN"
echo "consul-setup: ACL policies and tokens in place"
