// Original file: services/proto/prism/config/v1/config.proto


export interface GetRequest {
  'environment'?: (string);
  'service'?: (string);
  'key'?: (string);
}

export interface GetRequest__Output {
  'environment': (string);
  'service': (string);
  'key': (string);
}
