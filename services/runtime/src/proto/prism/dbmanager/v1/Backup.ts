// Original file: services/proto/prism/dbmanager/v1/dbmanager.proto

import type { Long } from '@grpc/proto-loader';

export interface Backup {
  'name'?: (string);
  'database'?: (string);
  'kind'?: (string);
  'parent'?: (string);
  'status'?: (string);
  'startedAt'?: (string);
  'finishedAt'?: (string);
  'sizeBytes'?: (number | string | Long);
  'walStart'?: (string);
  'walEnd'?: (string);
  'error'?: (string);
}

export interface Backup__Output {
  'name': (string);
  'database': (string);
  'kind': (string);
  'parent': (string);
  'status': (string);
  'startedAt': (string);
  'finishedAt': (string);
  'sizeBytes': (number);
  'walStart': (string);
  'walEnd': (string);
  'error': (string);
}
