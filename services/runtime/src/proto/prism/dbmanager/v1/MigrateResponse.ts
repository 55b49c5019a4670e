// Original file: services/proto/prism/dbmanager/v1/dbmanager.proto

import type { DatabaseMigrations as _prism_dbmanager_v1_DatabaseMigrations, DatabaseMigrations__Output as _prism_dbmanager_v1_DatabaseMigrations__Output } from '../../../prism/dbmanager/v1/DatabaseMigrations.js';

export interface MigrateResponse {
  'databases'?: (_prism_dbmanager_v1_DatabaseMigrations)[];
}

export interface MigrateResponse__Output {
  'databases': (_prism_dbmanager_v1_DatabaseMigrations__Output)[];
}
