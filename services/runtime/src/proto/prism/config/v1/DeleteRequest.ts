// Original file: services/proto/prism/config/v1/config.proto


export interface DeleteRequest {
  'environment'?: (string);
  'service'?: (string);
  'key'?: (string);
  'changedBy'?: (string);
  'comment'?: (string);
}

export interface DeleteRequest__Output {
  'environment': (string);
  'service': (string);
  'key': (string);
  'changedBy': (string);
  'comment': (string);
}
