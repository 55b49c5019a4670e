// Original file: services/proto/prism/auth/v1/auth.proto

import type { Long } from '@grpc/proto-loader';

export interface User {
  'id'?: (string);
  'email'?: (string);
  'displayName'?: (string);
  'roles'?: (string)[];
  'disabled'?: (boolean);
  /**
   * Unix seconds.
   */
  'createdAt'?: (number | string | Long);
}

export interface User__Output {
  'id': (string);
  'email': (string);
  'displayName': (string);
  'roles': (string)[];
  'disabled': (boolean);
  /**
   * Unix seconds.
   */
  'createdAt': (number);
}
