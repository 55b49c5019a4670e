// Original file: services/proto/prism/dbmanager/v1/dbmanager.proto


export interface StatusRequest {
  'database'?: (string);
}

export interface StatusRequest__Output {
  'database': (string);
}
