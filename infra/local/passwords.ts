import { randomBytes, randomUUID } from 'node:crypto';

/**
 * The one password generator of the local set-ups (`.env` for Compose, the local Kubernetes
 * Secret reads the same `.env`): 32 random bytes, base64url. 256 bits of entropy, and only
 * `[A-Za-z0-9_-]`, so a value needs no quoting in `.env`, a shell, a URL or a YAML file.
 */
export function generatePassword(): string {
  return randomBytes(32).toString('base64url');
}

/** A Consul ACL token's SecretID: Consul accepts only a UUID there (a random v4 UUID: 122 random bits). */
export function generateConsulToken(): string {
  return randomUUID();
}
