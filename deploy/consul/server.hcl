# Rendered from the Prism platform model; do not edit by hand.
datacenter = "prism"
data_dir = "/consul/data"
server = true
bootstrap_expect = 1
client_addr = "0.0.0.0"
# Several networks, several private addresses: server RPC and Serf bind to (and advertise) the one on
# the data network, where Consul itself lives; the HTTP API (client_addr) listens on every network.
bind_addr = "{{ GetPrivateInterfaces | include \"network\" \"10.213.42.0/24\" | attr \"address\" }}"
ui_config { enabled = true }
disable_update_check = true
# Prometheus metrics at /v1/agent/metrics?format=prometheus (kept for a minute between scrapes).
telemetry {
  prometheus_retention_time = "60s"
  disable_hostname = true
}
retry_join = []
# Default deny: nothing without a token (the tokens themselves: consulStartScript, the consul-setup task).
acl {
  enabled = true
  default_policy = "deny"
  enable_token_persistence = true
}
