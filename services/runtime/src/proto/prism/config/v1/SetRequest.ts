// Original file: services/proto/prism/config/v1/config.proto


export interface SetRequest {
  'environment'?: (string);
  'service'?: (string);
  'key'?: (string);
  'valueJson'?: (string);
  /**
   * Who makes the change (a user or a deploy job); required.
   */
  'changedBy'?: (string);
  'comment'?: (string);
  /**
   * Optimistic concurrency: when check_version is true the change applies only if the current
   * version is expected_version (0: the key has no value yet).
   */
  'checkVersion'?: (boolean);
  'expectedVersion'?: (number);
}

export interface SetRequest__Output {
  'environment': (string);
  'service': (string);
  'key': (string);
  'valueJson': (string);
  /**
   * Who makes the change (a user or a deploy job); required.
   */
  'changedBy': (string);
  'comment': (string);
  /**
   * Optimistic concurrency: when check_version is true the change applies only if the current
   * version is expected_version (0: the key has no value yet).
   */
  'checkVersion': (boolean);
  'expectedVersion': (number);
}
