/**
 * The vocabulary of the deployment guide's production checklist as a stack file may name it:
 * the 27 item ids (in the guide's order) and which of them no production-like stack may declare
 * not applicable. The rule of each item lives in `infra/checklist/items/` (a file per section), keyed by these ids.
 */
export const CHECKLIST_ITEM_IDS = [
  // Security
  'tls-all-endpoints',
  'jwt-keys',
  'database-credentials',
  'redis-password',
  'network-policies',
  'rate-limiting',
  'oauth-secrets',
  'minio-policies',
  // Reliability
  'multiple-replicas',
  'health-checks',
  'resource-limits',
  'pod-disruption-budgets',
  'circuit-breakers',
  'timeouts',
  'nats-durability',
  // Observability
  'prometheus-scraping',
  'grafana-dashboards',
  'loki-logs',
  'jaeger-tracing',
  'alerting',
  'correlation-ids',
  // Operations
  'backup-schedule',
  'backup-verification',
  'disaster-recovery-plan',
  'runbooks',
  'on-call-rotation',
  'incident-response',
] as const;
export type ChecklistItemId = (typeof CHECKLIST_ITEM_IDS)[number];

/**
 * Items a staging stack may still declare not applicable, each a matter of cost or people rather
 * than of exposure or data loss: one replica (and so no PodDisruptionBudget) or a single JetStream
 * server loses availability, not data that matters in staging; nobody is paged for staging.
 * Everything else is mandatory: a staging stack handles real credentials and real images, so
 * secrets, TLS, policies, limits, probes, backups and alerts are checked exactly as in prod.
 */
export const WAIVABLE_IN_STAGING: ReadonlySet<ChecklistItemId> = new Set([
  'multiple-replicas',
  'pod-disruption-budgets',
  'nats-durability',
  'on-call-rotation',
]);

/** How strictly a stack's `checklist.notApplicable` is held, from its name. */
type StackClass = 'production' | 'staging' | 'other';
function stackClass(stackName: string): StackClass {
  if (/^(prod|production)(-|$)/.test(stackName)) return 'production';
  if (/^staging(-|$)/.test(stackName)) return 'staging';
  return 'other';
}

/**
 * Problems with a stack's waivers: a production stack meets every item (it may declare none not
 * applicable); a staging stack may waive only {@link WAIVABLE_IN_STAGING}; other stacks (dev) any.
 */
export function waiverProblems(
  stackName: string,
  notApplicable: Partial<Record<ChecklistItemId, string>>,
): { path: string[]; message: string }[] {
  const cls = stackClass(stackName);
  const problems: { path: string[]; message: string }[] = [];
  for (const id of Object.keys(notApplicable) as ChecklistItemId[]) {
    const path = ['checklist', 'notApplicable', id];
    if (cls === 'production')
      problems.push({
        path,
        message: `the ${stackName} stack must meet every checklist item; it may declare none not applicable`,
      });
    else if (cls === 'staging' && !WAIVABLE_IN_STAGING.has(id)) {
      problems.push({
        path,
        message: `${id} is mandatory in staging; only ${[...WAIVABLE_IN_STAGING].join(', ')} may be declared not applicable`,
      });
    }
  }
  return problems;
}
