// Original file: services/proto/prism/config/v1/config.proto

import type { KeySpec as _prism_config_v1_KeySpec, KeySpec__Output as _prism_config_v1_KeySpec__Output } from '../../../prism/config/v1/KeySpec.js';

export interface ListKeysResponse {
  'keys'?: (_prism_config_v1_KeySpec)[];
}

export interface ListKeysResponse__Output {
  'keys': (_prism_config_v1_KeySpec__Output)[];
}
