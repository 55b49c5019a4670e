// Original file: services/proto/prism/dbmanager/v1/dbmanager.proto

import type { MigrationState as _prism_dbmanager_v1_MigrationState, MigrationState__Output as _prism_dbmanager_v1_MigrationState__Output } from '../../../prism/dbmanager/v1/MigrationState.js';

export interface DatabaseStatus {
  'database'?: (string);
  'migrations'?: (_prism_dbmanager_v1_MigrationState)[];
}

export interface DatabaseStatus__Output {
  'database': (string);
  'migrations': (_prism_dbmanager_v1_MigrationState__Output)[];
}
