// Runs every third-party container of the rendered Kubernetes manifests (default dist/k8s/dev) with podman as its
// pod would run it, on the stand-in images in podman's storage (scripts/standin-images.sh), and checks its probes:
// the manifest's command and args ($(VAR) expanded as the kubelet does), env (each Secret key a generated value,
// the same for every container that reads it), user and group (runAsUser/runAsGroup, fsGroup as a supplementary
// group), read-only root, dropped capabilities, no new privileges, and its volumes: each emptyDir a 0777 directory,
// each ConfigMap its items with their mode, each Secret generated items (certificates for tls.crt/tls.key/ca.crt
// from one throwaway CA, with the Service's names), each claim a directory of group fsGroup, setgid, as a volume
// that applies fsGroup. The containers share one podman network of their own, reachable by their workload names.
// Probes: exec ones with `podman exec`; HTTP and TCP ones from inside the container's network namespace to its own
// address, plus a check that the port is bound on every address (the kubelet probes the pod IP). Jobs must exit 0.
// Needs root, podman, nsenter, curl, openssl. Not part of npm test (root, podman, minutes).
// Usage: node scripts/cluster/standin-smoke.mjs [--keep] [--only workload,...] [--image name:tag=other:tag]... [dir]
//   --image runs another image in that one's place (a candidate stand-in); --only runs those workloads alone.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';

const argv = process.argv.slice(2);
const keep = argv.includes('--keep');
const substitutes = new Map();
argv.forEach((a, i) => argv[i - 1] === '--image' && substitutes.set(...a.split('=')));
const only = argv[argv.indexOf('--only') + 1]?.split(',');
const dir =
  argv.filter((a, i) => !a.startsWith('--') && !['--image', '--only'].includes(argv[i - 1]))[0] ?? 'dist/k8s/dev';
const TIMEOUT_S = Number(process.env.PRISM_SMOKE_TIMEOUT ?? 240);

const docs = readdirSync(dir)
  .filter((f) => /\.ya?ml$/.test(f))
  .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS()))
  .filter(Boolean);
