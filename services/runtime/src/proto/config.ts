import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { ConfigChange as _prism_config_v1_ConfigChange, ConfigChange__Output as _prism_config_v1_ConfigChange__Output } from './prism/config/v1/ConfigChange.js';
import type { ConfigEntry as _prism_config_v1_ConfigEntry, ConfigEntry__Output as _prism_config_v1_ConfigEntry__Output } from './prism/config/v1/ConfigEntry.js';
import type { ConfigServiceClient as _prism_config_v1_ConfigServiceClient, ConfigServiceDefinition as _prism_config_v1_ConfigServiceDefinition } from './prism/config/v1/ConfigService.js';
import type { DeleteRequest as _prism_config_v1_DeleteRequest, DeleteRequest__Output as _prism_config_v1_DeleteRequest__Output } from './prism/config/v1/DeleteRequest.js';
import type { GetRequest as _prism_config_v1_GetRequest, GetRequest__Output as _prism_config_v1_GetRequest__Output } from './prism/config/v1/GetRequest.js';
import type { HistoryEntry as _prism_config_v1_HistoryEntry, HistoryEntry__Output as _prism_config_v1_HistoryEntry__Output } from './prism/config/v1/HistoryEntry.js';
import type { HistoryRequest as _prism_config_v1_HistoryRequest, HistoryRequest__Output as _prism_config_v1_HistoryRequest__Output } from './prism/config/v1/HistoryRequest.js';
import type { HistoryResponse as _prism_config_v1_HistoryResponse, HistoryResponse__Output as _prism_config_v1_HistoryResponse__Output } from './prism/config/v1/HistoryResponse.js';
import type { KeySpec as _prism_config_v1_KeySpec, KeySpec__Output as _prism_config_v1_KeySpec__Output } from './prism/config/v1/KeySpec.js';
import type { ListKeysRequest as _prism_config_v1_ListKeysRequest, ListKeysRequest__Output as _prism_config_v1_ListKeysRequest__Output } from './prism/config/v1/ListKeysRequest.js';
import type { ListKeysResponse as _prism_config_v1_ListKeysResponse, ListKeysResponse__Output as _prism_config_v1_ListKeysResponse__Output } from './prism/config/v1/ListKeysResponse.js';
import type { ListRequest as _prism_config_v1_ListRequest, ListRequest__Output as _prism_config_v1_ListRequest__Output } from './prism/config/v1/ListRequest.js';
import type { ListResponse as _prism_config_v1_ListResponse, ListResponse__Output as _prism_config_v1_ListResponse__Output } from './prism/config/v1/ListResponse.js';
import type { RollbackRequest as _prism_config_v1_RollbackRequest, RollbackRequest__Output as _prism_config_v1_RollbackRequest__Output } from './prism/config/v1/RollbackRequest.js';
import type { SetRequest as _prism_config_v1_SetRequest, SetRequest__Output as _prism_config_v1_SetRequest__Output } from './prism/config/v1/SetRequest.js';
import type { WatchRequest as _prism_config_v1_WatchRequest, WatchRequest__Output as _prism_config_v1_WatchRequest__Output } from './prism/config/v1/WatchRequest.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  prism: {
    config: {
      v1: {
        ConfigChange: MessageTypeDefinition<_prism_config_v1_ConfigChange, _prism_config_v1_ConfigChange__Output>
        ConfigEntry: MessageTypeDefinition<_prism_config_v1_ConfigEntry, _prism_config_v1_ConfigEntry__Output>
        /**
         * Configuration values and feature flags per environment and service. Values travel as JSON text
         * and are validated against the declared schema of their key (infra/contract/config-keys.ts).
         * Every change is a new version with who and when; any version can be read back or rolled back to.
         * Changes are also published on NATS as prism.system.config.<environment>.<service>.<key>.
         */
        ConfigService: SubtypeConstructor<typeof grpc.Client, _prism_config_v1_ConfigServiceClient> & { service: _prism_config_v1_ConfigServiceDefinition }
        DeleteRequest: MessageTypeDefinition<_prism_config_v1_DeleteRequest, _prism_config_v1_DeleteRequest__Output>
        GetRequest: MessageTypeDefinition<_prism_config_v1_GetRequest, _prism_config_v1_GetRequest__Output>
        HistoryEntry: MessageTypeDefinition<_prism_config_v1_HistoryEntry, _prism_config_v1_HistoryEntry__Output>
        HistoryRequest: MessageTypeDefinition<_prism_config_v1_HistoryRequest, _prism_config_v1_HistoryRequest__Output>
        HistoryResponse: MessageTypeDefinition<_prism_config_v1_HistoryResponse, _prism_config_v1_HistoryResponse__Output>
        KeySpec: MessageTypeDefinition<_prism_config_v1_KeySpec, _prism_config_v1_KeySpec__Output>
        ListKeysRequest: MessageTypeDefinition<_prism_config_v1_ListKeysRequest, _prism_config_v1_ListKeysRequest__Output>
        ListKeysResponse: MessageTypeDefinition<_prism_config_v1_ListKeysResponse, _prism_config_v1_ListKeysResponse__Output>
        ListRequest: MessageTypeDefinition<_prism_config_v1_ListRequest, _prism_config_v1_ListRequest__Output>
        ListResponse: MessageTypeDefinition<_prism_config_v1_ListResponse, _prism_config_v1_ListResponse__Output>
        RollbackRequest: MessageTypeDefinition<_prism_config_v1_RollbackRequest, _prism_config_v1_RollbackRequest__Output>
        SetRequest: MessageTypeDefinition<_prism_config_v1_SetRequest, _prism_config_v1_SetRequest__Output>
        WatchRequest: MessageTypeDefinition<_prism_config_v1_WatchRequest, _prism_config_v1_WatchRequest__Output>
      }
    }
  }
}

