import { COMPOSE_DATA_SUBNET } from '../contract/index.js';
import { type Component, type Flow, type Platform, type Tier, TIERS, component } from '../model/index.js';
import type { ComposeNetwork } from './types.js';

/** The guide's four networks; only the data tier is internal (no route in or out of the host). */
export const NETWORK_NAMES: Readonly<Record<Tier, string>> = {
  frontend: 'prism-frontend',
  backend: 'prism-backend',
  data: 'prism-data',
  observability: 'prism-observability',
};

const INTERNAL_TIERS: ReadonlySet<Tier> = new Set<Tier>(['data']);

/** Fixed subnets: only the data network's, which Consul's bind address names (the others are the engine's choice). */
const SUBNETS: Readonly<Partial<Record<Tier, string>>> = { data: COMPOSE_DATA_SUBNET };

export function networkDefinition(tier: Tier): ComposeNetwork {
  const subnet = SUBNETS[tier];
  return {
    name: NETWORK_NAMES[tier],
    driver: 'bridge',
    ...(INTERNAL_TIERS.has(tier) ? { internal: true } : {}),
    ...(subnet ? { ipam: { config: [{ subnet }] } } : {}),
  };
}

/**
 * The networks of a container: its own tier's, plus the tier of every component its flows
 * reach. A flow is the only reason to share a network, as in the NetworkPolicies, so a data
 * store sits on `prism-data` alone and whoever talks to it (Prometheus included, to scrape
 * MinIO) joins `prism-data`. A one-shot task has no tier of its own: only its flows count.
 */
export function networksOf(platform: Platform, ownTier: Tier | undefined, flows: readonly Flow[]): Tier[] {
  const tiers = new Set<Tier>(ownTier ? [ownTier] : []);
  for (const f of flows) tiers.add(component(platform, f.to).tier);
  return TIERS.filter((t) => tiers.has(t));
}

export const componentNetworks = (platform: Platform, c: Component): Tier[] => networksOf(platform, c.tier, c.flows);

/** Ports can be published only from a container with a non-internal network. */
export const canPublish = (tiers: readonly Tier[]): boolean => tiers.some((t) => !INTERNAL_TIERS.has(t));
