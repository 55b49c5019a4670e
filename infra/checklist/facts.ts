import { SERVICE_NAMES } from '../contract/index.js';
import type { Stack } from '../config/index.js';
import type { Platform } from '../model/index.js';
import type { ManifestObject } from '../manifest/index.js';
import {
  configDocs,
  type EnvVar,
  isRecord,
  runningImage,
  secretKeysRead,
  type Workload,
  workloads,
} from './manifests.js';

/** What the checklist evaluates: one environment's synthesized objects, its model, its stack and the repository's documents. */
export interface ChecklistInput {
  readonly stack: Stack;
  readonly platform: Platform;
  readonly objects: readonly ManifestObject[];
  /** Repository files by path relative to the root (docs/operations/*.md, the services' tests). */
  readonly files: ReadonlyMap<string, string>;
}

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

export interface GrafanaDatasource {
  readonly name: string;
  readonly uid?: string;
  readonly type: string;
  readonly url?: string;
  readonly jsonData?: { derivedFields?: { datasourceUid?: string }[] };
}

export interface AlertmanagerRoute {
  readonly receiver?: string;
  readonly matchers?: readonly string[];
  readonly match?: Record<string, string>;
  readonly routes?: readonly AlertmanagerRoute[];
}
export interface AlertmanagerConfig {
  readonly route: AlertmanagerRoute;
  readonly receivers: readonly ({ name: string } & Record<string, unknown>)[];
}

/** A receiver that notifies someone: it has at least one integration (`webhook_configs`, `slack_configs`, ...). */
export const notifies = (r: AlertmanagerConfig['receivers'][number]): boolean =>
  Object.keys(r).some((k) => k.endsWith('_configs') && Array.isArray(r[k]) && (r[k] as unknown[]).length > 0);

/** Cross-cutting facts the rules share, derived once from the input. */
export class Facts {
  readonly workloads: readonly Workload[];
  constructor(readonly input: ChecklistInput) {
    this.workloads = workloads(input.objects);
  }

  private parsed?: { object: ManifestObject; key: string; doc: unknown }[];
  /** ConfigMap values that parse as YAML or JSON documents of a shape; each value is parsed once. */
  configDocs<T>(shape: (doc: unknown) => doc is T): { object: ManifestObject; key: string; doc: T }[] {
    this.parsed ??= configDocs(this.input.objects, (d): d is unknown => d !== undefined);
    return this.parsed.filter((p): p is { object: ManifestObject; key: string; doc: T } => shape(p.doc));
  }

  get namespace(): string {
    return this.input.platform.namespace;
  }

  /** The Prism services' long-running workloads (by their name label), in contract order. */
  services(): Workload[] {
    return SERVICE_NAMES.flatMap((s) =>
      this.workloads.filter(
        (w) => w.app === s && w.namespace === this.namespace && ['Deployment', 'StatefulSet'].includes(w.kind),
      ),
    );
  }

  /** Workloads of a model component (by name label), any kind. */
  component(name: string): Workload[] {
    return this.workloads.filter((w) => w.app === name);
  }

  /** Prometheus alerting rules found in any ConfigMap. */
  alertRules(): { object: ManifestObject; rules: AlertRule[] }[] {
    return this.configDocs(
      (d): d is { groups: { rules: AlertRule[] }[] } => isRecord(d) && Array.isArray(d.groups),
    ).map(({ object, doc }) => ({
      object,
      rules: doc.groups.flatMap((g) => (g.rules ?? []).filter((r) => typeof r.alert === 'string')),
    }));
  }

  allAlertRules(): AlertRule[] {
    return this.alertRules().flatMap((r) => r.rules);
  }

  /** Prometheus server configs (a `scrape_configs` document). */
  prometheusConfigs(): { object: ManifestObject; key: string; doc: Record<string, unknown> }[] {
    return this.configDocs((d): d is Record<string, unknown> => isRecord(d) && Array.isArray(d.scrape_configs));
  }

  prometheus(): Workload[] {
    return runningImage(this.workloads, 'prometheus');
  }

  alertmanager(): Workload[] {
    return runningImage(this.workloads, 'alertmanager');
  }

  alertmanagerConfigs(): { object: ManifestObject; key: string; doc: AlertmanagerConfig }[] {
    return this.configDocs(
      (d): d is AlertmanagerConfig => isRecord(d) && isRecord(d.route) && Array.isArray(d.receivers),
    );
  }

  grafanaDatasources(): GrafanaDatasource[] {
    return this.configDocs(
      (d): d is { datasources: GrafanaDatasource[] } => isRecord(d) && Array.isArray(d.datasources),
    ).flatMap((x) => x.doc.datasources);
  }

  /** The gateway's routing configuration (a document with `routes` and `rate_limit`). */
  gatewayConfigs(): { object: ManifestObject; key: string; doc: GatewayDoc }[] {
    return this.configDocs((d): d is GatewayDoc => isRecord(d) && Array.isArray(d.routes) && isRecord(d.rate_limit));
  }

