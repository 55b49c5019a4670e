// Original file: services/proto/prism/config/v1/config.proto


export interface HistoryEntry {
  'version'?: (number);
  /**
   * JSON text; empty for a delete.
   */
  'valueJson'?: (string);
  /**
   * set, delete or rollback.
   */
  'action'?: (string);
  'rolledBackTo'?: (number);
  'changedBy'?: (string);
  'changedAt'?: (string);
  'comment'?: (string);
}

export interface HistoryEntry__Output {
  'version': (number);
  /**
   * JSON text; empty for a delete.
   */
  'valueJson': (string);
  /**
   * set, delete or rollback.
   */
  'action': (string);
  'rolledBackTo': (number);
  'changedBy': (string);
  'changedAt': (string);
  'comment': (string);
}
