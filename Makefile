# Prism local development: the deployment guide's targets. The compose files, config files,
# .env.example and services.mk under deploy/ are rendered from the platform model by
# `npm run synth` (committed, so Docker alone can run them). See README, "Local development".
SHELL := /bin/bash
.DEFAULT_GOAL := help

COMPOSE_DIR := deploy/docker-compose
ENV_FILE := $(COMPOSE_DIR)/.env
KEYS := keys/private.pem keys/public.pem
TSX := node_modules/.bin/tsx

# PRISM_*_SERVICES / _TASKS / PRISM_COMPOSE_PROJECT / PRISM_MIGRATE_TASK, derived from the model.
include $(COMPOSE_DIR)/services.mk

# The compose files are one project split by concern: relative paths resolve from
# deploy/docker-compose, and containers of the other files are not orphans.
export COMPOSE_IGNORE_ORPHANS := true
COMPOSE := docker compose --project-name $(PRISM_COMPOSE_PROJECT) --project-directory $(COMPOSE_DIR) --env-file $(ENV_FILE)
INFRA := -f $(COMPOSE_DIR)/docker-compose.infra.yml
# docker-compose.yml's services wait for the infrastructure's (the migrations for the databases): it is loaded
# with the infrastructure file, and the commands on it name the core services.
CORE := -f $(COMPOSE_DIR)/docker-compose.yml $(INFRA)
OBS := -f $(COMPOSE_DIR)/docker-compose.observability.yml
EDGE := -f deploy/traefik/docker-compose.traefik.yml
ALL := $(CORE) $(OBS) $(EDGE)
WAIT := --wait --wait-timeout 300

.PHONY: help dev-setup generate-keys local-certs local-secrets synth test \
	docker-infra-up docker-infra-down docker-obs-up docker-obs-down docker-up docker-down \
	docker-full-up docker-full-down docker-logs docker-clean docker-build docker-migrate \
	local-up local-status local-logs local-down backup-all backup-auth backup-ops backup-list

# --- help ---------------------------------------------------------------------------------

help: ## List the targets, by group (the `# --- group ---` lines of this file)
	@awk '/^# --- / { g = $$0; sub(/^# --- /, "", g); sub(/ -+$$/, "", g); printf "\n%s:\n", g; next } \
		/^[a-z-]+:.*## / { t = $$0; sub(/:.*/, "", t); d = $$0; sub(/^[^#]*## /, "", d); printf "  %-18s %s\n", t, d }' $(firstword $(MAKEFILE_LIST))

# --- set-up -------------------------------------------------------------------------------

dev-setup: ## Check prerequisites, create .env and keys, start infrastructure, migrate, build
	@bash scripts/dev-setup.sh

$(TSX):
	npm ci --no-audit --no-fund

$(ENV_FILE): $(COMPOSE_DIR)/.env.example | $(TSX)
	@$(TSX) infra/cli/local.ts env

$(KEYS): | $(TSX)
	@$(TSX) infra/cli/local.ts keys

generate-keys: | $(TSX) ## Create keys/private.pem (0600) and keys/public.pem; FORCE=1 replaces existing keys
	@$(TSX) infra/cli/local.ts keys $(if $(FORCE),--force)

local-certs: | $(TSX) ## Mesh CA and service certificates in .secrets/mtls (mutual TLS); RENEW=1 re-issues them (rotation)
	@$(TSX) infra/cli/local.ts certs $(if $(RENEW),--renew)

local-secrets: | $(TSX) ## Write .secrets/prism-secrets.yaml for a local Kubernetes cluster
	@npm run --silent local-secrets

synth: ## Render Kubernetes (dist/k8s) and the compose and config files (deploy/)
	npm run synth

test: ## Type-check and run the tests
	npm test

# --- the local platform: every service as a process on 127.0.0.1, no Docker (README, "Run it locally without Docker") ---

local-up: | $(TSX) ## Start the whole platform locally (npm run local:up); options: ARGS="--gateways 2 --fresh"
	@npm run --silent local:up -- $(ARGS)

local-status: | $(TSX) ## Every local process, running or not, and the endpoints
	@npm run --silent local:status

local-logs: | $(TSX) ## The last lines of a local process's log: make local-logs service=gateway-1
	@npm run --silent local:logs -- $(service)

local-down: | $(TSX) ## Stop the local platform (the data is kept)
	@npm run --silent local:down

# --- Docker Compose -----------------------------------------------------------------------

docker-infra-up: $(ENV_FILE) local-certs ## Start PostgreSQL x2, Redis, NATS, Consul, MinIO (and create the backup bucket)
	$(COMPOSE) $(INFRA) up -d $(WAIT) $(PRISM_INFRA_SERVICES)
	@for task in $(PRISM_INFRA_TASKS); do echo "$(COMPOSE) $(INFRA) run --rm $$task"; $(COMPOSE) $(INFRA) run --rm $$task || exit 1; done

docker-infra-down: $(ENV_FILE) ## Stop and remove the infrastructure containers (volumes are kept)
	$(COMPOSE) $(INFRA) rm --stop --force

docker-obs-up: $(ENV_FILE) ## Start Prometheus, Jaeger, Loki, Grafana
	$(COMPOSE) $(OBS) up -d $(WAIT) $(PRISM_OBSERVABILITY_SERVICES)

docker-obs-down: $(ENV_FILE) ## Stop and remove the observability containers
	$(COMPOSE) $(OBS) rm --stop --force

docker-build: $(ENV_FILE) $(KEYS) ## Build the service images
	$(COMPOSE) $(CORE) build

docker-migrate: $(ENV_FILE) $(KEYS) ## Apply the database migrations (the one-shot migration task; waits for the databases)
	$(COMPOSE) $(CORE) run --rm --build $(PRISM_MIGRATE_TASK)

docker-up: docker-infra-up $(KEYS) local-certs ## Start the core services (gateway, auth, config, dbmanager) on top of the infrastructure
	$(COMPOSE) $(CORE) up -d --build $(WAIT) $(PRISM_CORE_SERVICES)

docker-down: $(ENV_FILE) ## Stop and remove the core service containers
	$(COMPOSE) $(CORE) rm --stop --force $(PRISM_CORE_ALL)

docker-full-up: docker-infra-up $(KEYS) local-certs ## Start everything: infrastructure, services, observability, Traefik
	$(COMPOSE) $(ALL) up -d --build $(WAIT) $(PRISM_CORE_SERVICES) $(PRISM_OBSERVABILITY_SERVICES) $(PRISM_EDGE_SERVICES)

docker-full-down: $(ENV_FILE) ## Stop and remove every container and network (volumes are kept)
	$(COMPOSE) $(ALL) down --remove-orphans

docker-logs: $(ENV_FILE) ## Follow logs: make docker-logs service=<name> (all services without it)
	$(COMPOSE) $(ALL) logs -f $(service)

docker-clean: $(ENV_FILE) ## Stop everything and remove the volumes (all local data)
	$(COMPOSE) $(ALL) down --volumes --remove-orphans

# --- backups: the DB manager does the work (deploy/backup/); Compose when a Docker engine answers, else the local platform (PRISM_BACKUP_MODE=local) ---

backup-all: backup-auth backup-ops ## Full backup of both databases

backup-auth: ## Full backup of prism_auth
	./deploy/backup/backup.sh auth full

backup-ops: ## Full backup of prism_ops
	./deploy/backup/backup.sh ops full

backup-list: ## List the available backups
	./deploy/backup/backup.sh list
