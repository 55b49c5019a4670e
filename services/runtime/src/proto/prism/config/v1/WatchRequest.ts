// Original file: services/proto/prism/config/v1/config.proto


export interface WatchRequest {
  'environment'?: (string);
  /**
   * Empty: every service.
   */
  'service'?: (string);
  'keyPrefix'?: (string);
}

export interface WatchRequest__Output {
  'environment': (string);
  /**
   * Empty: every service.
   */
  'service': (string);
  'keyPrefix': (string);
}
