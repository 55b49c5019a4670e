-- prism_auth: users, sessions, refresh-token families, API keys, OAuth, login throttling, outbox.
-- Secrets are never stored in clear: passwords as argon2id PHC strings, tokens and keys as SHA-256 digests.

CREATE TABLE users (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email               text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 320),
  email_verified      boolean NOT NULL DEFAULT false,
  -- argon2id PHC string; NULL for accounts that only sign in through OAuth.
  password_hash       text CHECK (password_hash IS NULL OR password_hash LIKE '$argon2id$%'),
  display_name        text,
  status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  password_changed_at timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (email);

-- Failed logins counted per account key (the normalised e-mail, known or not, so unknown and
-- known users behave alike). The lock is temporary: locked_until always lies in the future.
CREATE TABLE login_throttle (
  account_key       text PRIMARY KEY,
  failures          integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
  window_started_at timestamptz NOT NULL DEFAULT now(),
  last_failure_at   timestamptz,
  locked_until      timestamptz
);

-- A session is one refresh-token family: rotation keeps the session, reuse revokes it whole.
CREATE TABLE sessions (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at     timestamptz NOT NULL DEFAULT now(),
  last_used_at   timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL,
  revoked_at     timestamptz,
  revoked_reason text CHECK (revoked_reason IN ('logout', 'password_change', 'reuse_detected', 'user', 'admin', 'expired')),
  user_agent     text,
  ip             inet,
  CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE INDEX sessions_user_active_idx ON sessions (user_id) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  -- SHA-256 of the opaque token; the token itself is shown once and never stored.
  token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  parent_id   uuid REFERENCES refresh_tokens (id) ON DELETE SET NULL,
  issued_at   timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  -- Set when the token is exchanged; presenting it again is reuse.
  used_at     timestamptz,
  revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

CREATE TABLE api_keys (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  -- The identifiable public part of the key, used to find the row before a constant-time compare.
  prefix       text NOT NULL UNIQUE,
  key_hash     bytea NOT NULL CHECK (length(key_hash) = 32),
  scopes       text[] NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  expires_at   timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);

CREATE TABLE oauth_accounts (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  provider         text NOT NULL CHECK (provider IN ('google', 'github')),
  provider_user_id text NOT NULL,
  email            text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (provider, provider_user_id),
  UNIQUE (user_id, provider)
);

-- Pending authorization-code flows: single use (consumed_at), short-lived, PKCE verifier kept server-side.
CREATE TABLE oauth_states (
  state_hash    bytea PRIMARY KEY CHECK (length(state_hash) = 32),
  provider      text NOT NULL CHECK (provider IN ('google', 'github')),
  code_verifier text,
  redirect_uri  text NOT NULL,
  -- Set when an authenticated user links a provider to their account.
  link_user_id  uuid REFERENCES users (id) ON DELETE CASCADE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  consumed_at   timestamptz
);
CREATE INDEX oauth_states_expiry_idx ON oauth_states (expires_at);

-- Transactional outbox: events written with the change, published to NATS JetStream with retries.
CREATE TABLE outbox (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Nats-Msg-Id, so a retried publish is de-duplicated by JetStream.
  msg_id       uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  subject      text NOT NULL CHECK (subject LIKE 'prism.%'),
  payload      jsonb NOT NULL,
  headers      jsonb NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now(),
  attempts     integer NOT NULL DEFAULT 0,
  last_error   text,
  published_at timestamptz
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;
