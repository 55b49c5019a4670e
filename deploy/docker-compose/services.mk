# Rendered from the Prism platform model (npm run synth); do not edit by hand.
PRISM_COMPOSE_PROJECT := prism
PRISM_MIGRATE_TASK := db-migrate
PRISM_INFRA_ALL := postgres-auth postgres-ops redis nats consul consul-setup minio minio-setup data-volume-init
PRISM_INFRA_SERVICES := postgres-auth postgres-ops redis nats consul minio
PRISM_INFRA_TASKS := consul-setup minio-setup
PRISM_CORE_ALL := gateway auth config dbmanager db-migrate backup-scheduler core-volume-init
PRISM_CORE_SERVICES := gateway auth config dbmanager
PRISM_CORE_TASKS := db-migrate
PRISM_OBSERVABILITY_ALL := prometheus jaeger loki grafana alertmanager postgres-auth-exporter postgres-ops-exporter redis-exporter nats-exporter alloy observability-volume-init
PRISM_OBSERVABILITY_SERVICES := prometheus jaeger loki grafana alertmanager postgres-auth-exporter postgres-ops-exporter redis-exporter nats-exporter alloy
PRISM_OBSERVABILITY_TASKS :=
PRISM_EDGE_ALL := edge edge-volume-init
PRISM_EDGE_SERVICES := edge
PRISM_EDGE_TASKS :=
