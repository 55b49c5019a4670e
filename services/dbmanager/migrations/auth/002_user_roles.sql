-- Roles of a user, carried in access tokens (`roles` claim) and returned by the auth gRPC API.
ALTER TABLE users ADD COLUMN roles text[] NOT NULL DEFAULT '{user}'
  CHECK (cardinality(roles) BETWEEN 1 AND 20);
