/** A restore refused or failed for a reason the operator can act on (the message says which). */
export class RestoreError extends Error {
  override readonly name = 'RestoreError';
}
