// Original file: services/proto/prism/config/v1/config.proto

import type { HistoryEntry as _prism_config_v1_HistoryEntry, HistoryEntry__Output as _prism_config_v1_HistoryEntry__Output } from '../../../prism/config/v1/HistoryEntry.js';

export interface HistoryResponse {
  'entries'?: (_prism_config_v1_HistoryEntry)[];
}

export interface HistoryResponse__Output {
  'entries': (_prism_config_v1_HistoryEntry__Output)[];
}
