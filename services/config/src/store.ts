import type pg from 'pg';
import { CONFIG_SCOPES, type ConfigScope, configKeySpec } from '#contract';

/**
 * Configuration values in prism_ops: `config_values` holds the current version of each key,
 * `config_history` every version ever written. Writers of one key are serialised by a
 * transaction-scoped advisory lock, so versions are gap-free and no change is lost.
 */

export interface Scope {
  readonly environment: string;
  readonly service: string;
  readonly key: string;
}

export interface ConfigEntry extends Scope {
  readonly value: unknown;
  readonly version: number;
  readonly updatedBy: string;
  readonly updatedAt: Date;
}

export interface HistoryEntry {
  readonly version: number;
  /** undefined for a delete. */
  readonly value: unknown;
  readonly action: 'set' | 'delete' | 'rollback';
  readonly rolledBackTo?: number;
  readonly changedBy: string;
  readonly changedAt: Date;
  readonly comment?: string;
}

export interface Change extends Scope, HistoryEntry {}

/** Bad input: the message says what was wrong and what is allowed. */
export class ConfigInputError extends Error {
  override readonly name = 'ConfigInputError';
}
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}
/** An optimistic-concurrency check failed. */
export class VersionConflictError extends Error {
  override readonly name = 'VersionConflictError';
}

const ENVIRONMENT = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Checks the scope and the key against the declarations; the value too when given. */
function validate(scope: Scope, value?: { readonly value: unknown }): void {
  if (!ENVIRONMENT.test(scope.environment))
    throw new ConfigInputError(`environment "${scope.environment}" is invalid: lower-case letters, digits and dashes`);
  if (!(CONFIG_SCOPES as readonly string[]).includes(scope.service)) {
    throw new ConfigInputError(`service "${scope.service}" is unknown: one of ${CONFIG_SCOPES.join(', ')}`);
  }
  const spec = configKeySpec(scope.key);
  if (!spec)
    throw new ConfigInputError(`key "${scope.key}" is not declared: see ListKeys (feature flags are feature.<name>)`);
  if (!spec.services.includes(scope.service as ConfigScope)) {
    throw new ConfigInputError(
      `key "${scope.key}" does not apply to service ${scope.service}: it applies to ${spec.services.join(', ')}`,
    );
  }
  if (value) {
    const r = spec.schema.safeParse(value.value);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new ConfigInputError(`value ${JSON.stringify(value.value)} for ${scope.key} is invalid: ${issue.message}`);
    }
  }
}

const lockKey = (s: Scope) => `prism.config/${s.environment}/${s.service}/${s.key}`;

interface ValueRow {
  environment: string;
  service: string;
  key: string;
  value: unknown;
  version: number;
  updated_by: string;
  updated_at: Date;
}
interface HistoryRow {
  version: number;
  value: unknown;
  action: 'set' | 'delete' | 'rollback';
  rolled_back_to: number | null;
  changed_by: string;
  changed_at: Date;
  comment: string | null;
}

const toEntry = (r: ValueRow): ConfigEntry => ({
  environment: r.environment,
  service: r.service,
  key: r.key,
  value: r.value,
  version: r.version,
  updatedBy: r.updated_by,
  updatedAt: r.updated_at,
});
const toHistory = (r: HistoryRow): HistoryEntry => ({
  version: r.version,
  value: r.action === 'delete' ? undefined : r.value,
  action: r.action,
  ...(r.rolled_back_to !== null ? { rolledBackTo: r.rolled_back_to } : {}),
  changedBy: r.changed_by,
  changedAt: r.changed_at,
  ...(r.comment !== null ? { comment: r.comment } : {}),
});

export interface WriteOptions {
  readonly changedBy: string;
  readonly comment?: string;
  /** Apply only when the current version is this one (0: no value yet). */
  readonly expectedVersion?: number;
}

export class ConfigStore {
  constructor(
    private readonly pool: pg.Pool,
    /** Called after each committed change (the NATS notifier). */
    private readonly onChange: (c: Change) => void = () => {},
  ) {}

  async get(scope: Scope): Promise<ConfigEntry> {
    validate(scope);
    const { rows } = await this.pool.query<ValueRow>(
      'SELECT * FROM config_values WHERE environment = $1 AND service = $2 AND key = $3',
      [scope.environment, scope.service, scope.key],
    );
    if (!rows[0]) throw new NotFoundError(`no value for ${scope.key} of ${scope.service} in ${scope.environment}`);
    return toEntry(rows[0]);
  }

  async list(environment: string, service?: string, keyPrefix = ''): Promise<ConfigEntry[]> {
    const { rows } = await this.pool.query<ValueRow>(
      `SELECT * FROM config_values WHERE environment = $1 AND ($2::text IS NULL OR service = $2) AND starts_with(key, $3)
       ORDER BY service, key`,
      [environment, service || null, keyPrefix],
    );
    return rows.map(toEntry);
  }

