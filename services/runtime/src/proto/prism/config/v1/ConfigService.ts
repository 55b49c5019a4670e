// Original file: services/proto/prism/config/v1/config.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ConfigChange as _prism_config_v1_ConfigChange, ConfigChange__Output as _prism_config_v1_ConfigChange__Output } from '../../../prism/config/v1/ConfigChange.js';
import type { ConfigEntry as _prism_config_v1_ConfigEntry, ConfigEntry__Output as _prism_config_v1_ConfigEntry__Output } from '../../../prism/config/v1/ConfigEntry.js';
import type { DeleteRequest as _prism_config_v1_DeleteRequest, DeleteRequest__Output as _prism_config_v1_DeleteRequest__Output } from '../../../prism/config/v1/DeleteRequest.js';
import type { GetRequest as _prism_config_v1_GetRequest, GetRequest__Output as _prism_config_v1_GetRequest__Output } from '../../../prism/config/v1/GetRequest.js';
import type { HistoryRequest as _prism_config_v1_HistoryRequest, HistoryRequest__Output as _prism_config_v1_HistoryRequest__Output } from '../../../prism/config/v1/HistoryRequest.js';
import type { HistoryResponse as _prism_config_v1_HistoryResponse, HistoryResponse__Output as _prism_config_v1_HistoryResponse__Output } from '../../../prism/config/v1/HistoryResponse.js';
import type { ListKeysRequest as _prism_config_v1_ListKeysRequest, ListKeysRequest__Output as _prism_config_v1_ListKeysRequest__Output } from '../../../prism/config/v1/ListKeysRequest.js';
import type { ListKeysResponse as _prism_config_v1_ListKeysResponse, ListKeysResponse__Output as _prism_config_v1_ListKeysResponse__Output } from '../../../prism/config/v1/ListKeysResponse.js';
import type { ListRequest as _prism_config_v1_ListRequest, ListRequest__Output as _prism_config_v1_ListRequest__Output } from '../../../prism/config/v1/ListRequest.js';
import type { ListResponse as _prism_config_v1_ListResponse, ListResponse__Output as _prism_config_v1_ListResponse__Output } from '../../../prism/config/v1/ListResponse.js';
import type { RollbackRequest as _prism_config_v1_RollbackRequest, RollbackRequest__Output as _prism_config_v1_RollbackRequest__Output } from '../../../prism/config/v1/RollbackRequest.js';
import type { SetRequest as _prism_config_v1_SetRequest, SetRequest__Output as _prism_config_v1_SetRequest__Output } from '../../../prism/config/v1/SetRequest.js';
import type { WatchRequest as _prism_config_v1_WatchRequest, WatchRequest__Output as _prism_config_v1_WatchRequest__Output } from '../../../prism/config/v1/WatchRequest.js';

/**
 * Configuration values and feature flags per environment and service. Values travel as JSON text
 * and are validated against the declared schema of their key (infra/contract/config-keys.ts).
 * Every change is a new version with who and when; any version can be read back or rolled back to.
 * Changes are also published on NATS as prism.system.config.<environment>.<service>.<key>.
 */
