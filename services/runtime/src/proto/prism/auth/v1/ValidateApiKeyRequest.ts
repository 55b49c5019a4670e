// Original file: services/proto/prism/auth/v1/auth.proto


export interface ValidateApiKeyRequest {
  'apiKey'?: (string);
}

export interface ValidateApiKeyRequest__Output {
  'apiKey': (string);
}
