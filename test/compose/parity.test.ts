import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  COMPOSE_FILES,
  NETWORK_NAMES,
  configHostDir,
  fromProjectDir,
  type ComposeService,
} from '../../infra/compose/index.js';
import { MTLS_CA_CERT, MTLS_CERT_DIR } from '../../infra/model/index.js';
import { MTLS_DIR, MTLS_FILES, SECRET_NAME, secretSpec } from '../../infra/contract/index.js';
import type { Component } from '../../infra/model/index.js';
import { synth } from '../support/synth.js';
import { allServices, committedCompose, devPlatform, unescape } from './support.js';

type Json = any;

const { objects } = synth('dev');
const platform = devPlatform();
const services = allServices();
const workloadKinds = new Set(['Deployment', 'StatefulSet']);

function pod(kind: 'workload' | 'Job', app: string): { spec: Json; container: Json } {
  const o = objects.find(
    (x) => (kind === 'Job' ? x.kind === 'Job' : workloadKinds.has(x.kind)) && (x.metadata.labels as Json)?.app === app,
  ) as Json;
  if (!o) throw new Error(`no Kubernetes ${kind} for ${app}`);
  const spec = o.spec.template.spec;
  return { spec, container: spec.containers[0] };
}

const svc = (name: string): ComposeService & { file: string } => {
  const s = services.get(name);
  if (!s) throw new Error(`no compose service ${name}`);
  return s;
};

const inCluster = platform.components.filter((c) => c.layer !== 'edge');

