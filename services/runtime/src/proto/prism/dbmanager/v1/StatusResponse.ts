// Original file: services/proto/prism/dbmanager/v1/dbmanager.proto

import type { DatabaseStatus as _prism_dbmanager_v1_DatabaseStatus, DatabaseStatus__Output as _prism_dbmanager_v1_DatabaseStatus__Output } from '../../../prism/dbmanager/v1/DatabaseStatus.js';

export interface StatusResponse {
  'databases'?: (_prism_dbmanager_v1_DatabaseStatus)[];
}

export interface StatusResponse__Output {
  'databases': (_prism_dbmanager_v1_DatabaseStatus__Output)[];
}
