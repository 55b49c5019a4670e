import type { ChecklistItemId } from '../../config/index.js';
import type { ManifestObject } from '../../manifest/index.js';
import type { Facts } from '../facts.js';
import { envOf } from '../manifests.js';
import { allows, defaultDeny, openIngress, policiesSelecting } from '../network.js';
import { type ChecklistItem, verdict } from './item.js';
import { annotation, ingresses, podOf } from './lookups.js';

/** Security: what may reach what (network policies) and how fast (rate limits at Traefik and the gateway). */

/** The average of a Traefik rateLimit Middleware an Ingress routes through, if any. */
function traefikRateLimit(f: Facts, i: ManifestObject): number | undefined {
  const refs = (annotation(i, 'traefik.ingress.kubernetes.io/router.middlewares') ?? '').split(',').filter(Boolean);
  for (const ref of refs) {
    // `<namespace>-<name>@kubernetescrd`
    const m = f.input.objects.find(
      (o) => o.kind === 'Middleware' && ref.startsWith(`${o.metadata.namespace ?? f.namespace}-${o.metadata.name}@`),
    );
    const avg = (m?.spec as { rateLimit?: { average?: number } } | undefined)?.rateLimit?.average;
    if (avg) return avg;
  }
  return undefined;
}

export const SECURITY_NETWORK_ITEMS = {
  'network-policies': {
    section: 'Security',
    guide: 'Network policies configured',
    rule:
      'A default deny of ingress and egress in the namespace; every pod selected by its own policy; no policy admitting any source; and every flow of the model ' +
      '(component and task, to a port) allowed at both ends, so the data tier is reachable only by its users.',
    check(f) {
      const problems: string[] = [];
      const ns = f.namespace;
      const deny = defaultDeny(f.input.objects, ns);
      if (!deny) problems.push(`no default deny (ingress and egress) in ${ns}`);
      const mine = f.workloads.filter((w) => w.namespace === ns);
      for (const w of mine)
        if (!policiesSelecting(f.input.objects, podOf(w)).length)
          problems.push(`${w.kind} ${w.name}: no policy selects its pods`);
      for (const o of openIngress(f.input.objects, ns))
        problems.push(`NetworkPolicy ${o.metadata.name} admits any source`);
      let flows = 0;
      const byApp = (name: string) => mine.filter((w) => w.app === name);
      for (const c of f.input.platform.components) {
        for (const owner of [
          { name: c.name, flows: c.flows },
          ...c.tasks.map((t) => ({ name: t.name, flows: t.flows })),
        ]) {
          for (const flow of owner.flows) {
            const target = f.input.platform.components.find((x) => x.name === flow.to);
            const port = target?.ports.find((p) => p.name === flow.port)?.port;
            for (const from of byApp(owner.name)) {
              for (const to of byApp(flow.to)) {
                flows++;
                if (port === undefined || !allows(f.input.objects, podOf(from), podOf(to), port))
                  problems.push(`${owner.name} → ${flow.to}:${port ?? flow.port} not allowed`);
              }
            }
          }
        }
      }
      return verdict(
        [...new Set(problems)],
        `default deny ${deny?.metadata.name}; ${mine.length} workloads each selected by a policy; ${flows} model flows allowed at both ends`,
      );
    },
  },
  'rate-limiting': {
    section: 'Security',
    guide: 'Rate limiting enabled at Traefik and Gateway',
    rule:
      'Both layers: the edge (Ingress limit-rps > 0; Traefik in Compose) and the gateway (rate_limit enabled with a positive rate, shared through Redis); and the gateway ' +
      "sees the real client behind the edge (trusted forwarding), or every client shares the proxy's one per-IP bucket.",
    check(f) {
      const problems: string[] = [];
      const edge: string[] = [];
      for (const i of ingresses(f)) {
        const rps = Number(annotation(i, 'nginx.ingress.kubernetes.io/limit-rps') ?? traefikRateLimit(f, i) ?? 0);
        if (!(rps > 0)) problems.push(`Ingress ${i.metadata.name}: no edge rate limit`);
        else edge.push(`Ingress ${i.metadata.name} ${rps}/s per IP`);
      }
      if (!ingresses(f).length) problems.push('no edge');
      const gw = f.gatewayConfigs();
      if (!gw.length) problems.push('no gateway config');
      const gateway = f.services().find((w) => w.app === 'gateway');
      for (const g of gw) {
        const rl = g.doc.rate_limit;
        if (!rl.enabled || !((rl.requests_per_second ?? 0) > 0))
          problems.push(`${g.object.metadata.name}: gateway rate limit off`);
        const s = g.doc.server ?? {};
        const trusted =
          s.trust_forwarded_for === true ||
          Object.entries(s).some(([k, v]) => /trusted_prox/.test(k) && Array.isArray(v) && v.length > 0);
        if (!trusted)
          problems.push(
            `${g.object.metadata.name}: the gateway trusts no forwarded address, so all clients behind the edge share one per-IP bucket`,
          );
      }
      if (!gateway || !envOf(gateway, 'PRISM_REDIS_ADDRESS'))
        problems.push('the gateway has no Redis for a shared limit');
      const rl = gw[0]?.doc.rate_limit;
      return verdict(
        problems,
        `${edge.join(', ')}; gateway ${rl?.requests_per_second}/s burst ${rl?.burst} per identity through Redis, client address from the edge`,
      );
    },
  },
} satisfies Partial<Record<ChecklistItemId, ChecklistItem>>;
