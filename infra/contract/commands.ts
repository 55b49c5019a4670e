import type { ServiceName } from './services.js';

/**
 * What each Prism image runs (after tini): the Dockerfiles' ENTRYPOINT/CMD say the same (a test holds
 * them to it), and the local platform runs the matching source file. Services compile to build/ (see
 * tsconfig.build.json).
 */
export const SERVICE_ENTRY: { readonly [S in ServiceName]: readonly string[] } = {
  gateway: ['node', 'build/services/gateway/src/main.js'],
  auth: ['node', 'build/services/auth/src/main.js'],
  config: ['node', 'build/services/config/src/main.js'],
  // The CLI: `serve` runs the service, other commands are the Jobs' and CronJobs' tasks.
  dbmanager: ['node', 'build/services/dbmanager/src/cli.js'],
};

/** The scheduler's status (heartbeat, next and last runs), on its writable /tmp. */
const SCHEDULE_STATUS_FILE = '/tmp/prism-schedule-status.json';

/**
 * Commands of the DB manager's CLI that the platform runs as Jobs and CronJobs.
 * The DB manager implements them; the manifests and scripts invoke them.
 */
export const DBMANAGER_CLI = {
  /** Entry point inside the image. */
  entry: SERVICE_ENTRY.dbmanager,
  serve: ['serve'],
  migrate: ['migrate', '--all'],
  backup: (db: 'auth' | 'ops', kind: 'full' | 'delta' | 'wal') => ['backup', db, kind],
  verifyLatest: (db: 'auth' | 'ops') => ['verify-latest', db],
  /** Runs the given commands at their cron times (UTC): Compose's schedule, Kubernetes has CronJobs. */
  schedule: (jobs: readonly { readonly name: string; readonly cron: string; readonly args: readonly string[] }[]) => [
    'schedule',
    '--status-file',
    SCHEDULE_STATUS_FILE,
    ...jobs.flatMap((j) => ['--job', `${j.name}|${j.cron}|${j.args.join(' ')}`]),
  ],
  /** The scheduler's health check: fails unless it beats, every job has a next run and none last failed. */
  scheduleHealth: ['schedule-health', '--status-file', SCHEDULE_STATUS_FILE],
} as const;

/** The databases the DB manager looks after. */
export const DATABASES = {
  auth: { component: 'postgres-auth', name: 'prism_auth', user: 'prism' },
  ops: { component: 'postgres-ops', name: 'prism_ops', user: 'prism' },
} as const;

export type DatabaseId = keyof typeof DATABASES;

/** NATS subjects of the guide. */
export const SUBJECTS = {
  authUser: 'prism.auth.user.>',
  authToken: 'prism.auth.token.>',
  gatewayRequest: 'prism.gateway.request.>',
  system: 'prism.system.>',
  config: 'prism.system.config.>',
} as const;

export const BACKUP_BUCKET = 'prism-backups';