  /** Kubernetes Services whose selector picks the pods of a workload. */
  servicesFor(w: Workload): ManifestObject[] {
    return this.input.objects.filter((o) => {
      if (o.kind !== 'Service' || (o.metadata.namespace ?? this.namespace) !== w.namespace) return false;
      const sel = (o.spec as { selector?: Record<string, string> } | undefined)?.selector;
      return !!sel && Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => w.podLabels[k] === v);
    });
  }

  /** The workload a `host:port` or URL in the namespace reaches, through a Service of that name exposing that port. */
  resolve(address: string): Workload | undefined {
    const m = /^(?:[a-z]+:\/\/)?([a-z0-9.-]+):(\d+)/.exec(address);
    if (!m) return undefined;
    const host = m[1]!.split('.')[0]!;
    const port = Number(m[2]);
    const svc = this.input.objects.find(
      (o) =>
        o.kind === 'Service' && o.metadata.name === host && (o.metadata.namespace ?? this.namespace) === this.namespace,
    );
    const ports =
      (svc?.spec as { ports?: { port: number }[]; selector?: Record<string, string> } | undefined)?.ports ?? [];
    if (!svc || !ports.some((p) => p.port === port)) return undefined;
    const sel = (svc.spec as { selector?: Record<string, string> }).selector ?? {};
    return this.workloads.find(
      (w) =>
        w.namespace === this.namespace &&
        ['Deployment', 'StatefulSet'].includes(w.kind) &&
        Object.entries(sel).every(([k, v]) => w.podLabels[k] === v),
    );
  }

  /** Documents under a directory, by path. */
  docs(dir = 'docs/operations/'): Map<string, string> {
    return new Map([...this.input.files].filter(([p]) => p.startsWith(dir) && p.endsWith('.md')));
  }

  file(path: string): string | undefined {
    return this.input.files.get(path);
  }

  /**
   * Whether a set of secret keys reaches the workloads from a secrets manager: an ExternalSecret
   * (External Secrets Operator) or Pulumi secret config that covers them, and no Secret with
   * their values in the output. `local` mode is a generated file on someone's disk.
   */
  secretsManaged(keys: readonly string[]): { ok: boolean; evidence: string } {
    // Secrets (by name) through which the workloads read these keys, as env or mounted files.
    const secretNames = [
      ...new Set(
        this.workloads.flatMap((w) =>
          [...secretKeysRead(w)]
            .map((sk) => sk.split('/') as [string, string])
            .filter(([, k]) => keys.includes(k))
            .map(([name]) => name),
        ),
      ),
    ].sort();
    const rendered = this.input.objects.filter(
      (o) =>
        o.kind === 'Secret' &&
        (isRecord(o.data) || isRecord(o.stringData)) &&
        keys.some((k) => k in ((o.data ?? o.stringData) as Record<string, unknown>)),
    );
    if (rendered.length)
      return { ok: false, evidence: `values rendered into Secret ${rendered.map((o) => o.metadata.name).join(', ')}` };
    const mode = this.input.stack.config.secrets.mode;
    if (mode === 'local')
      return {
        ok: false,
        evidence: `secrets.mode is local: ${describe(secretNames)} comes from a generated file (npm run local-secrets), not a secrets manager`,
      };
    if (mode === 'pulumi')
      return {
        ok: true,
        evidence: `${describe(secretNames)} created by Pulumi from secret config (pulumi config set --secret)`,
      };
    const externals = this.input.objects.filter((o) => o.kind === 'ExternalSecret');
    const missing: string[] = [];
    const stores = new Set<string>();
    for (const name of secretNames.length ? secretNames : ['(none referenced)']) {
      const es = externals.find(
        (o) =>
          (o.spec as { target?: { name?: string } } | undefined)?.target?.name === name || o.metadata.name === name,
      );
      const spec = es?.spec as
        { data?: { secretKey: string }[]; secretStoreRef?: { name: string; kind?: string } } | undefined;
      if (spec?.secretStoreRef) stores.add(`${spec.secretStoreRef.kind ?? 'SecretStore'} ${spec.secretStoreRef.name}`);
      for (const k of keys) if (!spec?.data?.some((d) => d.secretKey === k)) missing.push(`${name}/${k}`);
    }
    if (missing.length) return { ok: false, evidence: `no ExternalSecret provides ${missing.join(', ')}` };
    return { ok: true, evidence: `ExternalSecret ${describe(secretNames)} from ${describe([...stores])}` };
  }
}

export interface GatewayDoc {
  readonly server?: { request_timeout_ms?: number; trust_forwarded_for?: boolean; [k: string]: unknown };
  readonly rate_limit: { enabled?: boolean; requests_per_second?: number; burst?: number };
  readonly auth?: { jwks_url?: string };
  readonly routes: readonly {
    prefix: string;
    upstream: string;
    timeout_ms?: number;
    retries?: number;
    circuit_breaker?: { failure_threshold?: number; reset_timeout_ms?: number; half_open_max_requests?: number };
  }[];
}

const describe = (xs: readonly string[]): string => (xs.length ? xs.join(', ') : 'nothing');

/** Whether an env var is a reference to a secret key (never a literal). */
export const isSecretRef = (e: EnvVar | undefined): boolean => !!e?.valueFrom?.secretKeyRef && e.value === undefined;
