/**
 * The PostgreSQL programs the DB manager runs, directly or through another from its own directory
 * (pg_verifybackup runs pg_waldump on every backup's WAL, pg_dumpall runs pg_dump for every database, pg_ctl
 * runs postgres); a bin directory must hold all of them. The one list: services/Dockerfile's PG_PROGRAMS is held
 * equal to it, and scripts/check-image.mjs runs each in the image. A module without imports, so that script loads
 * it on Node's type stripping without the service runtime (whose parameter properties stripping refuses).
 */
export const PG_PROGRAMS = [
  'pg_basebackup',
  'pg_receivewal',
  'pg_verifybackup',
  'pg_waldump',
  'pg_ctl',
  'pg_dumpall',
  'pg_dump',
  'postgres',
] as const;