/** What the container receives for each variable, in both renderers; secrets as `secret:<key>`. */
function k8sEnv(container: Json): Record<string, string> {
  return Object.fromEntries(
    (container.env ?? []).map((e: Json) => [
      e.name,
      e.valueFrom?.secretKeyRef
        ? `secret:${e.valueFrom.secretKeyRef.key}`
        : e.valueFrom?.fieldRef
          ? 'field:pod-name'
          : e.value,
    ]),
  );
}
function composeEnv(s: ComposeService, c: Component): Record<string, string> {
  const byDotenv = new Map<string, string>();
  for (const [, v] of Object.entries(c.env)) if ('secret' in v) byDotenv.set(secretSpec(v.secret).dotenv, v.secret);
  return Object.fromEntries(
    Object.entries(s.environment ?? {}).map(([name, value]) => {
      const m = /^\$\{([A-Z0-9_]+)[:?]/.exec(value);
      if (m) return [name, `secret:${byDotenv.get(m[1]!) ?? `unknown ${m[1]}`}`];
      if ('field' in (c.env[name] ?? {})) return [name, value === c.name ? 'field:pod-name' : `wrong ${value}`];
      return [name, unescape(value)];
    }),
  );
}

describe('Compose and Kubernetes agree (dev)', () => {
  it('run the same components', () => {
    const k8s = objects
      .filter((o) => workloadKinds.has(o.kind))
      .map((o) => (o.metadata.labels as Json).app)
      .sort();
    const compose = [...services]
      .filter(([, s]) => s.labels['io.prism.kind'] === 'component' && s.file !== 'edge')
      .map(([n]) => n)
      .sort();
    expect(compose).toEqual(k8s);
  });

  it.each(inCluster.map((c) => [c.name, c] as const))('%s: image, ports, command, env, user, limits', (name, c) => {
    const { spec, container } = pod('workload', name);
    const s = svc(name);
    expect(s.image).toBe(container.image);
    const k8sPorts = (container.ports ?? []).map((p: Json) => p.containerPort).sort();
    const composePorts = [...(s.ports ?? []).map((p) => p.target), ...(s.expose ?? []).map(Number)].sort();
    expect(composePorts).toEqual(k8sPorts);
    expect(s.entrypoint ? s.entrypoint.map(unescape) : undefined).toEqual(container.command);
    // Kubernetes expands $(VAR) from the container's env; Compose from .env. Compare with the reference spelled out.
    const args = (container.args ?? undefined) as string[] | undefined;
    expect(s.command?.map((a) => unescape(a).replace(/\$\{([A-Z0-9_]+)[:?][^}]*\}/g, '$($1)'))).toEqual(args);
    expect(composeEnv(s, c)).toEqual(k8sEnv(container));
    expect(s.user).toBe(`${spec.securityContext.runAsUser}:${spec.securityContext.runAsGroup}`);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(s.read_only).toBe(true);
    expect(container.securityContext.capabilities.drop).toEqual(s.cap_drop);
    expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(s.security_opt).toContain('no-new-privileges:true');
    expect(s.cpus).toBe(
      Number.parseFloat(container.resources.limits.cpu) /
        (String(container.resources.limits.cpu).endsWith('m') ? 1000 : 1),
    );
    expect(s.mem_limit).toBe(
      String(container.resources.limits.memory).replace(
        /([0-9]+)(Mi|Gi)$/,
        (_: string, n: string, u: string) => `${n}${u[0]!.toLowerCase()}`,
      ),
    );
  });

  it.each(inCluster.map((c) => [c.name, c] as const))('%s: readiness check on the same endpoint', (name, c) => {
    const { container } = pod('workload', name);
    const probe = container.readinessProbe;
    if (c.image.tools.httpCheck === 'scratch') {
      // An image with nothing but its program (the NATS exporter) cannot run a check; then nothing may wait on it.
      expect(svc(name).healthcheck).toBeUndefined();
      for (const [other, s] of services)
        expect(s.depends_on?.[name]?.condition, `${other} waits on ${name}`).not.toBe('service_healthy');
      return;
    }
    const test = svc(name).healthcheck!.test.map(unescape);
    if (probe.exec) expect(test).toEqual(['CMD', ...probe.exec.command]);
    // Silo's own readiness check asks the server's readiness API, the endpoint the kubelet probes.
    else if (test.join(' ') === 'CMD silo healthcheck ready') expect(probe.httpGet.path).toBe('/minio/health/ready');
    else expect(test.at(-1)).toBe(`http://127.0.0.1:${probe.httpGet.port}${probe.httpGet.path}`);
    expect(svc(name).healthcheck!.interval).toBe(`${probe.periodSeconds}s`);
  });

  it.each(inCluster.map((c) => [c.name, c] as const))(
    '%s: writable paths, config files and secret files mounted alike',
    (name, c) => {
      const { spec, container } = pod('workload', name);
      const s = svc(name);
      const volumes = new Map<string, Json>(spec.volumes.map((v: Json) => [v.name, v]));
      const mounts = container.volumeMounts as Json[];
      // Writable paths: an emptyDir is a tmpfs; on-disk scratch is an ephemeral volume claim in
      // Kubernetes and a named volume in Compose (never both).
      const emptyDirs = mounts
        .filter((m) => volumes.get(m.name)?.emptyDir)
        .map((m) => m.mountPath)
        .sort();
      const claims = mounts
        .filter((m) => volumes.get(m.name)?.ephemeral)
        .map((m) => m.mountPath)
        .sort();
      const tmpfs = (s.tmpfs ?? []).map((t) => t.split(':')[0]!).sort();
      const scratch = (s.volumes ?? [])
        .filter((v) => v.startsWith(`${name}-scratch-`))
        .map((v) => v.split(':')[1]!)
        .sort();
      expect(tmpfs).toEqual(emptyDirs);
      expect(scratch).toEqual(claims);
      expect(scratch).toEqual(
        c.writablePaths
          .filter((w) => w.onDisk)
          .map((w) => w.path)
          .sort(),
      );
      // The directories holding config files: each ConfigMap mount, and a subdirectory of it where an item's path has
      // one (a directory inside another's is not a mount of its own in Kubernetes: ConfigMap volumes are read-only).
      const configDirs = mounts
        .filter((m) => volumes.get(m.name)?.configMap)
        .flatMap((m) => [
          m.mountPath,
          ...volumes
            .get(m.name)
            .configMap.items.filter((i: Json) => i.path.includes('/'))
            .map((i: Json) => `${m.mountPath}/${i.path.slice(0, i.path.lastIndexOf('/'))}`),
        ])
        .filter((d, i, all) => all.indexOf(d) === i)
        .sort();
      const allBinds = (s.volumes ?? []).filter((v) => v.startsWith('.')).map((v) => v.split(':'));
      for (const b of allBinds) expect(b[2], b.join(':')).toBe('ro');
      // The mesh certificate: the cert-manager Secret in Kubernetes, the generated directory bind-mounted in Compose.
      const mtlsVolume = [...volumes.values()].find((v) => v.secret?.secretName === `${name}-mtls`);
      const mtlsBinds = allBinds.filter(
        (b) =>
          b[0] === fromProjectDir(`${MTLS_CERT_DIR}/${name}`) ||
          (c.identity?.verifyOnly && b[0] === fromProjectDir(MTLS_CA_CERT)),
      );
      if (c.identity?.verifyOnly) {
        // Verifies servers only: the CA certificate, never a key, in both.
        const mount = mounts.find((m) => m.name === mtlsVolume.name).mountPath;
        expect(mtlsVolume.secret.items.map((i: Json) => i.path)).toEqual(['ca.crt']);
        expect(mtlsBinds.map((b) => b[1])).toEqual([`${mount}/ca.crt`]);
      } else if (c.identity) {
        expect(mtlsVolume.secret.items.map((i: Json) => i.path).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
        expect(mtlsBinds.map((b) => b[1])).toEqual([mounts.find((m) => m.name === mtlsVolume.name).mountPath]);
      } else {
        expect(mtlsVolume).toBeUndefined();
        expect(mtlsBinds).toEqual([]);
      }
      const binds = allBinds.filter((b) => !mtlsBinds.includes(b));
      expect(binds.map((b) => b[1]).sort()).toEqual(configDirs);
      for (const b of binds) expect(b[2], b.join(':')).toBe('ro');
      const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === `${name}-config`) as Json;
      for (const f of c.configFiles) {
        const local = readFileSync(`${configHostDir(name, c.configFiles, f.mountPath)}/${f.name}`, 'utf8');
        // Prometheus alone differs on purpose: static targets instead of Kubernetes pod discovery.
        if (f.name === 'prometheus.yml') expect(parse(local).scrape_configs[0].static_configs).toBeDefined();
        // Consul's binds to the data network's address in Compose (several networks); the same otherwise.
        else if (f.name === 'server.hcl') {
          expect(cm.data[f.name]).toBe(f.content);
          expect(local.split('\n').filter((l) => !cm.data[f.name].split('\n').includes(l))).toEqual([
            expect.stringMatching(/^# /),
            expect.stringMatching(/^# /),
            expect.stringMatching(/^bind_addr = /),
          ]);
        } else expect(local, f.name).toBe(cm.data[f.name]);
      }
      // Secret files: a volume filled by the file's volume-init one-shot, at the Secret volume's path, read-only.
      const secretVolume = [...volumes.values()].find((v) => v.secret?.secretName === SECRET_NAME);
      const secretMount = mounts.find((m) => m.name === secretVolume?.name);
      const keyMount = (s.volumes ?? []).find((v) => v.startsWith(`${name}-secret-files:`));
      if (!secretVolume) {
        expect(keyMount).toBeUndefined();
        return;
      }
      expect(secretVolume.secret.secretName).toBe(SECRET_NAME);
      expect(keyMount).toBe(`${name}-secret-files:${secretMount.mountPath}:ro`);
      const init = [...services.values()].find((x) => x.file === s.file && x.container_name?.endsWith('-volume-init'))!;
      const script = init.command![0]!;
      // Key files are copied from keys/; credentials from .env are written from the init's environment.
      const copied = [
        ...script.matchAll(new RegExp(`cp /init/keys/\\S+ /init/${name}-secret-files/(\\S+)`, 'g')),
        ...script.matchAll(new RegExp(`printf '%s' "\\$\\$\\w+" > /init/${name}-secret-files/(\\S+)`, 'g')),
      ].map((m) => m[1]);
      expect(copied.sort()).toEqual(secretVolume.secret.items.map((i: Json) => i.path).sort());
      expect(script).toContain(
        `chmod ${secretVolume.secret.defaultMode.toString(8).padStart(4, '0')} /init/${name}-secret-files/`,
      );
      expect(s.depends_on?.[init.container_name!]?.condition).toBe('service_completed_successfully');
    },
  );

  it('start each component after the healthy components it calls in the same project (monitors wait for nobody)', () => {
    // The files loaded together (the Makefile's): docker-compose.yml with the infrastructure, Traefik after both.
    const loadedWith: Record<string, string[]> = { core: ['core', 'data'], edge: ['edge', 'core', 'data'] };
    const project = (file: string) => loadedWith[file] ?? [file];
    for (const c of platform.components) {
      const s = svc(c.name);
      const monitor = c.flows.every((f) => platform.components.find((x) => x.name === f.to)!.metricsPort === f.port);
      for (const f of c.flows) {
        const target = svc(f.to);
        const expected =
          !monitor && f.to !== c.name && project(s.file).includes(target.file) ? 'service_healthy' : undefined;
        expect(s.depends_on?.[f.to]?.condition, `${c.name} -> ${f.to}`).toBe(expected);
      }
    }
    expect(svc('grafana').depends_on).toMatchObject({
      prometheus: { condition: 'service_healthy' },
      loki: { condition: 'service_healthy' },
    });
    expect(svc('prometheus').depends_on?.grafana).toBeUndefined();
  });

  it('run the same one-shot tasks (Jobs); scheduled tasks (CronJobs) are not services of their own', () => {
    const jobs = objects
      .filter((o) => o.kind === 'Job')
      .map((o) => (o.metadata.labels as Json).app)
      .sort();
    const tasks = [...services]
      .filter(([, s]) => s.labels['io.prism.kind'] === 'task' && s.labels['io.prism.task-of'])
      .map(([n]) => n)
      .sort();
    expect(tasks).toEqual(jobs);
    for (const name of jobs) {
      const { container } = pod('Job', name);
      const s = svc(name);
      expect(s.image).toBe(container.image);
      expect(s.entrypoint?.map(unescape)).toEqual(container.command);
      expect(s.command?.map(unescape)).toEqual(container.args);
      expect(Object.keys(s.environment ?? {}).sort()).toEqual((container.env ?? []).map((e: Json) => e.name).sort());
    }
    expect(
      objects
        .filter((o) => o.kind === 'CronJob')
        .map((o) => o.metadata.name)
        .filter((n) => services.has(n)),
    ).toEqual([]);
  });

  it('run the scheduled tasks (CronJobs) at the same times with the same arguments, from the DB manager’s scheduler', () => {
    const cronJobs = objects.filter((o) => o.kind === 'CronJob') as Json[];
    expect(cronJobs.length).toBeGreaterThan(0);
    const scheduler = svc('backup-scheduler');
    const dbmanager = pod('workload', 'dbmanager').container;
    expect(scheduler.labels).toMatchObject({ 'io.prism.kind': 'scheduler', 'io.prism.task-of': 'dbmanager' });
    expect(scheduler.image).toBe(dbmanager.image);
    expect(scheduler.entrypoint).toBeUndefined(); // the image's tini entrypoint runs it
    expect(scheduler.restart).toBe('unless-stopped');
    const all = scheduler.command!.map(unescape);
    expect(all.slice(0, 2)).toEqual(['schedule', '--status-file']);
    const args = [all[0]!, ...all.slice(3)];
    const jobs = args
      .slice(1)
      .filter((_, i) => i % 2 === 1)
      .map((j) => j.split('|'));
    expect(
      args
        .slice(1)
        .filter((_, i) => i % 2 === 0)
        .every((a) => a === '--job'),
    ).toBe(true);
    const fromCompose = jobs
      .map(([name, cron, a]) => ({ name, cron, args: a!.split(' ') }))
      .sort((x, y) => x.name!.localeCompare(y.name!));
    const fromK8s = cronJobs
      .map((c) => ({
        name: c.metadata.name,
        cron: c.spec.schedule,
        args: c.spec.jobTemplate.spec.template.spec.containers[0].args,
      }))
      .sort((x, y) => x.name.localeCompare(y.name));
    expect(fromCompose).toEqual(fromK8s);
    // It runs with the DB manager's environment (databases, object store) and reaches what the CronJobs reach.
    expect(Object.keys(scheduler.environment ?? {}).sort()).toEqual(
      (dbmanager.env ?? []).map((e: Json) => e.name).sort(),
    );
  });

  it('route the edge alike: Ingress paths are Traefik routers to the same service ports', () => {
    // One Ingress per backend (nginx verifies one backend name per Ingress); Traefik has one router per path of any of them.
    const ingresses = objects.filter((o) => o.kind === 'Ingress') as Json[];
    const paths = ingresses.flatMap((ingress) => ingress.spec.rules[0].http.paths.map((p: Json) => ({ ingress, p })));
    const dynamic = parse(readFileSync('deploy/traefik/dynamic/routers.yml', 'utf8')).http;
    const routers = Object.values<Json>(dynamic.routers);
    for (const { ingress, p } of paths) {
      const rule = p.pathType === 'Prefix' ? `PathPrefix(\`${p.path}\`)` : `Path(\`${p.path}\`)`;
      const router = routers.find((r) => r.rule === rule);
      expect(router, rule).toBeDefined();
      // Both edges speak the same protocol to the backend: HTTPS, Traefik verifying the certificate against the mesh CA by the service's name.
      expect(ingress.metadata.annotations['nginx.ingress.kubernetes.io/backend-protocol']).toBe('HTTPS');
      const lb = dynamic.services[router.service].loadBalancer;
      expect(lb.servers[0].url).toBe(`https://${p.backend.service.name}:${p.backend.service.port.number}`);
      expect(dynamic.serversTransports[lb.serversTransport]).toEqual({
        serverName: p.backend.service.name,
        rootCAs: [`${MTLS_DIR}/${MTLS_FILES.ca}`],
      });
    }
    expect(routers.length).toBe(paths.length);
    // Traefik gets the CA certificate alone: never the CA directory (its key) nor a workload's key.
    const mtlsBinds = (allServices().get('edge')!.volumes ?? []).filter((v) => v.includes(MTLS_CERT_DIR));
    expect(mtlsBinds).toEqual([`${fromProjectDir(MTLS_CA_CERT)}:${MTLS_DIR}/${MTLS_FILES.ca}:ro`]);
  });
});

describe('network isolation', () => {
  const networks = {
    ...committedCompose('data').networks,
    ...committedCompose('core').networks,
    ...committedCompose('observability').networks,
  };

  it('has the guide four networks, prism-data alone internal, defined alike in every file', () => {
    expect(Object.keys(networks).sort()).toEqual(Object.values(NETWORK_NAMES).sort());
    for (const layer of ['data', 'core', 'observability', 'edge'] as const) {
      for (const [name, n] of Object.entries(committedCompose(layer).networks ?? {})) {
        expect(n.internal ?? false, `${name} in ${layer}`).toBe(name === NETWORK_NAMES.data);
        expect(n.name).toBe(name);
      }
    }
  });

  it('puts on prism-data only the data stores and what Kubernetes lets reach them', () => {
    const data = platform.components.filter((c) => c.tier === 'data').map((c) => c.name);
    const allowed = new Set<string>(data);
    for (const d of data) {
      const policy = objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === `${d}-flows`) as Json;
      for (const rule of policy.spec.ingress ?? [])
        for (const f of rule.from ?? [])
          if (f.podSelector?.matchLabels?.app) allowed.add(f.podSelector.matchLabels.app);
    }
    // A scheduler stands for its owner's CronJobs: allowed where all of them are.
    for (const c of platform.components) {
      if (c.localScheduler && c.tasks.filter((t) => t.schedule).every((t) => allowed.has(t.name)))
        allowed.add(c.localScheduler.name);
    }
    const onData = [...services].filter(([, s]) => s.networks?.includes(NETWORK_NAMES.data)).map(([n]) => n);
    expect(onData.filter((n) => !allowed.has(n))).toEqual([]);
  });

  it('lets every flow Kubernetes allows share a network in Compose', () => {
    const missing: string[] = [];
    for (const p of objects.filter((o) => o.kind === 'NetworkPolicy' && o.metadata.name.endsWith('-flows')) as Json[]) {
      const from = p.spec.podSelector.matchLabels.app as string;
      if (!services.has(from)) continue; // scheduled tasks run through make backup-*, not Compose
      for (const rule of p.spec.egress ?? []) {
        for (const t of rule.to ?? []) {
          const to = t.podSelector?.matchLabels?.app as string | undefined;
          if (!to || to === from) continue;
          const shared = svc(from).networks?.some((n) => svc(to).networks?.includes(n));
          if (!shared) missing.push(`${from} -> ${to}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('publishes no port from a container that is only on internal networks, and only on the loopback', () => {
    for (const [name, s] of services) {
      const internalOnly = (s.networks ?? []).every((n) => networks[n]?.internal);
      if (internalOnly) expect(s.ports, name).toBeUndefined();
      for (const p of s.ports ?? []) expect(p.host_ip).toBe('127.0.0.1');
    }
  });

  it('publishes exactly the ports the model marks for publishing where a network allows it', () => {
    for (const c of platform.components) {
      const s = svc(c.name);
      const reachable = (s.networks ?? []).some((n) => !networks[n]?.internal && n in networks) || s.file === 'edge';
      const expected = reachable ? c.ports.filter((p) => p.publish).map((p) => p.port) : [];
      expect(
        (s.ports ?? []).map((p) => p.published),
        c.name,
      ).toEqual(expected);
    }
  });

  it('gives each compose file its own service names (no silent merge when loaded together)', () => {
    const seen = new Map<string, string>();
    for (const [file, path] of Object.entries(COMPOSE_FILES)) {
      for (const name of Object.keys(parse(readFileSync(path, 'utf8')).services)) {
        expect(seen.get(name), `${name} in ${file}`).toBeUndefined();
        seen.set(name, file);
      }
    }
  });
});
