import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ensureLocalPki } from '../../infra/local/mtls-pki.js';
import { NATS_TLS_DIR } from '../../infra/model/components/data.js';
import { PROMETHEUS_RULES_DIR, PROMETHEUS_SECRETS_DIR } from '../../infra/model/components/observability.js';
import { ENVIRONMENTS, find, synth } from '../support/synth.js';

/** Runs a real config checker; returns its combined output, throwing with it on failure. */
function check(cmd: string, args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error?.message ?? ''}`;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${output}`);
  return output;
}

/** promtool with Kubernetes service discovery (Debian's build lacks it; CI installs upstream's). */
const PROMTOOL = process.env.PRISM_PROMTOOL ?? 'promtool';

describe.each(ENVIRONMENTS)('%s config files pass their programs’ own checkers', (env) => {
  const { objects } = synth(env);
  const data = (name: string) => (find(objects, 'ConfigMap', name) as unknown as { data: Record<string, string> }).data;
  const dir = mkdtempSync(join(tmpdir(), `prism-cf-${env}-`));

  it('nats-server -t accepts nats-server.conf (with certificates of a local CA where cert-manager mounts them)', async () => {
    const file = join(dir, 'nats-server.conf');
    const pki = await ensureLocalPki({ dir: join(dir, 'mtls'), workloads: ['nats'] });
    const conf = data('nats-config')['nats-server.conf']!;
    expect(conf).toContain(`"${NATS_TLS_DIR}/tls.crt"`);
    writeFileSync(file, conf.replaceAll(`"${NATS_TLS_DIR}/`, `"${pki.workloads.nats!.dir}/`));
    expect(check('nats-server', ['-t', '-c', file], { SERVER_NAME: 'nats-0' })).toMatch(/is valid/);
  });

  it('promtool accepts prometheus.yml (Kubernetes pod discovery) and the alert rules', () => {
    const files = data('prometheus-config');
    writeFileSync(join(dir, 'prism-alerts.yml'), files['prism-alerts.yml']!);
    // The mounted secret files (promtool checks that each bearer token file exists): a token where they are.
    for (const f of ['minio-metrics-token', 'consul-metrics-token']) writeFileSync(join(dir, f), 'token');
    writeFileSync(
      join(dir, 'prometheus.yml'),
      files['prometheus.yml']!.replace(PROMETHEUS_RULES_DIR, dir).replaceAll(PROMETHEUS_SECRETS_DIR, dir),
    );
    expect(check(PROMTOOL, ['check', 'rules', join(dir, 'prism-alerts.yml')])).toMatch(/SUCCESS: \d+ rules found/);
    expect(check(PROMTOOL, ['check', 'config', join(dir, 'prometheus.yml')])).toMatch(/SUCCESS/);
  });

  it('Grafana dashboards are JSON with Prometheus panels, data sources name fixed uids', () => {
    const files = data('grafana-config');
    for (const name of ['prism-gateway.json', 'prism-auth.json', 'prism-datastores.json']) {
      const dash = JSON.parse(files[name]!) as { uid: string; panels: { targets: { expr: string }[] }[] };
      expect(dash.panels.length).toBeGreaterThan(3);
      for (const p of dash.panels) expect(p.targets[0]!.expr.length).toBeGreaterThan(0);
    }
    // One dashboard per data store, with at least three panels.
    for (const store of ['postgres', 'redis', 'nats', 'consul', 'minio']) {
      const dash = JSON.parse(files[`prism-${store}.json`]!) as {
        uid: string;
        panels: { targets: { expr: string }[] }[];
      };
      expect(dash.uid).toBe(`prism-${store}`);
      expect(dash.panels.length).toBeGreaterThanOrEqual(3);
    }
    const ds = parse(files['datasources.yaml']!) as { datasources: { uid: string }[] };
    expect(ds.datasources.map((d) => d.uid).sort()).toEqual(['alertmanager', 'jaeger', 'loki', 'prometheus']);
  });
});