export interface ConfigServiceClient extends grpc.Client {
  Delete(argument: _prism_config_v1_DeleteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  Delete(argument: _prism_config_v1_DeleteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  Delete(argument: _prism_config_v1_DeleteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  Delete(argument: _prism_config_v1_DeleteRequest, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  delete(argument: _prism_config_v1_DeleteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  delete(argument: _prism_config_v1_DeleteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  delete(argument: _prism_config_v1_DeleteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  delete(argument: _prism_config_v1_DeleteRequest, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  
  Get(argument: _prism_config_v1_GetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  Get(argument: _prism_config_v1_GetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  Get(argument: _prism_config_v1_GetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  Get(argument: _prism_config_v1_GetRequest, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  get(argument: _prism_config_v1_GetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  get(argument: _prism_config_v1_GetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  get(argument: _prism_config_v1_GetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  get(argument: _prism_config_v1_GetRequest, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  
  History(argument: _prism_config_v1_HistoryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_HistoryResponse__Output>): grpc.ClientUnaryCall;
  History(argument: _prism_config_v1_HistoryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_config_v1_HistoryResponse__Output>): grpc.ClientUnaryCall;
  History(argument: _prism_config_v1_HistoryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_HistoryResponse__Output>): grpc.ClientUnaryCall;
  History(argument: _prism_config_v1_HistoryRequest, callback: grpc.requestCallback<_prism_config_v1_HistoryResponse__Output>): grpc.ClientUnaryCall;
  history(argument: _prism_config_v1_HistoryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_HistoryResponse__Output>): grpc.ClientUnaryCall;
  history(argument: _prism_config_v1_HistoryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_config_v1_HistoryResponse__Output>): grpc.ClientUnaryCall;
  history(argument: _prism_config_v1_HistoryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_HistoryResponse__Output>): grpc.ClientUnaryCall;
  history(argument: _prism_config_v1_HistoryRequest, callback: grpc.requestCallback<_prism_config_v1_HistoryResponse__Output>): grpc.ClientUnaryCall;
  
  List(argument: _prism_config_v1_ListRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  List(argument: _prism_config_v1_ListRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_config_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  List(argument: _prism_config_v1_ListRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  List(argument: _prism_config_v1_ListRequest, callback: grpc.requestCallback<_prism_config_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  list(argument: _prism_config_v1_ListRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  list(argument: _prism_config_v1_ListRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_config_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  list(argument: _prism_config_v1_ListRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  list(argument: _prism_config_v1_ListRequest, callback: grpc.requestCallback<_prism_config_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  
  ListKeys(argument: _prism_config_v1_ListKeysRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ListKeysResponse__Output>): grpc.ClientUnaryCall;
  ListKeys(argument: _prism_config_v1_ListKeysRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_config_v1_ListKeysResponse__Output>): grpc.ClientUnaryCall;
  ListKeys(argument: _prism_config_v1_ListKeysRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ListKeysResponse__Output>): grpc.ClientUnaryCall;
  ListKeys(argument: _prism_config_v1_ListKeysRequest, callback: grpc.requestCallback<_prism_config_v1_ListKeysResponse__Output>): grpc.ClientUnaryCall;
  listKeys(argument: _prism_config_v1_ListKeysRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ListKeysResponse__Output>): grpc.ClientUnaryCall;
  listKeys(argument: _prism_config_v1_ListKeysRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_config_v1_ListKeysResponse__Output>): grpc.ClientUnaryCall;
  listKeys(argument: _prism_config_v1_ListKeysRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ListKeysResponse__Output>): grpc.ClientUnaryCall;
  listKeys(argument: _prism_config_v1_ListKeysRequest, callback: grpc.requestCallback<_prism_config_v1_ListKeysResponse__Output>): grpc.ClientUnaryCall;
  
  Rollback(argument: _prism_config_v1_RollbackRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  Rollback(argument: _prism_config_v1_RollbackRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  Rollback(argument: _prism_config_v1_RollbackRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  Rollback(argument: _prism_config_v1_RollbackRequest, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  rollback(argument: _prism_config_v1_RollbackRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  rollback(argument: _prism_config_v1_RollbackRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  rollback(argument: _prism_config_v1_RollbackRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  rollback(argument: _prism_config_v1_RollbackRequest, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  
  Set(argument: _prism_config_v1_SetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  Set(argument: _prism_config_v1_SetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  Set(argument: _prism_config_v1_SetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  Set(argument: _prism_config_v1_SetRequest, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  set(argument: _prism_config_v1_SetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  set(argument: _prism_config_v1_SetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  set(argument: _prism_config_v1_SetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  set(argument: _prism_config_v1_SetRequest, callback: grpc.requestCallback<_prism_config_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  
  /**
   * Streams every change under the environment (and service, and key prefix when given).
   */
  Watch(argument: _prism_config_v1_WatchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_prism_config_v1_ConfigChange__Output>;
  Watch(argument: _prism_config_v1_WatchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_prism_config_v1_ConfigChange__Output>;
  /**
   * Streams every change under the environment (and service, and key prefix when given).
   */
  watch(argument: _prism_config_v1_WatchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_prism_config_v1_ConfigChange__Output>;
  watch(argument: _prism_config_v1_WatchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_prism_config_v1_ConfigChange__Output>;
  
}

/**
 * Configuration values and feature flags per environment and service. Values travel as JSON text
 * and are validated against the declared schema of their key (infra/contract/config-keys.ts).
 * Every change is a new version with who and when; any version can be read back or rolled back to.
 * Changes are also published on NATS as prism.system.config.<environment>.<service>.<key>.
 */
export interface ConfigServiceHandlers extends grpc.UntypedServiceImplementation {
  Delete: grpc.handleUnaryCall<_prism_config_v1_DeleteRequest__Output, _prism_config_v1_ConfigEntry>;
  
  Get: grpc.handleUnaryCall<_prism_config_v1_GetRequest__Output, _prism_config_v1_ConfigEntry>;
  
  History: grpc.handleUnaryCall<_prism_config_v1_HistoryRequest__Output, _prism_config_v1_HistoryResponse>;
  
  List: grpc.handleUnaryCall<_prism_config_v1_ListRequest__Output, _prism_config_v1_ListResponse>;
  
  ListKeys: grpc.handleUnaryCall<_prism_config_v1_ListKeysRequest__Output, _prism_config_v1_ListKeysResponse>;
  
  Rollback: grpc.handleUnaryCall<_prism_config_v1_RollbackRequest__Output, _prism_config_v1_ConfigEntry>;
  
  Set: grpc.handleUnaryCall<_prism_config_v1_SetRequest__Output, _prism_config_v1_ConfigEntry>;
  
  /**
   * Streams every change under the environment (and service, and key prefix when given).
   */
  Watch: grpc.handleServerStreamingCall<_prism_config_v1_WatchRequest__Output, _prism_config_v1_ConfigChange>;
  
}

export interface ConfigServiceDefinition extends grpc.ServiceDefinition {
  Delete: MethodDefinition<_prism_config_v1_DeleteRequest, _prism_config_v1_ConfigEntry, _prism_config_v1_DeleteRequest__Output, _prism_config_v1_ConfigEntry__Output>
  Get: MethodDefinition<_prism_config_v1_GetRequest, _prism_config_v1_ConfigEntry, _prism_config_v1_GetRequest__Output, _prism_config_v1_ConfigEntry__Output>
  History: MethodDefinition<_prism_config_v1_HistoryRequest, _prism_config_v1_HistoryResponse, _prism_config_v1_HistoryRequest__Output, _prism_config_v1_HistoryResponse__Output>
  List: MethodDefinition<_prism_config_v1_ListRequest, _prism_config_v1_ListResponse, _prism_config_v1_ListRequest__Output, _prism_config_v1_ListResponse__Output>
  ListKeys: MethodDefinition<_prism_config_v1_ListKeysRequest, _prism_config_v1_ListKeysResponse, _prism_config_v1_ListKeysRequest__Output, _prism_config_v1_ListKeysResponse__Output>
  Rollback: MethodDefinition<_prism_config_v1_RollbackRequest, _prism_config_v1_ConfigEntry, _prism_config_v1_RollbackRequest__Output, _prism_config_v1_ConfigEntry__Output>
  Set: MethodDefinition<_prism_config_v1_SetRequest, _prism_config_v1_ConfigEntry, _prism_config_v1_SetRequest__Output, _prism_config_v1_ConfigEntry__Output>
  Watch: MethodDefinition<_prism_config_v1_WatchRequest, _prism_config_v1_ConfigChange, _prism_config_v1_WatchRequest__Output, _prism_config_v1_ConfigChange__Output>
}
