// Original file: services/proto/prism/dbmanager/v1/dbmanager.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ListBackupsRequest as _prism_dbmanager_v1_ListBackupsRequest, ListBackupsRequest__Output as _prism_dbmanager_v1_ListBackupsRequest__Output } from '../../../prism/dbmanager/v1/ListBackupsRequest.js';
import type { ListBackupsResponse as _prism_dbmanager_v1_ListBackupsResponse, ListBackupsResponse__Output as _prism_dbmanager_v1_ListBackupsResponse__Output } from '../../../prism/dbmanager/v1/ListBackupsResponse.js';
import type { MigrateRequest as _prism_dbmanager_v1_MigrateRequest, MigrateRequest__Output as _prism_dbmanager_v1_MigrateRequest__Output } from '../../../prism/dbmanager/v1/MigrateRequest.js';
import type { MigrateResponse as _prism_dbmanager_v1_MigrateResponse, MigrateResponse__Output as _prism_dbmanager_v1_MigrateResponse__Output } from '../../../prism/dbmanager/v1/MigrateResponse.js';
import type { StatusRequest as _prism_dbmanager_v1_StatusRequest, StatusRequest__Output as _prism_dbmanager_v1_StatusRequest__Output } from '../../../prism/dbmanager/v1/StatusRequest.js';
import type { StatusResponse as _prism_dbmanager_v1_StatusResponse, StatusResponse__Output as _prism_dbmanager_v1_StatusResponse__Output } from '../../../prism/dbmanager/v1/StatusResponse.js';

/**
 * Migrations and the backup catalog of Prism's databases (auth, ops). Backups and restores run
 * through the CLI (deploy/backup/*.sh, the Kubernetes CronJobs); this API reports on them.
 */
export interface DbManagerClient extends grpc.Client {
  ListBackups(argument: _prism_dbmanager_v1_ListBackupsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_dbmanager_v1_ListBackupsResponse__Output>): grpc.ClientUnaryCall;
  ListBackups(argument: _prism_dbmanager_v1_ListBackupsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_dbmanager_v1_ListBackupsResponse__Output>): grpc.ClientUnaryCall;
  ListBackups(argument: _prism_dbmanager_v1_ListBackupsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_dbmanager_v1_ListBackupsResponse__Output>): grpc.ClientUnaryCall;
  ListBackups(argument: _prism_dbmanager_v1_ListBackupsRequest, callback: grpc.requestCallback<_prism_dbmanager_v1_ListBackupsResponse__Output>): grpc.ClientUnaryCall;
  listBackups(argument: _prism_dbmanager_v1_ListBackupsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_dbmanager_v1_ListBackupsResponse__Output>): grpc.ClientUnaryCall;
  listBackups(argument: _prism_dbmanager_v1_ListBackupsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_dbmanager_v1_ListBackupsResponse__Output>): grpc.ClientUnaryCall;
  listBackups(argument: _prism_dbmanager_v1_ListBackupsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_dbmanager_v1_ListBackupsResponse__Output>): grpc.ClientUnaryCall;
  listBackups(argument: _prism_dbmanager_v1_ListBackupsRequest, callback: grpc.requestCallback<_prism_dbmanager_v1_ListBackupsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Applies pending migrations of one database, or both when `database` is empty.
   */
  Migrate(argument: _prism_dbmanager_v1_MigrateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_dbmanager_v1_MigrateResponse__Output>): grpc.ClientUnaryCall;
  Migrate(argument: _prism_dbmanager_v1_MigrateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_dbmanager_v1_MigrateResponse__Output>): grpc.ClientUnaryCall;
  Migrate(argument: _prism_dbmanager_v1_MigrateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_dbmanager_v1_MigrateResponse__Output>): grpc.ClientUnaryCall;
  Migrate(argument: _prism_dbmanager_v1_MigrateRequest, callback: grpc.requestCallback<_prism_dbmanager_v1_MigrateResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Applies pending migrations of one database, or both when `database` is empty.
   */
  migrate(argument: _prism_dbmanager_v1_MigrateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_dbmanager_v1_MigrateResponse__Output>): grpc.ClientUnaryCall;
  migrate(argument: _prism_dbmanager_v1_MigrateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_dbmanager_v1_MigrateResponse__Output>): grpc.ClientUnaryCall;
  migrate(argument: _prism_dbmanager_v1_MigrateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_dbmanager_v1_MigrateResponse__Output>): grpc.ClientUnaryCall;
  migrate(argument: _prism_dbmanager_v1_MigrateRequest, callback: grpc.requestCallback<_prism_dbmanager_v1_MigrateResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Migration state of each database, without changing anything.
   */
  Status(argument: _prism_dbmanager_v1_StatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_dbmanager_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  Status(argument: _prism_dbmanager_v1_StatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_dbmanager_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  Status(argument: _prism_dbmanager_v1_StatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_dbmanager_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  Status(argument: _prism_dbmanager_v1_StatusRequest, callback: grpc.requestCallback<_prism_dbmanager_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Migration state of each database, without changing anything.
   */
  status(argument: _prism_dbmanager_v1_StatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_dbmanager_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _prism_dbmanager_v1_StatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_dbmanager_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _prism_dbmanager_v1_StatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_dbmanager_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _prism_dbmanager_v1_StatusRequest, callback: grpc.requestCallback<_prism_dbmanager_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  
}

/**
 * Migrations and the backup catalog of Prism's databases (auth, ops). Backups and restores run
 * through the CLI (deploy/backup/*.sh, the Kubernetes CronJobs); this API reports on them.
 */
export interface DbManagerHandlers extends grpc.UntypedServiceImplementation {
  ListBackups: grpc.handleUnaryCall<_prism_dbmanager_v1_ListBackupsRequest__Output, _prism_dbmanager_v1_ListBackupsResponse>;
  
  /**
   * Applies pending migrations of one database, or both when `database` is empty.
   */
  Migrate: grpc.handleUnaryCall<_prism_dbmanager_v1_MigrateRequest__Output, _prism_dbmanager_v1_MigrateResponse>;
  
  /**
   * Migration state of each database, without changing anything.
   */
  Status: grpc.handleUnaryCall<_prism_dbmanager_v1_StatusRequest__Output, _prism_dbmanager_v1_StatusResponse>;
  
}

export interface DbManagerDefinition extends grpc.ServiceDefinition {
  ListBackups: MethodDefinition<_prism_dbmanager_v1_ListBackupsRequest, _prism_dbmanager_v1_ListBackupsResponse, _prism_dbmanager_v1_ListBackupsRequest__Output, _prism_dbmanager_v1_ListBackupsResponse__Output>
  Migrate: MethodDefinition<_prism_dbmanager_v1_MigrateRequest, _prism_dbmanager_v1_MigrateResponse, _prism_dbmanager_v1_MigrateRequest__Output, _prism_dbmanager_v1_MigrateResponse__Output>
  Status: MethodDefinition<_prism_dbmanager_v1_StatusRequest, _prism_dbmanager_v1_StatusResponse, _prism_dbmanager_v1_StatusRequest__Output, _prism_dbmanager_v1_StatusResponse__Output>
}
