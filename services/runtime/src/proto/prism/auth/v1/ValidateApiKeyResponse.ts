// Original file: services/proto/prism/auth/v1/auth.proto

import type { Long } from '@grpc/proto-loader';

export interface ValidateApiKeyResponse {
  'valid'?: (boolean);
  /**
   * Set when valid.
   */
  'keyId'?: (string);
  'userId'?: (string);
  'scopes'?: (string)[];
  /**
   * Unix seconds; 0 when the key does not expire.
   */
  'expiresAt'?: (number | string | Long);
  /**
   * Why the key was refused, when not valid (unknown, revoked, expired).
   */
  'reason'?: (string);
}

export interface ValidateApiKeyResponse__Output {
  'valid': (boolean);
  /**
   * Set when valid.
   */
  'keyId': (string);
  'userId': (string);
  'scopes': (string)[];
  /**
   * Unix seconds; 0 when the key does not expire.
   */
  'expiresAt': (number);
  /**
   * Why the key was refused, when not valid (unknown, revoked, expired).
   */
  'reason': (string);
}
