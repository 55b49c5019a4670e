import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AuthServiceClient as _prism_auth_v1_AuthServiceClient, AuthServiceDefinition as _prism_auth_v1_AuthServiceDefinition } from './prism/auth/v1/AuthService.js';
import type { GetUserRequest as _prism_auth_v1_GetUserRequest, GetUserRequest__Output as _prism_auth_v1_GetUserRequest__Output } from './prism/auth/v1/GetUserRequest.js';
import type { User as _prism_auth_v1_User, User__Output as _prism_auth_v1_User__Output } from './prism/auth/v1/User.js';
import type { ValidateApiKeyRequest as _prism_auth_v1_ValidateApiKeyRequest, ValidateApiKeyRequest__Output as _prism_auth_v1_ValidateApiKeyRequest__Output } from './prism/auth/v1/ValidateApiKeyRequest.js';
import type { ValidateApiKeyResponse as _prism_auth_v1_ValidateApiKeyResponse, ValidateApiKeyResponse__Output as _prism_auth_v1_ValidateApiKeyResponse__Output } from './prism/auth/v1/ValidateApiKeyResponse.js';
import type { ValidateTokenRequest as _prism_auth_v1_ValidateTokenRequest, ValidateTokenRequest__Output as _prism_auth_v1_ValidateTokenRequest__Output } from './prism/auth/v1/ValidateTokenRequest.js';
import type { ValidateTokenResponse as _prism_auth_v1_ValidateTokenResponse, ValidateTokenResponse__Output as _prism_auth_v1_ValidateTokenResponse__Output } from './prism/auth/v1/ValidateTokenResponse.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  prism: {
    auth: {
      v1: {
        AuthService: SubtypeConstructor<typeof grpc.Client, _prism_auth_v1_AuthServiceClient> & { service: _prism_auth_v1_AuthServiceDefinition }
        GetUserRequest: MessageTypeDefinition<_prism_auth_v1_GetUserRequest, _prism_auth_v1_GetUserRequest__Output>
        User: MessageTypeDefinition<_prism_auth_v1_User, _prism_auth_v1_User__Output>
        ValidateApiKeyRequest: MessageTypeDefinition<_prism_auth_v1_ValidateApiKeyRequest, _prism_auth_v1_ValidateApiKeyRequest__Output>
        ValidateApiKeyResponse: MessageTypeDefinition<_prism_auth_v1_ValidateApiKeyResponse, _prism_auth_v1_ValidateApiKeyResponse__Output>
        ValidateTokenRequest: MessageTypeDefinition<_prism_auth_v1_ValidateTokenRequest, _prism_auth_v1_ValidateTokenRequest__Output>
        ValidateTokenResponse: MessageTypeDefinition<_prism_auth_v1_ValidateTokenResponse, _prism_auth_v1_ValidateTokenResponse__Output>
      }
    }
  }
}

