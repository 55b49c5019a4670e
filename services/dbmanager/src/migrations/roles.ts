import type pg from 'pg';
import { type DatabaseId, type PgLoginRoleId, pgGrantSql, pgOwnershipSql, pgRole, pgRoleSetupSql } from '#contract';

/**
 * The PostgreSQL roles of a database (the contract's PG_ROLES), set up by the migration as the
 * superuser: the roles and their passwords before the migrations, which then run as the owner
 * role, and every role's rights after them (tables a migration created included).
 */
export interface RoleSetup {
  readonly db: DatabaseId;
  /** The password each login role gets (the migration task holds them all). */
  readonly password: (id: PgLoginRoleId) => string;
}

/** Two migrations on one server (two databases) may create a role at once: the loser retries. */
const RACE = new Set(['23505', '42710', '40001']);

async function inTransaction(client: pg.ClientBase, statements: readonly string[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await client.query('BEGIN');
      for (const s of statements) await client.query(s);
      await client.query('COMMIT');
      return;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      if (attempt < 3 && RACE.has((e as { code?: string }).code ?? '')) continue;
      throw e;
    }
  }
}

/** Roles, passwords, ownership; then the session acts as the owner role until {@link grantRights}. */
export async function prepareRoles(client: pg.ClientBase, database: string, roles: RoleSetup): Promise<void> {
  await inTransaction(client, [
    ...pgRoleSetupSql(roles.db, roles.password, (s) => client.escapeLiteral(s)),
    ...pgOwnershipSql(roles.db, database),
  ]);
  await client.query(`SET ROLE ${client.escapeIdentifier(pgRole(roles.db, 'owner').name)}`);
}

/** Back to the superuser, then each role's rights on what the migrations left. */
export async function grantRights(client: pg.ClientBase, database: string, roles: RoleSetup): Promise<void> {
  await client.query('RESET ROLE');
  await inTransaction(client, pgGrantSql(roles.db, database));
}
