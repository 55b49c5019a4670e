// Original file: services/proto/prism/config/v1/config.proto

import type { ConfigEntry as _prism_config_v1_ConfigEntry, ConfigEntry__Output as _prism_config_v1_ConfigEntry__Output } from '../../../prism/config/v1/ConfigEntry.js';

export interface ListResponse {
  'entries'?: (_prism_config_v1_ConfigEntry)[];
}

export interface ListResponse__Output {
  'entries': (_prism_config_v1_ConfigEntry__Output)[];
}
