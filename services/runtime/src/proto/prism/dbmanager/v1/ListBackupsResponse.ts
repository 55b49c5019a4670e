// Original file: services/proto/prism/dbmanager/v1/dbmanager.proto

import type { Backup as _prism_dbmanager_v1_Backup, Backup__Output as _prism_dbmanager_v1_Backup__Output } from '../../../prism/dbmanager/v1/Backup.js';

export interface ListBackupsResponse {
  'backups'?: (_prism_dbmanager_v1_Backup)[];
}

export interface ListBackupsResponse__Output {
  'backups': (_prism_dbmanager_v1_Backup__Output)[];
}
