-- Login throttling per account and client address (see services/auth/src/throttle.ts): a row per
-- (account, address) and one account-wide row, whose client is '*'.
ALTER TABLE login_throttle ADD COLUMN client text NOT NULL DEFAULT '*';
ALTER TABLE login_throttle DROP CONSTRAINT login_throttle_pkey;
ALTER TABLE login_throttle ADD PRIMARY KEY (account_key, client);

-- "Has this account signed in from this address before?" (the account-wide lock spares such addresses).
CREATE INDEX sessions_user_ip_idx ON sessions (user_id, ip);
