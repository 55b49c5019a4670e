import type { ChecklistItemId } from '../../config/index.js';
import type { ChecklistItem } from './item.js';
import { OBSERVABILITY_ITEMS } from './observability.js';
import { OPERATIONS_ITEMS } from './operations.js';
import { RELIABILITY_ITEMS } from './reliability.js';
import { SECURITY_NETWORK_ITEMS } from './security-network.js';
import { SECURITY_SECRETS_ITEMS } from './security-secrets.js';
import { TLS_ITEMS } from './security-tls.js';

export type { ChecklistItem, Section } from './item.js';

/**
 * Every item of the deployment guide's production checklist, one file per section of the guide (Security
 * in three: TLS, network, secrets). The type requires every id of CHECKLIST_ITEM_IDS (infra/config/checklist.ts),
 * which also fixes the order of the report; a new item goes into its section's file under its id.
 */
export const CHECKLIST: Readonly<Record<ChecklistItemId, ChecklistItem>> = {
  ...TLS_ITEMS,
  ...SECURITY_SECRETS_ITEMS,
  ...SECURITY_NETWORK_ITEMS,
  ...RELIABILITY_ITEMS,
  ...OBSERVABILITY_ITEMS,
  ...OPERATIONS_ITEMS,
};
