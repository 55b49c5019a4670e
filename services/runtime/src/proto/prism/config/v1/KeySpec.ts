// Original file: services/proto/prism/config/v1/config.proto


export interface KeySpec {
  'key'?: (string);
  'description'?: (string);
  'services'?: (string)[];
  /**
   * The value's JSON Schema.
   */
  'schemaJson'?: (string);
}

export interface KeySpec__Output {
  'key': (string);
  'description': (string);
  'services': (string)[];
  /**
   * The value's JSON Schema.
   */
  'schemaJson': (string);
}
