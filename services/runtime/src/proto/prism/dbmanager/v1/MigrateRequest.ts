// Original file: services/proto/prism/dbmanager/v1/dbmanager.proto


export interface MigrateRequest {
  /**
   * auth, ops, or empty for both.
   */
  'database'?: (string);
}

export interface MigrateRequest__Output {
  /**
   * auth, ops, or empty for both.
   */
  'database': (string);
}
