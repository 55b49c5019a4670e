// Original file: services/proto/prism/dbmanager/v1/dbmanager.proto


export interface ListBackupsRequest {
  'database'?: (string);
}

export interface ListBackupsRequest__Output {
  'database': (string);
}
