// Original file: services/proto/prism/config/v1/config.proto


export interface ConfigEntry {
  'environment'?: (string);
  'service'?: (string);
  'key'?: (string);
  /**
   * JSON text; empty after a delete.
   */
  'valueJson'?: (string);
  'version'?: (number);
  'updatedBy'?: (string);
  /**
   * RFC 3339.
   */
  'updatedAt'?: (string);
}

export interface ConfigEntry__Output {
  'environment': (string);
  'service': (string);
  'key': (string);
  /**
   * JSON text; empty after a delete.
   */
  'valueJson': (string);
  'version': (number);
  'updatedBy': (string);
  /**
   * RFC 3339.
   */
  'updatedAt': (string);
}