  async history(scope: Scope, limit = 100): Promise<HistoryEntry[]> {
    validate(scope);
    const { rows } = await this.pool.query<HistoryRow>(
      `SELECT version, value, action, rolled_back_to, changed_by, changed_at, comment FROM config_history
       WHERE environment = $1 AND service = $2 AND key = $3 ORDER BY version DESC LIMIT $4`,
      [scope.environment, scope.service, scope.key, Math.min(Math.max(limit, 1), 1000)],
    );
    return rows.map(toHistory);
  }

  set(scope: Scope, value: unknown, o: WriteOptions): Promise<ConfigEntry> {
    validate(scope, { value });
    return this.write(scope, { value, action: 'set' }, o);
  }

  delete(scope: Scope, o: WriteOptions): Promise<ConfigEntry> {
    validate(scope);
    return this.write(scope, { value: undefined, action: 'delete' }, o);
  }

  /** Makes the value of `toVersion` current again, as a new version (validated against today's schema). */
  async rollback(scope: Scope, toVersion: number, o: WriteOptions): Promise<ConfigEntry> {
    validate(scope);
    const { rows } = await this.pool.query<HistoryRow>(
      'SELECT version, value, action, rolled_back_to, changed_by, changed_at, comment FROM config_history WHERE environment = $1 AND service = $2 AND key = $3 AND version = $4',
      [scope.environment, scope.service, scope.key, toVersion],
    );
    const target = rows[0];
    if (!target)
      throw new NotFoundError(`${scope.key} of ${scope.service} in ${scope.environment} has no version ${toVersion}`);
    if (target.action === 'delete')
      throw new ConfigInputError(
        `version ${toVersion} of ${scope.key} deleted the key; roll back to a version that set a value`,
      );
    validate(scope, { value: target.value });
    return this.write(scope, { value: target.value, action: 'rollback', rolledBackTo: toVersion }, o);
  }

  private async write(
    scope: Scope,
    change: { value: unknown; action: 'set' | 'delete' | 'rollback'; rolledBackTo?: number },
    o: WriteOptions,
  ): Promise<ConfigEntry> {
    if (!o.changedBy?.trim()) throw new ConfigInputError('changed_by is required: say who makes the change');
    const client = await this.pool.connect();
    let result: { entry: ConfigEntry; at: Date };
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [lockKey(scope)]);
      const cur = await client.query<{ version: number; live: boolean }>(
        `SELECT coalesce(max(h.version), 0) AS version,
                EXISTS (SELECT 1 FROM config_values v WHERE v.environment = $1 AND v.service = $2 AND v.key = $3) AS live
         FROM config_history h WHERE h.environment = $1 AND h.service = $2 AND h.key = $3`,
        [scope.environment, scope.service, scope.key],
      );
      const { version: current, live } = cur.rows[0]!;
      if (o.expectedVersion !== undefined && o.expectedVersion !== (live ? current : 0)) {
        throw new VersionConflictError(
          `${scope.key} of ${scope.service} in ${scope.environment} is at version ${live ? current : `${current} (deleted)`}, not ${o.expectedVersion}: read it again and retry`,
        );
      }
      if (change.action === 'delete' && !live)
        throw new NotFoundError(`no value for ${scope.key} of ${scope.service} in ${scope.environment}`);
      const version = current + 1;
      const json = change.action === 'delete' ? null : JSON.stringify(change.value);
      const h = await client.query<{ changed_at: Date }>(
        `INSERT INTO config_history (environment, service, key, version, value, action, rolled_back_to, changed_by, comment)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9) RETURNING changed_at`,
        [
          scope.environment,
          scope.service,
          scope.key,
          version,
          json,
          change.action,
          change.rolledBackTo ?? null,
          o.changedBy,
          o.comment ?? null,
        ],
      );
      const at = h.rows[0]!.changed_at;
      if (change.action === 'delete') {
        await client.query('DELETE FROM config_values WHERE environment = $1 AND service = $2 AND key = $3', [
          scope.environment,
          scope.service,
          scope.key,
        ]);
      } else {
        await client.query(
          `INSERT INTO config_values (environment, service, key, value, version, updated_at, updated_by) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)
           ON CONFLICT (environment, service, key) DO UPDATE SET value = EXCLUDED.value, version = EXCLUDED.version,
             updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by`,
          [scope.environment, scope.service, scope.key, json, version, at, o.changedBy],
        );
      }
      await client.query('COMMIT');
      result = {
        entry: {
          ...scope,
          value: change.action === 'delete' ? undefined : change.value,
          version,
          updatedBy: o.changedBy,
          updatedAt: at,
        },
        at,
      };
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      client.release();
    }
    this.onChange({
      ...scope,
      version: result.entry.version,
      value: result.entry.value,
      action: change.action,
      ...(change.rolledBackTo !== undefined ? { rolledBackTo: change.rolledBackTo } : {}),
      changedBy: o.changedBy,
      changedAt: result.at,
      ...(o.comment ? { comment: o.comment } : {}),
    });
    return result.entry;
  }
}
