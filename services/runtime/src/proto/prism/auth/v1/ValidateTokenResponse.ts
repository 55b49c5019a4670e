// Original file: services/proto/prism/auth/v1/auth.proto

import type { Long } from '@grpc/proto-loader';

export interface ValidateTokenResponse {
  'valid'?: (boolean);
  /**
   * Set when valid.
   */
  'userId'?: (string);
  'roles'?: (string)[];
  'scopes'?: (string)[];
  /**
   * Unix seconds.
   */
  'expiresAt'?: (number | string | Long);
  /**
   * Why the token was refused, when not valid (expired, revoked, bad_signature, ...).
   */
  'reason'?: (string);
}

export interface ValidateTokenResponse__Output {
  'valid': (boolean);
  /**
   * Set when valid.
   */
  'userId': (string);
  'roles': (string)[];
  'scopes': (string)[];
  /**
   * Unix seconds.
   */
  'expiresAt': (number);
  /**
   * Why the token was refused, when not valid (expired, revoked, bad_signature, ...).
   */
  'reason': (string);
}
