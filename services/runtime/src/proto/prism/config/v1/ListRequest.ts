// Original file: services/proto/prism/config/v1/config.proto


export interface ListRequest {
  'environment'?: (string);
  /**
   * Empty: every service.
   */
  'service'?: (string);
  'keyPrefix'?: (string);
}

export interface ListRequest__Output {
  'environment': (string);
  /**
   * Empty: every service.
   */
  'service': (string);
  'keyPrefix': (string);
}
