// Original file: services/proto/prism/dbmanager/v1/dbmanager.proto


export interface DatabaseMigrations {
  'database'?: (string);
  'applied'?: (string)[];
  'retried'?: (string)[];
  'alreadyApplied'?: (number);
}

export interface DatabaseMigrations__Output {
  'database': (string);
  'applied': (string)[];
  'retried': (string)[];
  'alreadyApplied': (number);
}
