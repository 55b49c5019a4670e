import { type Image, DATA_IMAGES, TRAEFIK_IMAGE, OBSERVABILITY_IMAGES } from '../model/index.js';

/**
 * What each image carries to run a health check: Kubernetes probes HTTP from the kubelet,
 * Compose must run a program inside the container, and the images differ.
 *
 * - `wget`: busybox `wget` (Alpine- and busybox-based images: nats, consul, prometheus,
 *   grafana, loki before 3.6, jaeger, traefik). Exits non-zero on an HTTP error status.
 * - `node`: the Prism service images (node bookworm-slim, no wget or curl): a one-line
 *   `fetch` with Node's global fetch.
 * - `mc-ready`: MinIO dropped curl from its image in 2023; the vendor's check is the bundled
 *   client's `mc ready local`, which asks the server's readiness API (the model's
 *   `/minio/health/ready`). mc needs a writable config directory on the read-only root.
 * - `bash-tcp`: Ubuntu-based images without an HTTP client but with bash (Grafana Alloy): a
 *   plain HTTP/1.0 request over bash's `/dev/tcp`, healthy on a 200 status line.
 * - `none`: no HTTP client (postgres, redis use exec probes only; mc runs one-shot tasks).
 * - `scratch`: nothing but the program (`FROM scratch`: the NATS exporter), so Compose cannot run
 *   a check inside it. Only exporters may be such: nothing waits on them, and Prometheus' `up`
 *   series is their health.
 */
type HttpCheck = 'wget' | 'node' | 'mc-ready' | 'bash-tcp' | 'none' | 'scratch';

export interface ImageTools {
  readonly httpCheck: HttpCheck;
  /** Has `/bin/sh` and `chown` (used by the volume-permission one-shot). */
  readonly shell: boolean;
}

const BY_REPOSITORY: ReadonlyMap<string, ImageTools> = new Map<string, ImageTools>([
  [DATA_IMAGES.postgres.repository, { httpCheck: 'none', shell: true }],
  [DATA_IMAGES.redis.repository, { httpCheck: 'none', shell: true }],
  [DATA_IMAGES.nats.repository, { httpCheck: 'wget', shell: true }],
  [DATA_IMAGES.consul.repository, { httpCheck: 'wget', shell: true }],
  [DATA_IMAGES.minio.repository, { httpCheck: 'mc-ready', shell: true }],
  [DATA_IMAGES.mc.repository, { httpCheck: 'none', shell: true }],
  [OBSERVABILITY_IMAGES.prometheus.repository, { httpCheck: 'wget', shell: true }],
  [OBSERVABILITY_IMAGES.grafana.repository, { httpCheck: 'wget', shell: true }],
  [OBSERVABILITY_IMAGES.loki.repository, { httpCheck: 'wget', shell: false }],
  [OBSERVABILITY_IMAGES.jaeger.repository, { httpCheck: 'wget', shell: true }],
  // The Prometheus project's images are built on its busybox image.
  [OBSERVABILITY_IMAGES.alertmanager.repository, { httpCheck: 'wget', shell: true }],
  [OBSERVABILITY_IMAGES.postgresExporter.repository, { httpCheck: 'wget', shell: true }],
  // The -alpine variant (the plain tag is FROM scratch).
  [OBSERVABILITY_IMAGES.redisExporter.repository, { httpCheck: 'wget', shell: true }],
  [OBSERVABILITY_IMAGES.natsExporter.repository, { httpCheck: 'scratch', shell: false }],
  [OBSERVABILITY_IMAGES.alloy.repository, { httpCheck: 'bash-tcp', shell: true }],
  [TRAEFIK_IMAGE.repository, { httpCheck: 'wget', shell: true }],
]);

const SERVICE_IMAGE: ImageTools = { httpCheck: 'node', shell: false };

class UnknownImageError extends Error {
  override name = 'UnknownImageError';
}

/** The tools of an image; an image the renderer has not been taught about is an error, not a guess. */
export function imageTools(image: Image): ImageTools {
  if (image.build) return SERVICE_IMAGE;
  const tools = BY_REPOSITORY.get(image.repository);
  if (!tools) throw new UnknownImageError(`compose renderer: no health-check tool known for image ${image.repository}; add it to infra/compose/images.ts`);
  return tools;
}

/** The healthcheck `test` that GETs `url` inside a container of `image` (the URL is always the last argument when there is one). */
export function httpCheckCommand(image: Image, url: string): string[] {
  const tools = imageTools(image);
  switch (tools.httpCheck) {
    case 'wget':
      return ['CMD', 'wget', '-q', '-O', '/dev/null', url];
    case 'node':
      return ['CMD', 'node', '-e', 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))', url];
    case 'mc-ready':
      return ['CMD-SHELL', 'MC_CONFIG_DIR=/tmp/.mc mc ready local'];
    case 'bash-tcp': {
      const u = new URL(url);
      const request = `GET ${u.pathname}${u.search} HTTP/1.0\\r\\nHost: ${u.hostname}\\r\\n\\r\\n`;
      return ['CMD', 'bash', '-c', `exec 3<>/dev/tcp/${u.hostname}/${u.port} && printf '${request}' >&3 && head -n 1 <&3 | grep -q ' 200 '`, url];
    }
    case 'scratch':
    case 'none':
      throw new UnknownImageError(`compose renderer: image ${image.repository} has no HTTP client for a probe of ${url}`);
  }
}
