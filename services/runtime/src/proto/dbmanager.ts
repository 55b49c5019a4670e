import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Backup as _prism_dbmanager_v1_Backup, Backup__Output as _prism_dbmanager_v1_Backup__Output } from './prism/dbmanager/v1/Backup.js';
import type { DatabaseMigrations as _prism_dbmanager_v1_DatabaseMigrations, DatabaseMigrations__Output as _prism_dbmanager_v1_DatabaseMigrations__Output } from './prism/dbmanager/v1/DatabaseMigrations.js';
import type { DatabaseStatus as _prism_dbmanager_v1_DatabaseStatus, DatabaseStatus__Output as _prism_dbmanager_v1_DatabaseStatus__Output } from './prism/dbmanager/v1/DatabaseStatus.js';
import type { DbManagerClient as _prism_dbmanager_v1_DbManagerClient, DbManagerDefinition as _prism_dbmanager_v1_DbManagerDefinition } from './prism/dbmanager/v1/DbManager.js';
import type { ListBackupsRequest as _prism_dbmanager_v1_ListBackupsRequest, ListBackupsRequest__Output as _prism_dbmanager_v1_ListBackupsRequest__Output } from './prism/dbmanager/v1/ListBackupsRequest.js';
import type { ListBackupsResponse as _prism_dbmanager_v1_ListBackupsResponse, ListBackupsResponse__Output as _prism_dbmanager_v1_ListBackupsResponse__Output } from './prism/dbmanager/v1/ListBackupsResponse.js';
import type { MigrateRequest as _prism_dbmanager_v1_MigrateRequest, MigrateRequest__Output as _prism_dbmanager_v1_MigrateRequest__Output } from './prism/dbmanager/v1/MigrateRequest.js';
import type { MigrateResponse as _prism_dbmanager_v1_MigrateResponse, MigrateResponse__Output as _prism_dbmanager_v1_MigrateResponse__Output } from './prism/dbmanager/v1/MigrateResponse.js';
import type { MigrationState as _prism_dbmanager_v1_MigrationState, MigrationState__Output as _prism_dbmanager_v1_MigrationState__Output } from './prism/dbmanager/v1/MigrationState.js';
import type { StatusRequest as _prism_dbmanager_v1_StatusRequest, StatusRequest__Output as _prism_dbmanager_v1_StatusRequest__Output } from './prism/dbmanager/v1/StatusRequest.js';
import type { StatusResponse as _prism_dbmanager_v1_StatusResponse, StatusResponse__Output as _prism_dbmanager_v1_StatusResponse__Output } from './prism/dbmanager/v1/StatusResponse.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  prism: {
    dbmanager: {
      v1: {
        Backup: MessageTypeDefinition<_prism_dbmanager_v1_Backup, _prism_dbmanager_v1_Backup__Output>
        DatabaseMigrations: MessageTypeDefinition<_prism_dbmanager_v1_DatabaseMigrations, _prism_dbmanager_v1_DatabaseMigrations__Output>
        DatabaseStatus: MessageTypeDefinition<_prism_dbmanager_v1_DatabaseStatus, _prism_dbmanager_v1_DatabaseStatus__Output>
        /**
         * Migrations and the backup catalog of Prism's databases (auth, ops). Backups and restores run
         * through the CLI (deploy/backup/*.sh, the Kubernetes CronJobs); this API reports on them.
         */
        DbManager: SubtypeConstructor<typeof grpc.Client, _prism_dbmanager_v1_DbManagerClient> & { service: _prism_dbmanager_v1_DbManagerDefinition }
        ListBackupsRequest: MessageTypeDefinition<_prism_dbmanager_v1_ListBackupsRequest, _prism_dbmanager_v1_ListBackupsRequest__Output>
        ListBackupsResponse: MessageTypeDefinition<_prism_dbmanager_v1_ListBackupsResponse, _prism_dbmanager_v1_ListBackupsResponse__Output>
        MigrateRequest: MessageTypeDefinition<_prism_dbmanager_v1_MigrateRequest, _prism_dbmanager_v1_MigrateRequest__Output>
        MigrateResponse: MessageTypeDefinition<_prism_dbmanager_v1_MigrateResponse, _prism_dbmanager_v1_MigrateResponse__Output>
        MigrationState: MessageTypeDefinition<_prism_dbmanager_v1_MigrationState, _prism_dbmanager_v1_MigrationState__Output>
        StatusRequest: MessageTypeDefinition<_prism_dbmanager_v1_StatusRequest, _prism_dbmanager_v1_StatusRequest__Output>
        StatusResponse: MessageTypeDefinition<_prism_dbmanager_v1_StatusResponse, _prism_dbmanager_v1_StatusResponse__Output>
      }
    }
  }
}