const configMaps = new Map(docs.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o]));
const undigested = (image) => image.replace(/@sha256:[0-9a-f]{64}$/, '');
const run = (cmd, args, opts = {}) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
const ok = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore', timeout: 10_000 }).status === 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Every third-party container of a workload's pod template (the Prism images are the image test's, not stand-ins).
const workloads = docs.flatMap((o) => {
  const spec = o.spec?.jobTemplate?.spec?.template?.spec ?? o.spec?.template?.spec;
  if (!spec || !['Deployment', 'StatefulSet', 'Job', 'CronJob', 'DaemonSet'].includes(o.kind)) return [];
  if (argv.includes('--only') && !only.includes(o.metadata.name)) return [];
  const job = o.kind === 'Job' || o.kind === 'CronJob';
  return spec.containers
    .filter((c) => !c.image.startsWith('ghcr.io/prism-platform/'))
    .map((c) => ({
      object: o,
      spec,
      container: c,
      job,
      name: `smoke-${o.metadata.name}${c.name === o.metadata.name ? '' : `-${c.name}`}`,
    }));
});

const work = mkdtempSync('/var/tmp/prism-standin-smoke.');
const network = `prism-smoke-${process.pid}`;
const started = [];
// UUID-shaped, as Consul wants its tokens' SecretIDs (the manifests' Secrets hold Consul tokens and passwords alike).
const secretValue = (secret, key) =>
  createHash('sha256')
    .update(`${secret}/${key}`)
    .digest('hex')
    .slice(0, 32)
    .replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');

// One throwaway CA for every generated certificate.
const ca = join(work, 'ca');
mkdirSync(ca);
run(
  'openssl',
  ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'].concat([
    '-subj',
    '/CN=prism-smoke-ca',
    '-keyout',
    join(ca, 'ca.key'),
    '-out',
    join(ca, 'ca.crt'),
  ]),
);
const certificate = (name, ns) => {
  const out = join(ca, name);
  if (readdirSafe(ca).includes(name)) return out;
  mkdirSync(out);
  const host = name.replace(/-mtls$/, '');
  const sans = [host, `${host}.${ns}.svc`, `${host}.${ns}.svc.cluster.local`, 'localhost'].map((h) => `DNS:${h}`);
  run(
    'openssl',
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${host}`].concat([
      '-keyout',
      join(out, 'tls.key'),
      '-out',
      join(out, 'csr'),
    ]),
  );
  writeFileSync(join(out, 'ext'), `subjectAltName=${sans.join(',')}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  run(
    'openssl',
    ['x509', '-req', '-in', join(out, 'csr'), '-CA', join(ca, 'ca.crt'), '-CAkey', join(ca, 'ca.key')].concat([
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      join(out, 'ext'),
      '-out',
      join(out, 'tls.crt'),
    ]),
  );
  return out;
};
function readdirSafe(path) {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

// A volume's host directory, laid out as the kubelet lays it out for this pod.
function volumeDir(w, name) {
  const path = join(work, w.object.metadata.name, name);
  mkdirSync(path, { recursive: true });
  const fsGroup = w.spec.securityContext?.fsGroup ?? 0;
  const volume = (w.spec.volumes ?? []).find((v) => v.name === name);
  const items = (source, value) => {
    for (const item of source.items ?? []) {
      mkdirSync(dirname(join(path, item.path)), { recursive: true }); // an item's path may name a subdirectory
      writeFileSync(join(path, item.path), value(item.key));
      chownSync(join(path, item.path), 0, fsGroup);
      chmodSync(join(path, item.path), item.mode ?? source.defaultMode ?? 0o644);
    }
  };
  if (volume?.configMap) {
    const data = configMaps.get(volume.configMap.name)?.data ?? {};
    if (volume.configMap.items) items(volume.configMap, (k) => data[k]);
    else items({ ...volume.configMap, items: Object.keys(data).map((k) => ({ key: k, path: k })) }, (k) => data[k]);
  } else if (volume?.secret) {
    const cert = (k) =>
      readFileSync(
        k === 'ca.crt'
          ? join(ca, 'ca.crt')
          : join(certificate(volume.secret.secretName, w.object.metadata.namespace), k),
      );
    items(volume.secret, (k) =>
      ['tls.crt', 'tls.key', 'ca.crt'].includes(k) ? cert(k) : secretValue(volume.secret.secretName, k),
    );
  } else if (volume?.emptyDir) {
    chmodSync(path, 0o777);
  } else {
    // A claim: a volume that applies fsGroup (group-owned, setgid, group-writable), as a CSI or local volume does.
    chownSync(path, 0, fsGroup);
    chmodSync(path, 0o2775);
  }
  return path;
}

function podmanArgs(w) {
  const { object, spec, container: c } = w;
  const sec = { ...spec.securityContext, ...c.securityContext };
  const env = {};
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n) => env[n] ?? m);
    else if (e.valueFrom?.secretKeyRef)
      env[e.name] = secretValue(e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key);
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = `${object.metadata.name}-0`;
  }
  w.env = env;
  const expand = (s) => s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n) => env[n] ?? m);
  const args = ['run', '--name', w.name, '--network', network, '--network-alias', object.metadata.name];
  args.push(
    '--runtime',
    'runc',
    '--ulimit',
    'nofile=20000:20000',
    '--ulimit',
    'nproc=4096:4096',
    '--hostname',
    `${object.metadata.name}-0`,
  );
  if (sec.readOnlyRootFilesystem) args.push('--read-only', '--read-only-tmpfs=false');
  if (sec.runAsUser !== undefined) args.push('--user', `${sec.runAsUser}:${sec.runAsGroup ?? 0}`);
  if (spec.securityContext?.fsGroup !== undefined) args.push('--group-add', String(spec.securityContext.fsGroup));
  if (sec.capabilities?.drop?.includes('ALL')) args.push('--cap-drop', 'ALL');
  if (sec.allowPrivilegeEscalation === false) args.push('--security-opt', 'no-new-privileges');
  for (const [k, v] of Object.entries(env)) args.push('-e', `${k}=${v}`);
  for (const m of c.volumeMounts ?? [])
    args.push('-v', `${volumeDir(w, m.name)}:${m.mountPath}${m.readOnly ? ':ro' : ''}`);
  if (c.command) args.push('--entrypoint', JSON.stringify(c.command.map(expand)));
  const image = substitutes.get(undigested(c.image)) ?? undigested(c.image);
  return [...args, image, ...(c.args ?? []).map(expand)];
}

