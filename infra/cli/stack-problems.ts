import { StackConfigError } from '../config/index.js';
import { ModelError } from '../model/index.js';

/**
 * The message of a bad stack file or model, one line per problem, as `npm run synth` prints it; undefined
 * for any other error (a bug, whose stack trace is worth printing). Every command that loads a stack uses it.
 */
export function stackProblems(e: unknown): string | undefined {
  return e instanceof StackConfigError || e instanceof ModelError ? e.message : undefined;
}
