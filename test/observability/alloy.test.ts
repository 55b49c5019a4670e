import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { logShipperConfigFile } from '../../infra/compose/log-shipping.js';
import { devPlatform } from '../compose/support.js';
import { find, synth } from '../support/synth.js';

/**
 * The Grafana Alloy configurations against Alloy's own parser and evaluator (the
 * github.com/grafana/alloy/syntax module; the Alloy binary and the Loki binaries' Alloy
 * support are not served by the Go module proxy here). alloy-check/ decodes each component
 * into the arguments of the Alloy v1.5 component it names: unknown components, attributes or
 * blocks, wrong types, missing required arguments and dangling references all fail.
 */

const SOURCE = resolve('test/observability/alloy-check');
let checker = '';

beforeAll(() => {
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) hash.update(readFileSync(join(SOURCE, f)));
  const dir = resolve('node_modules/.cache/prism-alloy-check');
  checker = join(dir, hash.digest('hex').slice(0, 16));
  if (existsSync(checker)) return;
  mkdirSync(dir, { recursive: true });
  execFileSync('go', ['build', '-buildvcs=false', '-o', checker, '.'], {
    cwd: SOURCE,
    stdio: 'pipe',
    timeout: 280_000,
  });
}, 300_000);

const dir = mkdtempSync(join(tmpdir(), 'prism-alloy-'));
function check(name: string, text: string): { status: number | null; err: string } {
  const file = join(dir, name);
  writeFileSync(file, text);
  const r = spawnSync(checker, [file], { encoding: 'utf8' });
  return { status: r.status, err: r.stderr };
}

const kubernetes = (find(synth('prod').objects, 'ConfigMap', 'alloy-config') as any).data['config.alloy'] as string;
const compose = readFileSync(logShipperConfigFile(devPlatform().logShipper!), 'utf8');

/** Labels the config gives a log stream: relabel targets and the label stage's keys. */
function labels(text: string): string[] {
  const relabelled = [...text.matchAll(/target_label\s*=\s*"([^"]+)"/g)]
    .map((m) => m[1]!)
    .filter((l) => !l.startsWith('__'));
  const staged = [...text.matchAll(/stage\.labels \{\s*values = \{ ([^}]*) \}/g)].flatMap((m) =>
    [...m[1]!.matchAll(/(\w+)\s*=/g)].map((x) => x[1]!),
  );
  return [...new Set([...relabelled, ...staged])].sort();
}

describe('Grafana Alloy configurations (Alloy syntax, component arguments)', () => {
  it('Kubernetes: the DaemonSet config is valid', () => {
    const r = check('k8s.alloy', kubernetes);
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
  });

  it('Compose: the rendered deploy/alloy/config.alloy is valid', () => {
    const r = check('compose.alloy', compose);
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
  });

  it('logs keep the labels Promtail gave them: namespace, pod, container, app, level (and node in Kubernetes)', () => {
    expect(labels(kubernetes)).toEqual(['app', 'container', 'level', 'namespace', 'node', 'pod']);
    expect(labels(compose)).toEqual(['app', 'container', 'level', 'namespace', 'pod']);
  });

  it("still reach Loki: both push to Loki's push API", () => {
    expect(kubernetes).toContain('url = "http://loki.prism.svc.cluster.local:3100/loki/api/v1/push"');
    expect(compose).toContain('url = "http://loki:3100/loki/api/v1/push"');
  });

  it.each([
    [
      'a misspelt attribute',
      (t: string) => t.replace('target_label  = "pod"', 'target_lable  = "pod"'),
      'unrecognized attribute name "target_lable"',
    ],
    [
      'a reference to a component that does not exist',
      (t: string) => t.replace('[loki.write.loki.receiver]', '[loki.write.lokki.receiver]'),
      'lokki',
    ],
    [
      'a receiver where targets belong',
      (t: string) =>
        t.replace('path_targets = discovery.relabel.pods.output', 'path_targets = loki.write.loki.receiver'),
      'should be array',
    ],
    [
      'a missing required argument',
      (t: string) => t.replace('  role = "pod"\n\n  namespaces', '  namespaces'),
      'missing required attribute "role"',
    ],
    [
      'an unknown component',
      (t: string) => t.replace('loki.source.file "pods"', 'loki.source.files "pods"'),
      'unknown component loki.source.files',
    ],
    ['broken syntax', (t: string) => t.replace('stage.cri {}', 'stage.cri {'), ''],
  ])('refuses %s', (_, edit, message) => {
    const text = edit(kubernetes);
    expect(text).not.toBe(kubernetes);
    const r = check('broken.alloy', text);
    expect(r.status).toBe(1);
    expect(r.err).toContain(message);
  });
});

describe("the real-pods lane's Alloy stand-in", () => {
  it('is built with every component the configurations use (build_alloy in scripts/control-plane-tools.sh)', () => {
    const script = readFileSync('scripts/control-plane-tools.sh', 'utf8');
    const built = /^ALLOY_COMPONENTS=\(([^)]*)\)/m.exec(script)![1]!.split(/\s+/).filter(Boolean);
    // A component block opens a line with its dotted name and a label: `loki.source.file "pods" {`.
    const used = new Set(
      [kubernetes, compose].flatMap((c) =>
        [...c.matchAll(/^([a-z_]+(?:\.[a-z_]+)+) "/gm)].map((m) => m[1]!.replaceAll('.', '/')),
      ),
    );
    expect([...used].filter((c) => !built.includes(c))).toEqual([]);
  });
});