const pid = (name) => run('podman', ['inspect', '-f', '{{.State.Pid}}', name]).trim();
// One probe, once: true when it passes now (false when the container is gone: no process to enter).
function probeOnce(name, probe) {
  try {
    return probeNow(name, probe);
  } catch {
    return false;
  }
}
function probeNow(name, probe) {
  if (probe.exec) return ok('podman', ['exec', name, ...probe.exec.command]);
  const port = (probe.httpGet ?? probe.tcpSocket).port;
  const ns = ['-t', pid(name), '-n'];
  // Bound on every address (0.0.0.0 or [::]), not only on loopback: the kubelet probes the pod's address.
  const listening = run('nsenter', [...ns, 'ss', '-ltnH', `sport = :${port}`]);
  if (!/(\*|0\.0\.0\.0|\[::\]):\d+/.test(listening)) return false;
  if (probe.tcpSocket) return ok('nsenter', [...ns, 'bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]);
  return ok('nsenter', [
    ...ns,
    'curl',
    '-fsS',
    '-o',
    '/dev/null',
    '-m',
    '3',
    `http://127.0.0.1:${port}${probe.httpGet.path}`,
  ]);
}
const running = (name) => run('podman', ['inspect', '-f', '{{.State.Running}}', name]).trim() === 'true';

// What the rest of the stack reads from an image, beyond its probes (by repository).
const repository = (image) => undigested(image).replace(/:[^:/]+$/, '');
const READS = {
  // A real scrape of NATS's monitoring endpoint, under the names the rules and dashboards query.
  'natsio/prometheus-nats-exporter': { port: 7777, path: '/metrics', expect: /^gnatsd_varz_connections\{/m },
  // The exporter logged in with its ACL user (REDIS_USER) against the manifest's ACL arguments.
  'oliver006/redis_exporter': { port: 9121, path: '/metrics', expect: /^redis_up 1$/m },
  // Its collector ran (the monitor role is the DB manager's migrations' to create, so pg_up may be 0 here).
  'prometheuscommunity/postgres-exporter': { port: 9187, path: '/metrics', expect: /^pg_up [01]$/m },
  // The provisioned dashboards, behind the admin's credentials.
  'grafana/grafana': {
    port: 3000,
    path: '/api/search',
    auth: (env) => `${env.GF_SECURITY_ADMIN_USER}:${env.GF_SECURITY_ADMIN_PASSWORD}`,
    expect: /"uid":"prism-gateway"/,
  },
  // The mounted rules loaded (their rule groups).
  'prom/prometheus': { port: 9090, path: '/api/v1/rules', expect: /"groups":\[\{/ },
};

async function waitProbes(w) {
  const name = w.name;
  const probes = [
    ['readiness', w.container.readinessProbe],
    ['liveness', w.container.livenessProbe],
  ].filter(([, p]) => p);
  const start = Date.now();
  for (const [kind, probe] of probes) {
    while (!probeOnce(name, probe)) {
      if (!running(name)) return `exited before its ${kind} probe passed`;
      if (Date.now() - start > TIMEOUT_S * 1000) return `${kind} probe still failing after ${TIMEOUT_S} s`;
      await sleep(2000);
    }
  }
  const read = READS[repository(w.container.image)];
  if (read) {
    // Retried: a scrape target (NATS, Redis) may still be starting when the probes already pass.
    let body = '';
    for (let i = 0; i < 15 && !read.expect.test(body); i++, await sleep(2000)) {
      const auth = read.auth ? ['-u', read.auth(w.env)] : [];
      const url = `http://127.0.0.1:${read.port}${read.path}`;
      body = spawnSync('nsenter', ['-t', pid(name), '-n', 'curl', '-fsS', '-m', '5', ...auth, url], {
        encoding: 'utf8',
      }).stdout;
    }
    if (!read.expect.test(body)) return `${read.path} lacks ${read.expect} (the probes pass)`;
  }
  return probes.length
    ? `probes pass (${probes.map(([k]) => k).join(', ')}) after ${Math.round((Date.now() - start) / 1000)} s`
    : 'running (no probe)';
}

const results = [];
try {
  run('podman', ['network', 'create', network]);
  const services = workloads.filter((x) => !x.job);
  const outcomes = await Promise.all(
    services.map((w) => {
      const [verb, ...rest] = podmanArgs(w);
      started.push(w.name);
      const r = spawnSync('podman', [verb, '-d', ...rest], { encoding: 'utf8' });
      return r.status === 0 ? waitProbes(w) : Promise.resolve(`not started: ${r.stderr.trim()}`);
    }),
  );
  services.forEach((w, i) => results.push([w, outcomes[i], /^(probes pass|running)/.test(outcomes[i])]));
  for (const w of workloads.filter((x) => x.job)) {
    const t = Date.now();
    const r = spawnSync('podman', podmanArgs(w), { encoding: 'utf8', timeout: TIMEOUT_S * 1000 });
    started.push(w.name);
    const outcome = `job exited ${r.status} after ${Math.round((Date.now() - t) / 1000)} s`;
    results.push([w, r.status === 0 ? outcome : `${outcome}\n${r.stdout}${r.stderr}`.trimEnd(), r.status === 0]);
  }
} finally {
  for (const [w, outcome, passed] of results) {
    console.log(
      `${passed ? 'ok  ' : 'FAIL'} ${w.object.kind}/${w.object.metadata.name} (${undigested(w.container.image)}): ${outcome}`,
    );
    if (!passed) {
      const logs = spawnSync('podman', ['logs', '--tail', '25', w.name], {
        encoding: 'utf8',
      });
      console.log(`${logs.stdout}${logs.stderr}`.replace(/^/gm, '     | '));
    }
  }
  if (!keep) {
    for (const name of started) spawnSync('podman', ['rm', '-f', '-t', '5', name], { stdio: 'ignore' });
    spawnSync('podman', ['network', 'rm', '-f', network], { stdio: 'ignore' });
    rmSync(work, { recursive: true, force: true });
  } else console.log(`kept: containers smoke-*, network ${network}, ${work}`);
}
const failed = results.filter(([, , passed]) => !passed).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed || results.length === 0 ? 1 : 0);
