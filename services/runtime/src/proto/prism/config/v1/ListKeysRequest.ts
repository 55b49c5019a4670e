// Original file: services/proto/prism/config/v1/config.proto


export interface ListKeysRequest {
}

export interface ListKeysRequest__Output {
}
