-- prism_ops: audit logs, events, metrics, the backup catalog, configuration values with history.

CREATE TABLE audit_logs (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  actor       text NOT NULL,
  action      text NOT NULL,
  resource    text,
  request_id  text,
  details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_logs_time_idx ON audit_logs (occurred_at);

CREATE TABLE events (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  subject     text NOT NULL,
  source      text,
  payload     jsonb NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_subject_time_idx ON events (subject, received_at);

CREATE TABLE metrics (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text NOT NULL,
  labels      jsonb NOT NULL DEFAULT '{}',
  value       double precision NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX metrics_name_time_idx ON metrics (name, recorded_at);

-- One row per backup. Object storage is self-describing (each backup carries its own
-- metadata object), so a database can be restored even when this catalog is lost.
CREATE TABLE backups (
  name            text PRIMARY KEY,
  db              text NOT NULL CHECK (db IN ('auth', 'ops')),
  kind            text NOT NULL CHECK (kind IN ('full', 'delta', 'wal')),
  -- A delta names the backup it is relative to.
  parent          text REFERENCES backups (name),
  status          text NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'expired')),
  started_at      timestamptz NOT NULL,
  finished_at     timestamptz,
  size_bytes      bigint,
  database_bytes  bigint,
  timeline        integer,
  start_lsn       pg_lsn,
  end_lsn         pg_lsn,
  wal_start       text,
  wal_end         text,
  storage_prefix  text NOT NULL,
  -- sha256 of every stored object of the backup, by object key.
  checksums       jsonb NOT NULL DEFAULT '{}',
  files_total     integer,
  files_stored    integer,
  error           text
);
CREATE INDEX backups_db_time_idx ON backups (db, started_at DESC);

CREATE TABLE wal_segments (
  db          text NOT NULL CHECK (db IN ('auth', 'ops')),
  name        text NOT NULL CHECK (name ~ '^[0-9A-F]{24}$' OR name ~ '^[0-9A-F]{8}\.history$'),
  size_bytes  bigint NOT NULL,
  sha256      text NOT NULL,
  archived_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (db, name)
);

CREATE TABLE backup_verifications (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  backup_name text NOT NULL,
  db          text NOT NULL CHECK (db IN ('auth', 'ops')),
  mode        text NOT NULL CHECK (mode IN ('dry-run', 'restore', 'scheduled')),
  target_time timestamptz,
  started_at  timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  ok          boolean NOT NULL,
  details     jsonb NOT NULL DEFAULT '{}',
  error       text
);
CREATE INDEX backup_verifications_db_time_idx ON backup_verifications (db, finished_at DESC);

-- Current configuration values (the latest version of each key) ...
CREATE TABLE config_values (
  environment text NOT NULL,
  service     text NOT NULL,
  key         text NOT NULL,
  value       jsonb NOT NULL,
  version     integer NOT NULL CHECK (version > 0),
  updated_at  timestamptz NOT NULL,
  updated_by  text NOT NULL,
  PRIMARY KEY (environment, service, key)
);

-- ... and every change ever made, so any version can be read back or restored.
CREATE TABLE config_history (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  environment   text NOT NULL,
  service       text NOT NULL,
  key           text NOT NULL,
  version       integer NOT NULL CHECK (version > 0),
  -- NULL when the change deleted the key.
  value         jsonb,
  action        text NOT NULL CHECK (action IN ('set', 'delete', 'rollback')),
  rolled_back_to integer,
  changed_by    text NOT NULL,
  changed_at    timestamptz NOT NULL DEFAULT now(),
  comment       text,
  UNIQUE (environment, service, key, version)
);
