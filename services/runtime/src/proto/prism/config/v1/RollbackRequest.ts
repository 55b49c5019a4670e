// Original file: services/proto/prism/config/v1/config.proto


export interface RollbackRequest {
  'environment'?: (string);
  'service'?: (string);
  'key'?: (string);
  /**
   * The version whose value becomes current again (as a new version).
   */
  'toVersion'?: (number);
  'changedBy'?: (string);
  'comment'?: (string);
}

export interface RollbackRequest__Output {
  'environment': (string);
  'service': (string);
  'key': (string);
  /**
   * The version whose value becomes current again (as a new version).
   */
  'toVersion': (number);
  'changedBy': (string);
  'comment': (string);
}
