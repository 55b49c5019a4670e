// Original file: services/proto/prism/auth/v1/auth.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { GetUserRequest as _prism_auth_v1_GetUserRequest, GetUserRequest__Output as _prism_auth_v1_GetUserRequest__Output } from '../../../prism/auth/v1/GetUserRequest.js';
import type { User as _prism_auth_v1_User, User__Output as _prism_auth_v1_User__Output } from '../../../prism/auth/v1/User.js';
import type { ValidateApiKeyRequest as _prism_auth_v1_ValidateApiKeyRequest, ValidateApiKeyRequest__Output as _prism_auth_v1_ValidateApiKeyRequest__Output } from '../../../prism/auth/v1/ValidateApiKeyRequest.js';
import type { ValidateApiKeyResponse as _prism_auth_v1_ValidateApiKeyResponse, ValidateApiKeyResponse__Output as _prism_auth_v1_ValidateApiKeyResponse__Output } from '../../../prism/auth/v1/ValidateApiKeyResponse.js';
import type { ValidateTokenRequest as _prism_auth_v1_ValidateTokenRequest, ValidateTokenRequest__Output as _prism_auth_v1_ValidateTokenRequest__Output } from '../../../prism/auth/v1/ValidateTokenRequest.js';
import type { ValidateTokenResponse as _prism_auth_v1_ValidateTokenResponse, ValidateTokenResponse__Output as _prism_auth_v1_ValidateTokenResponse__Output } from '../../../prism/auth/v1/ValidateTokenResponse.js';

export interface AuthServiceClient extends grpc.Client {
  /**
   * Returns a user by id; NOT_FOUND when there is none.
   */
  GetUser(argument: _prism_auth_v1_GetUserRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_auth_v1_User__Output>): grpc.ClientUnaryCall;
  GetUser(argument: _prism_auth_v1_GetUserRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_auth_v1_User__Output>): grpc.ClientUnaryCall;
  GetUser(argument: _prism_auth_v1_GetUserRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_auth_v1_User__Output>): grpc.ClientUnaryCall;
  GetUser(argument: _prism_auth_v1_GetUserRequest, callback: grpc.requestCallback<_prism_auth_v1_User__Output>): grpc.ClientUnaryCall;
  /**
   * Returns a user by id; NOT_FOUND when there is none.
   */
  getUser(argument: _prism_auth_v1_GetUserRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_auth_v1_User__Output>): grpc.ClientUnaryCall;
  getUser(argument: _prism_auth_v1_GetUserRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_auth_v1_User__Output>): grpc.ClientUnaryCall;
  getUser(argument: _prism_auth_v1_GetUserRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_auth_v1_User__Output>): grpc.ClientUnaryCall;
  getUser(argument: _prism_auth_v1_GetUserRequest, callback: grpc.requestCallback<_prism_auth_v1_User__Output>): grpc.ClientUnaryCall;
  
  /**
   * Looks up an API key (the raw key as the client sent it; auth stores only its hash).
   */
  ValidateApiKey(argument: _prism_auth_v1_ValidateApiKeyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_auth_v1_ValidateApiKeyResponse__Output>): grpc.ClientUnaryCall;
  ValidateApiKey(argument: _prism_auth_v1_ValidateApiKeyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_auth_v1_ValidateApiKeyResponse__Output>): grpc.ClientUnaryCall;
  ValidateApiKey(argument: _prism_auth_v1_ValidateApiKeyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_auth_v1_ValidateApiKeyResponse__Output>): grpc.ClientUnaryCall;
  ValidateApiKey(argument: _prism_auth_v1_ValidateApiKeyRequest, callback: grpc.requestCallback<_prism_auth_v1_ValidateApiKeyResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Looks up an API key (the raw key as the client sent it; auth stores only its hash).
   */
  validateApiKey(argument: _prism_auth_v1_ValidateApiKeyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_auth_v1_ValidateApiKeyResponse__Output>): grpc.ClientUnaryCall;
  validateApiKey(argument: _prism_auth_v1_ValidateApiKeyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_auth_v1_ValidateApiKeyResponse__Output>): grpc.ClientUnaryCall;
  validateApiKey(argument: _prism_auth_v1_ValidateApiKeyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_auth_v1_ValidateApiKeyResponse__Output>): grpc.ClientUnaryCall;
  validateApiKey(argument: _prism_auth_v1_ValidateApiKeyRequest, callback: grpc.requestCallback<_prism_auth_v1_ValidateApiKeyResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Verifies an access token (RS256 JWT) as the gateway does, and that it is not revoked.
   */
  ValidateToken(argument: _prism_auth_v1_ValidateTokenRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_auth_v1_ValidateTokenResponse__Output>): grpc.ClientUnaryCall;
  ValidateToken(argument: _prism_auth_v1_ValidateTokenRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_auth_v1_ValidateTokenResponse__Output>): grpc.ClientUnaryCall;
  ValidateToken(argument: _prism_auth_v1_ValidateTokenRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_auth_v1_ValidateTokenResponse__Output>): grpc.ClientUnaryCall;
  ValidateToken(argument: _prism_auth_v1_ValidateTokenRequest, callback: grpc.requestCallback<_prism_auth_v1_ValidateTokenResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Verifies an access token (RS256 JWT) as the gateway does, and that it is not revoked.
   */
  validateToken(argument: _prism_auth_v1_ValidateTokenRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_auth_v1_ValidateTokenResponse__Output>): grpc.ClientUnaryCall;
  validateToken(argument: _prism_auth_v1_ValidateTokenRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_prism_auth_v1_ValidateTokenResponse__Output>): grpc.ClientUnaryCall;
  validateToken(argument: _prism_auth_v1_ValidateTokenRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_prism_auth_v1_ValidateTokenResponse__Output>): grpc.ClientUnaryCall;
  validateToken(argument: _prism_auth_v1_ValidateTokenRequest, callback: grpc.requestCallback<_prism_auth_v1_ValidateTokenResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface AuthServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Returns a user by id; NOT_FOUND when there is none.
   */
  GetUser: grpc.handleUnaryCall<_prism_auth_v1_GetUserRequest__Output, _prism_auth_v1_User>;
  
  /**
   * Looks up an API key (the raw key as the client sent it; auth stores only its hash).
   */
  ValidateApiKey: grpc.handleUnaryCall<_prism_auth_v1_ValidateApiKeyRequest__Output, _prism_auth_v1_ValidateApiKeyResponse>;
  
  /**
   * Verifies an access token (RS256 JWT) as the gateway does, and that it is not revoked.
   */
  ValidateToken: grpc.handleUnaryCall<_prism_auth_v1_ValidateTokenRequest__Output, _prism_auth_v1_ValidateTokenResponse>;
  
}

export interface AuthServiceDefinition extends grpc.ServiceDefinition {
  GetUser: MethodDefinition<_prism_auth_v1_GetUserRequest, _prism_auth_v1_User, _prism_auth_v1_GetUserRequest__Output, _prism_auth_v1_User__Output>
  ValidateApiKey: MethodDefinition<_prism_auth_v1_ValidateApiKeyRequest, _prism_auth_v1_ValidateApiKeyResponse, _prism_auth_v1_ValidateApiKeyRequest__Output, _prism_auth_v1_ValidateApiKeyResponse__Output>
  ValidateToken: MethodDefinition<_prism_auth_v1_ValidateTokenRequest, _prism_auth_v1_ValidateTokenResponse, _prism_auth_v1_ValidateTokenRequest__Output, _prism_auth_v1_ValidateTokenResponse__Output>
}
