import type { Image } from './types.js';

/**
 * How long the release line of a pin is supported, and who says so.
 * - `eol`: the project publishes an end-of-support date for the line.
 * - `current`: the project publishes no date and supports only its newest line (or newest few); the pin was that
 *   line on `checked`. Support can end any day a newer line ships, so such a pin must be re-checked within
 *   REVIEW_DAYS of `checked`: the EOL test treats the end of that window as its end of life.
 */
export type Support =
  | { readonly kind: 'eol'; readonly date: string; readonly source: string }
  | { readonly kind: 'current'; readonly checked: string; readonly source: string };

/** A `current` pin is re-checked within this many days of the check that found it current. */
export const REVIEW_DAYS = 183;

/** One third-party image: what it is pinned to, until when that is supported, and why this version. */
export interface PinnedImage extends Image {
  readonly support: Support;
  /** Where the digest was copied from (a public file stating it for exactly this tag); none: tag only. */
  readonly digestSource?: string;
  /** Why this version, in one line (the README lists it). */
  readonly why: string;
}

/** The day a pin stops counting as supported: its line's end of life, or the end of its review window. */
export function supportedUntil(s: Support): string {
  if (s.kind === 'eol') return s.date;
  const d = new Date(`${s.checked}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + REVIEW_DAYS);
  return d.toISOString().slice(0, 10);
}

const CHECKED = '2026-12-06';
const GO_PROXY = 'proxy.golang.org';
/** The public files digests were copied from, by their id in the session's code library (repository search). */
const PUBLIC_FILE = (ids: string) => `public repository file(s) pinning exactly this tag (library id ${ids})`;

/**
 * Every third-party image the package runs or builds on: the Kubernetes objects, the Compose services and the
 * service Dockerfile's bases all read their references from here (`imageRef`), and test/model/image-pins.test.ts
 * fails when a pin is past the date recorded beside it or when a rendered reference is not one of these.
 */
export const THIRD_PARTY_IMAGES = {
  postgres: {
    repository: 'postgres',
    tag: '16.14-trixie',
    digest: 'sha256:95206741a5b214807675e14165369d05b93a9cf692223b616d07cca227e74b0b',
    digestSource: PUBLIC_FILE('71013691426, 59753107144'),
    tools: { httpCheck: 'none', shell: true },
    support: {
      kind: 'eol',
      date: '2028-11-09',
      source: 'postgresql.org/support/versioning: 16 is supported five years, final release November 2028',
    },
    why: "PostgreSQL 16 keeps the databases' on-disk format (no pg_upgrade); 16.14 (2026-05-14) is its newest minor found; trixie, like the runtime the DB manager copies its programs onto",
  },
  redis: {
    repository: 'redis',
    tag: '7.4.11-alpine',
    digest: 'sha256:ff02b58f971e7d7d156a1267e283fcbbeee91773b6aa36c49dac28ecfe28eadf',
    digestSource: PUBLIC_FILE('62986194126 (states it is the Docker Hub multi-platform index digest)'),
    tools: { httpCheck: 'none', shell: true },
    support: {
      kind: 'current',
      checked: CHECKED,
      source:
        "redis.io security policy (versionlog.com/redis): the newest release, its previous minor and the previous major's last line get fixes; 7.4 is 8's previous major",
    },
    why: 'Redis 7.4 keeps the ACL file and RESP behaviour the services are tested with; 8.x changes the licence terms and modules, a separate decision',
  },
  nats: {
    repository: 'nats',
    tag: '2.15.3-alpine',
    tools: { httpCheck: 'wget', shell: true },
    support: {
      kind: 'current',
      checked: CHECKED,
      source: `${GO_PROXY}: nats-server v2.15.3 (2026-11-11) is the newest release of the newest minor`,
    },
    why: 'the newest NATS server line; Alpine for wget (the Compose health check)',
  },
  consul: {
    repository: 'hashicorp/consul',
    tag: '2.0.4',
    tools: { httpCheck: 'wget', shell: true },
    support: {
      kind: 'eol',
      date: '2028-04-30',
      source:
        'developer.hashicorp.com/consul/docs/v1.22.x/upgrade/lts: 2.0.x planned end of support April 30, 2028 (1.22.x ended October 31, 2026)',
    },
    why: "1.20 and 1.22 are past HashiCorp's support; 2.0 is the line with a published end date, 2.0.4 its newest patch seen in public pins",
  },
  minio: {
    repository: 'pgsty/silo',
    tag: 'RELEASE.2026-09-16T00-00-00Z',
    digest: 'sha256:635197cb9f36d01bee221d34d1c7d7960f6a95c48b0b6c01d99cd13bdae51a46',
    digestSource: PUBLIC_FILE('71182970985 (checked for both Linux platforms), 70093349526, 70296451648'),
    tools: { httpCheck: 'silo-ready', shell: true },
    support: {
      kind: 'current',
      checked: CHECKED,
      source:
        'github.com/pgsty/silo (maintained community fork of the MinIO server; silo-pkg v3.14.1 of 2026-09-16 is its newest release found); MinIO archived minio/minio on 2026-04-25 and deleted minio/minio and minio/mc from Docker Hub on 2026-09-12 (testcontainers-node#1463)',
    },
    why: "MinIO's own community images stopped in October 2025 and are gone from Docker Hub; Silo keeps the S3 API, MINIO_* settings, ports and on-disk format, with fixes (pgsty/minio is the fork's earlier, frozen name)",
  },
  mc: {
    repository: 'pgsty/mc',
    tag: 'RELEASE.2026-09-16T00-00-00Z',
    digest: 'sha256:cfc83108c3abb371f8fb84d99c1fdc88f8c237e022409b0081fb7c0a3be634dd',
    digestSource: PUBLIC_FILE('71182970985 (checked for both Linux platforms), 71537124469, 70942571401'),
    tools: { httpCheck: 'none', shell: true },
    support: {
      kind: 'current',
      checked: CHECKED,
      source:
        'github.com/pgsty/mc: the client Silo RELEASE.2026-09-16T00-00-00Z ships, published as pgsty/mc; minio/mc is gone from Docker Hub',
    },
    why: 'the client released with the pinned Silo (its binary is still mc); minio/mc no longer exists on Docker Hub',
  },
  traefik: {
    repository: 'traefik',
    tag: 'v3.7.14',
    digest: 'sha256:575fa15b135078fe5e50aa847987d96dbddd7b093c172429618404df73f3fa7c',
    digestSource: PUBLIC_FILE(
      '71017096944, 71134572600, 70404958501, 70581788473; one Dockerfile pins sha256:e849695b…, another build',
    ),
    tools: { httpCheck: 'wget', shell: true },
    support: {
      kind: 'current',
      checked: CHECKED,
      source:
        'Traefik SECURITY.md: each version is supported until the next one; traefik-helm-chart v41.7.1 (2026-10-09) defaults to v3.7.14',
    },
    why: 'the newest Traefik v3 line; same static and dynamic configuration as v3.2',
  },
  prometheus: {
    repository: 'prom/prometheus',
    tag: 'v3.13.5',
    // The Prometheus project's images (prometheus, alertmanager, postgres-exporter) are built on its busybox image.
    tools: { httpCheck: 'wget', shell: true },
    support: {
      kind: 'eol',
      date: '2027-07-01',
      source:
        'prometheus.io/docs/introduction/release-cycle (LTS lines get a year); 3.13 is the LTS "with support until July 2027" (gitlab-org/omnibus-gitlab!9666); v3.13.5 = module v0.313.5, 2026-10-21 on proxy.golang.org',
    },
    why: 'the long-term-support line (a year of fixes) rather than a six-week minor; 2.55 had no fixes after the 3.0 release',
  },
  alertmanager: {
    repository: 'prom/alertmanager',
    tag: 'v0.35.0',
    tools: { httpCheck: 'wget', shell: true },
    support: {
      kind: 'current',
      checked: CHECKED,
      source: `${GO_PROXY}: alertmanager v0.35.0 (2026-11-09) is the newest release; only the newest minor gets fixes`,
    },
    why: 'the newest Alertmanager; 0.27 is two years old',
  },
  grafana: {
    repository: 'grafana/grafana',
    tag: '13.3.0',
    tools: { httpCheck: 'wget', shell: true },
    support: {
      kind: 'current',
      checked: CHECKED,
      source:
        'grafana.com/docs/grafana/v13.3 (upgrade guide): 13.3 is the newest documented minor; Grafana fixes only its newest minors',
    },
    why: 'the newest Grafana minor; the provisioned datasources and dashboards use no Angular panel (removed in 12)',
  },
  loki: {
    repository: 'grafana/loki',
    tag: '3.7.8',
    digest: 'sha256:1107dd5274e0ada47e42472b7a7e71f3b2a2fe878878108f3e2f9e51528f0193',
    digestSource: PUBLIC_FILE('70302897867 (states it is a multi-platform image index), 70216075317'),
    tools: { httpCheck: 'wget', shell: false },
    support: {
      kind: 'current',
      checked: CHECKED,
      source: `${GO_PROXY}: loki/v3 v3.7.8 (2026-09-17) is the newest release`,
    },
    why: 'the newest Loki 3 release; same configuration schema as 3.3',
  },
  alloy: {
    repository: 'grafana/alloy',
    tag: 'v1.21.2',
    // Ubuntu-based, with bash but no HTTP client.
    tools: { httpCheck: 'bash-tcp', shell: true },
    support: {
      kind: 'current',
      checked: CHECKED,
      source:
        'github.com/grafana/alloy releases (newreleases.io): 1.21.2 of 2026-10-22 is the newest release found; a minor every three weeks (Alloy release cadence)',
    },
    why: 'runs as root with hostPaths on every node: the newest release carries its fixes',
  },
  jaeger: {
    repository: 'jaegertracing/jaeger',
    tag: '2.13.0',
    tools: { httpCheck: 'wget', shell: true },
    support: {
      kind: 'current',
      checked: CHECKED,
      source: `${GO_PROXY}: jaeger module v1.76.0 (= v2.13.0, one tag pair per release) is the newest`,
    },
    why: "Jaeger v2 on the OpenTelemetry Collector (v1's all-in-one has had no release since 2025-12-31); the local platform builds the same version",
  },
  postgresExporter: {
    repository: 'prometheuscommunity/postgres-exporter',
    tag: 'v0.20.1',
    tools: { httpCheck: 'wget', shell: true },
    support: {
      kind: 'current',
      checked: CHECKED,
      source:
        'prometheus-community/postgres_exporter releases: v0.20.1 is the newest in public pins; only the newest release gets fixes',
    },
    why: 'the newest exporter release (0.16 is two years old)',
  },
  redisExporter: {
    repository: 'oliver006/redis_exporter',
    tag: 'v1.92.1-alpine',
    // The Alpine variant: the plain tag is FROM scratch, with no program for a Compose health check.
    tools: { httpCheck: 'wget', shell: true },
    support: {
      kind: 'current',
      checked: CHECKED,
      source:
        'oliver006/redis_exporter releases: v1.92.1-alpine is the newest Alpine tag in public pins; only the newest release gets fixes',
    },
    why: 'a recent exporter release with the Alpine variant the Compose health check needs',
  },
  natsExporter: {
    repository: 'natsio/prometheus-nats-exporter',
    tag: '0.20.2',
    tools: { httpCheck: 'scratch', shell: false },
    support: {
      kind: 'current',
      checked: CHECKED,
      source:
        'prometheus-community/helm-charts prometheus-nats-exporter-2.23.2 (2026-08-19): bumped to v0.20.2, the newest release',
    },
    why: 'the newest exporter release',
  },
  node: {
    repository: 'node',
    tag: '24.19.0-trixie-slim',
    digest: 'sha256:0711b541c1c33a8a530ac4f0d391baa9a15b3d804695b1b24a47daa5fb60e74d',
    digestSource: PUBLIC_FILE(
      '58579862893, 66745270036; two other files pin sha256:ab3eebe9…, an earlier or later build of the same tag',
    ),
    tools: { httpCheck: 'none', shell: true },
    support: {
      kind: 'eol',
      date: '2028-04-30',
      source: 'github.com/nodejs/Release schedule: Node.js 24 (LTS) end of life 2028-04-30',
    },
    why: 'the Node version scripts/install-node.sh installs (24.19.0), on the Debian release of the runtime base',
  },
  debian: {
    repository: 'debian',
    tag: 'trixie-slim',
    digest: 'sha256:d7e12182ce18b85b93007c1dedf31f2d29e01ccf3182cc4017c709b6259bc132',
    digestSource: PUBLIC_FILE(
      '69326684711, 62003270861, 66142367801; trixie-slim is rebuilt at every Debian point release, each build its own digest',
    ),
    tools: { httpCheck: 'none', shell: true },
    support: {
      kind: 'eol',
      date: '2028-08-09',
      source:
        'Debian 13 regular security support until 2028-08-09, LTS until 2030-06-30 (debian.club/en/eol, from Debian release information)',
    },
    why: 'Debian 12 (bookworm) left regular security support in June 2026 (LTS only, a subset of packages); 13 is stable',
  },
} as const satisfies Record<string, PinnedImage>;
