// Original file: services/proto/prism/config/v1/config.proto


export interface ConfigChange {
  'environment'?: (string);
  'service'?: (string);
  'key'?: (string);
  'version'?: (number);
  /**
   * JSON text; empty for a delete.
   */
  'valueJson'?: (string);
  'action'?: (string);
  'changedBy'?: (string);
  'changedAt'?: (string);
}

export interface ConfigChange__Output {
  'environment': (string);
  'service': (string);
  'key': (string);
  'version': (number);
  /**
   * JSON text; empty for a delete.
   */
  'valueJson': (string);
  'action': (string);
  'changedBy': (string);
  'changedAt': (string);
}
