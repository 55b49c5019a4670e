import { CHECKLIST_ITEM_IDS, type ChecklistItemId } from '../config/index.js';
import { Facts, type ChecklistInput } from './facts.js';
import { CHECKLIST, type Section } from './items/index.js';

/** `configured`: the rule is met, but it reads wiring only and the behaviour it stands for is not verified here. */
type Status = 'met' | 'configured' | 'not met' | 'not applicable';

interface ItemResult {
  readonly id: ChecklistItemId;
  readonly section: Section;
  readonly guide: string;
  readonly status: Status;
  /** The evidence, or the stack's reason for not applicable. */
  readonly evidence: string;
}

export interface ChecklistReport {
  readonly environment: string;
  readonly items: readonly ItemResult[];
  readonly counts: Readonly<Record<Status, number>>;
  /** True when no item is "not met": every item is met, configured, or declared not applicable by the stack. */
  readonly ok: boolean;
}

/** Evaluates every item of the guide's production checklist against one environment. */
export function evaluateChecklist(input: ChecklistInput): ChecklistReport {
  const facts = new Facts(input);
  const waived = input.stack.config.checklist.notApplicable;
  const items = CHECKLIST_ITEM_IDS.map((id): ItemResult => {
    const item = CHECKLIST[id];
    const reason = waived[id];
    if (reason !== undefined)
      return {
        id,
        section: item.section,
        guide: item.guide,
        status: 'not applicable',
        evidence: `${reason} (declared in ${input.stack.file})`,
      };
    let finding;
    try {
      finding = item.check(facts);
    } catch (e) {
      // A rule that cannot read the output cannot vouch for it.
      finding = { met: false, evidence: `the rule failed: ${(e as Error).message}` };
    }
    if (finding.met && item.unverifiedBehaviour) {
      return {
        id,
        section: item.section,
        guide: item.guide,
        status: 'configured',
        evidence: `${finding.evidence}; not verified by behaviour: ${item.unverifiedBehaviour}`,
      };
    }
    return {
      id,
      section: item.section,
      guide: item.guide,
      status: finding.met ? 'met' : 'not met',
      evidence: finding.evidence,
    };
  });
  const counts = { met: 0, configured: 0, 'not met': 0, 'not applicable': 0 };
  for (const i of items) counts[i.status]++;
  return { environment: input.stack.name, items, counts, ok: counts['not met'] === 0 };
}

/** One line per item, grouped by the guide's sections. */
export function formatReport(r: ChecklistReport): string {
  const lines = [
    `Production checklist for ${r.environment}: ${r.counts.met} met, ${r.counts.configured} configured (not verified by behaviour), ${r.counts['not met']} not met, ${r.counts['not applicable']} not applicable`,
  ];
  let section = '';
  for (const i of r.items) {
    if (i.section !== section) {
      section = i.section;
      lines.push('', `${section}`);
    }
    const mark = { met: 'x', configured: '~', 'not met': ' ', 'not applicable': '-' }[i.status];
    lines.push(
      `  [${mark}] ${i.guide}: ${i.status === 'configured' ? 'configured (not verified by behaviour)' : i.status} (${i.evidence})`,
    );
  }
  return `${lines.join('\n')}\n`;
}
