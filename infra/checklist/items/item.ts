import type { Facts } from '../facts.js';

/** What a checklist item is: the guide's wording, a strict rule and its check over the facts. */

export type Section = 'Security' | 'Reliability' | 'Observability' | 'Operations';

export interface Finding {
  readonly met: boolean;
  /** What satisfies the rule, or what is missing. */
  readonly evidence: string;
}

export interface ChecklistItem {
  readonly section: Section;
  /** The deployment guide's wording, verbatim. */
  readonly guide: string;
  /** What "met" means here, strictly. */
  readonly rule: string;
  readonly check: (f: Facts) => Finding;
  /**
   * Set on an item whose rule only reads wiring (configuration, not a running system): what only a run shows.
   * A met rule then reports "configured (not verified by behaviour)", never "met".
   */
  readonly unverifiedBehaviour?: string;
}

const met = (evidence: string): Finding => ({ met: true, evidence });

/** Not met when any problem was found; the problems are the evidence. */
export const verdict = (problems: readonly string[], evidence: string): Finding =>
  problems.length ? { met: false, evidence: problems.join('; ') } : met(evidence);
