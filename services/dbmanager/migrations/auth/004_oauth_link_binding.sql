-- Account linking bound to the browser that started it (see services/auth/src/oauth.ts): the hash of
-- a random value the link request set as a cookie; the callback must present the cookie. Without it
-- anyone could hand a victim the attacker's link URL and link the victim's provider account to the
-- attacker's account (login CSRF).
ALTER TABLE oauth_states ADD COLUMN link_binding_hash bytea CHECK (link_binding_hash IS NULL OR length(link_binding_hash) = 32);
