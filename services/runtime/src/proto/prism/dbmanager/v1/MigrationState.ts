// Original file: services/proto/prism/dbmanager/v1/dbmanager.proto


export interface MigrationState {
  'version'?: (number);
  'name'?: (string);
  /**
   * applied, pending, failed, changed, missing-file.
   */
  'state'?: (string);
  'appliedAt'?: (string);
  'error'?: (string);
}

export interface MigrationState__Output {
  'version': (number);
  'name': (string);
  /**
   * applied, pending, failed, changed, missing-file.
   */
  'state': (string);
  'appliedAt': (string);
  'error': (string);
}
