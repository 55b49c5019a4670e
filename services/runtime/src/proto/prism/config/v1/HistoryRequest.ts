// Original file: services/proto/prism/config/v1/config.proto


export interface HistoryRequest {
  'environment'?: (string);
  'service'?: (string);
  'key'?: (string);
  /**
   * Newest first; 0 means 100.
   */
  'limit'?: (number);
}

export interface HistoryRequest__Output {
  'environment': (string);
  'service': (string);
  'key': (string);
  /**
   * Newest first; 0 means 100.
   */
  'limit': (number);
}
