// For the server-side dry run of scripts/deploy-test.sh: reads the synthesized files of one environment
// (dist/k8s/<env>/) and prints, as a JSON List (YAML 1.2 output would turn a string `off` into kubectl's
// YAML 1.1 boolean),
//   prerequisites         its Namespaces and ServiceAccounts (a dry run creates nothing, and a Pod is refused
//                         when its namespace or service account does not exist)
//   pods                  one Pod per workload pod template (Deployment, StatefulSet, DaemonSet, Job, CronJob):
//                         Pod Security admission *enforces* on Pods only (on workloads it just warns)
//   pods --violate        the Pods of the namespaces whose label enforces *restricted*, each with a planted
//                         violation of that profile (allowPrivilegeEscalation: true on its first container):
//                         every one must be refused
// Usage: node scripts/workload-pods.mjs prerequisites|pods [--violate] <dir>
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

const [what, ...rest] = process.argv.slice(2);
const violate = rest.includes('--violate');
const dir = rest.find((a) => !a.startsWith('--'));
if (!dir || !['prerequisites', 'pods'].includes(what)) {
  console.error('usage: node scripts/workload-pods.mjs prerequisites|pods [--violate] <dir>');
  process.exit(2);
}

const objects = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS()))
  .filter((o) => o && typeof o === 'object');

const restricted = new Set(
  objects
    .filter((o) => o.kind === 'Namespace' && o.metadata.labels?.['pod-security.kubernetes.io/enforce'] === 'restricted')
    .map((o) => o.metadata.name),
);

/** The pod template of a workload, or undefined for any other kind. */
function podTemplate(o) {
  switch (o.kind) {
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'Job':
      return o.spec.template;
    case 'CronJob':
      return o.spec.jobTemplate.spec.template;
    default:
      return undefined;
  }
}

let out;
if (what === 'prerequisites') {
  out = objects.filter((o) => o.kind === 'Namespace' || o.kind === 'ServiceAccount');
} else {
  out = objects.flatMap((o) => {
    const template = podTemplate(o);
    if (!template) return [];
    if (violate && !restricted.has(o.metadata.namespace)) return [];
    const spec = structuredClone(template.spec);
    // What the StatefulSet controller adds: a volume per claim template, bound to the replica's claim.
    for (const claim of o.spec.volumeClaimTemplates ?? []) {
      const volume = {
        name: claim.metadata.name,
        persistentVolumeClaim: { claimName: `${claim.metadata.name}-${o.metadata.name}-0` },
      };
      spec.volumes = [...(spec.volumes ?? []), volume];
    }
    if (violate) {
      const c = spec.containers[0];
      c.securityContext = { ...c.securityContext, allowPrivilegeEscalation: true };
    }
    const name = `${o.kind.toLowerCase()}-${o.metadata.name}`.slice(0, 63);
    return [
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: o.metadata.namespace, labels: template.metadata?.labels },
        spec,
      },
    ];
  });
  if (out.length === 0) {
    console.error(`workload-pods: no workload in ${dir}`);
    process.exit(1);
  }
}
process.stdout.write(`${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: out })}\n`);
