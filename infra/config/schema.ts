import { z } from 'zod';
import { addressOrCidr, SERVICE_NAMES, type ServiceName, SECRET_KEYS } from '../contract/index.js';
import { bytes, cpuMillis } from './quantity.js';
import type { Resources } from './sizing.js';
import { alerting } from './alerting.js';
import { cidrBlock } from './cidr.js';
import { CHECKLIST_ITEM_IDS } from './checklist.js';
import {
  DEFAULT_VOLUME_SIZES,
  type DataStoreName,
  SERVICE_DEFAULT_RESOURCES,
  type SizedWorkload,
  WORKLOAD_DEFAULT_RESOURCES,
} from './sizing.js';

/**
 * The typed stack configuration: the `prism:` keys of `stacks/Pulumi.<env>.yaml`.
 * cdk8s synth and the Pulumi program both validate with this schema, so one file is
 * the one truth of an environment. Every default below is the documented default
 * (README, "Stack configuration").
 */

const cpu = z
  .string()
  .refine((q) => cpuMillis(q) !== undefined, { message: 'expected a CPU quantity such as 100m or 0.5' });
const memory = z
  .string()
  .refine((q) => bytes(q) !== undefined, { message: 'expected a memory quantity such as 128Mi or 1Gi' });
const dnsName = z
  .string()
  .regex(
    /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    'expected a lower-case DNS name',
  );
/** A pinned image tag: never `latest`, never empty. */
const imageTag = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'expected an image tag')
  .refine((t) => t !== 'latest', { message: 'expected a pinned tag, not latest' });
/** RFC 1918: where pod networks and Docker networks live (see `ingress.trustedProxies`). */
export const DEFAULT_TRUSTED_PROXIES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'] as const;
const noCredentials = z
  .never({
    message:
      'credentials are not stack configuration: set the secret keys backup-offsite-access-key and backup-offsite-secret-key of prism-secrets (pulumi config set --secret prism:backupOffsiteAccessKey, prism:backupOffsiteSecretKey, or your secret store)',
  })
  .optional();
/** A namespace or service account name (RFC 1123 label), with what it names in the message. */
const k8sName = (what: string) =>
  z
    .string()
    .regex(
      /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
      `expected ${what}: a Kubernetes name (lower-case letters, digits and '-', at most 63)`,
    );
const cron = z.string().regex(/^(\S+\s+){4}\S+$/, 'expected a five-field cron expression');
const port = z.number().int().min(1).max(65535);
const cidr = cidrBlock;

const resourceList = z.strictObject({ cpu, memory });
const resourcesSchema: z.ZodType<Resources> = z
  .strictObject({ requests: resourceList, limits: resourceList })
  // Compared only once both parse; a malformed quantity has its own message.
  .refine((r) => !(cpuMillis(r.limits.cpu)! < cpuMillis(r.requests.cpu)!), {
    message: 'limits.cpu must be at least requests.cpu',
    path: ['limits', 'cpu'],
  })
  .refine((r) => !(bytes(r.limits.memory)! < bytes(r.requests.memory)!), {
    message: 'limits.memory must be at least requests.memory',
    path: ['limits', 'memory'],
  });

const autoscaling = z
  .strictObject({
    minReplicas: z.number().int().min(1),
    maxReplicas: z.number().int().min(1),
    targetCPUUtilization: z.number().int().min(1).max(100).default(70),
  })
  .refine((a) => a.maxReplicas >= a.minReplicas, {
    message: 'maxReplicas must be at least minReplicas',
    path: ['maxReplicas'],
  });

const service = (name: ServiceName) =>
  z
    .strictObject({
      /** Fixed replica count; ignored (the HPA owns it) when `autoscaling` is set. */
      replicas: z.number().int().min(1).default(1),
      autoscaling: autoscaling.optional(),
      resources: resourcesSchema.default(SERVICE_DEFAULT_RESOURCES[name]),
    })
    .prefault({});

const services = z
  .strictObject(
    Object.fromEntries(SERVICE_NAMES.map((n) => [n, service(n)])) as Record<ServiceName, ReturnType<typeof service>>,
  )
  .prefault({});

/** CPU and memory of every workload besides the services. */
const workloadResources = z
  .strictObject(
    Object.fromEntries(
      Object.entries(WORKLOAD_DEFAULT_RESOURCES).map(([n, r]) => [n, resourcesSchema.default(r)]),
    ) as Record<SizedWorkload, z.ZodDefault<typeof resourcesSchema>>,
  )
  .prefault({});

const DATA_STORES = Object.keys(DEFAULT_VOLUME_SIZES) as DataStoreName[];

const storage = z
  .strictObject({
    /** StorageClass of every volume claim; the cluster's default class when unset. */
    storageClass: z.string().min(1).optional(),
    sizes: z
      .strictObject(
        Object.fromEntries(DATA_STORES.map((d) => [d, memory.default(DEFAULT_VOLUME_SIZES[d])])) as Record<
          DataStoreName,
          z.ZodDefault<typeof memory>
        >,
      )
      .prefault({}),
  })
  .prefault({});

const secrets = z
  .discriminatedUnion('mode', [
    /** Pulumi creates `prism-secrets` from `pulumi config set --secret` values. */
    z.strictObject({ mode: z.literal('pulumi') }),
    /** External Secrets Operator syncs `prism-secrets` from a secret store. */
    z.strictObject({
      mode: z.literal('external'),
      storeKind: z.enum(['SecretStore', 'ClusterSecretStore']).default('ClusterSecretStore'),
      storeName: z.string().min(1),
      /** Remote key of each entry: `<remotePrefix><secret key>`. */
      remotePrefix: z.string().default('prism/'),
      refreshInterval: z
        .string()
        .regex(/^\d+[smh]$/, 'expected a duration such as 1h')
        .default('1h'),
    }),
    /** A local cluster: `npm run local-secrets` writes the Secret to a git-ignored file. */
    z.strictObject({ mode: z.literal('local') }),
  ])
  .prefault({ mode: 'local' });

const pulumiSecrets = Object.fromEntries(
  SECRET_KEYS.map((s) => [s.pulumiKey, z.strictObject({ secure: z.string().min(1) }).optional()]),
) as Record<(typeof SECRET_KEYS)[number]['pulumiKey'], z.ZodOptional<z.ZodObject<{ secure: z.ZodString }>>>;

export const stackConfigSchema = z
  .strictObject({
    /** Public host name of the platform. */
    domain: dnsName,
    tls: z
      .strictObject({
        /** cert-manager ClusterIssuer that signs the ingress certificate. */
        clusterIssuer: z.string().min(1).default('letsencrypt-prod'),
        secretName: z.string().min(1).default('prism-tls'),
      })
      .prefault({}),
    /**
     * Where cert-manager runs: its cluster resource namespace holds the mesh CA's key (a ClusterIssuer's CA
     * Secret lives there, outside the application namespace), and its controller's service account is the
     * requester approver-policy authorizes for the platform's certificates.
     */
    certManager: z
      .strictObject({
        namespace: k8sName("cert-manager's cluster resource namespace").default('cert-manager'),
        controllerServiceAccount: k8sName("the cert-manager controller's service account").default('cert-manager'),
      })
      .prefault({}),
    images: z.strictObject({
      /** Registry prefix of the four service images (`<registry>/prism-gateway:<tag>`). */
      registry: z.string().min(1).default('ghcr.io/prism-platform'),
      tag: imageTag,
      /** Every image; Always re-checks registry credentials on each pull (pinned tags keep it reproducible). */
      pullPolicy: z.enum(['IfNotPresent', 'Always']).default('Always'),
      /**
       * Whether `pulumi up` builds and pushes the four service images (tagged `<stack>-<revision>`, run by
       * digest). Off, it deploys `<registry>/prism-<service>:<tag>` as they are, built by another pipeline.
       * @default true
       */
      build: z.boolean().default(true),
    }),
    ingress: z
      .strictObject({
        className: z.string().min(1).default('nginx'),
        /** Namespace of the ingress controller: the only one allowed to reach the edge ports. */
        controllerNamespace: z.string().min(1).default('ingress-nginx'),
        /** Edge rate limit per client IP (requests/second), counted per Ingress (`/api` and `/auth` each), in front of the gateway's own. */
        rateLimitRps: z.number().int().min(1).default(50),
        /**
         * Addresses or CIDR blocks of the forwarders in front of the services: the ingress controller's pods
         * (Kubernetes), Traefik (Compose), and the gateway in front of auth. The gateway and auth take the
         * client from the right-most X-Forwarded-For hop outside this list, and never read the header from
         * anyone else. The default, the private ranges, covers pod networks and Docker networks, where only
         * these forwarders reach the services (NetworkPolicies, Compose networks); narrow it to your pod CIDR.
         */
        trustedProxies: z
          .array(addressOrCidr)
          .min(1)
          .default([...DEFAULT_TRUSTED_PROXIES]),
      })
      .prefault({}),
    rateLimit: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** The guide's default: 100 requests/second per identity. */
        requestsPerSecond: z.number().int().min(1).default(100),
        burst: z.number().int().min(1).default(200),
        /** When Redis is unreachable: `open` falls back to a per-instance limiter, `closed` rejects. */
        onRedisFailure: z.enum(['open', 'closed']).default('open'),
      })
      .prefault({}),
    jwt: z
      .strictObject({
        issuer: z.string().min(1).default('prism-auth'),
        audience: z.string().min(1).default('prism-api'),
        accessTokenTtlSeconds: z.number().int().min(60).max(3600).default(900),
      })
      .prefault({}),
    services,
    resources: workloadResources,
    nats: z
      .strictObject({
        /** JetStream cluster size: 1, or 3 and more (odd) for a quorum. */
        replicas: z
          .number()
          .int()
          .refine((n) => n === 1 || (n >= 3 && n % 2 === 1), { message: 'expected 1 or an odd number of at least 3' })
          .default(1),
      })
      .prefault({}),
    storage,
    backups: z
      .strictObject({
        schedule: cron.default('0 2 * * *'),
        /** Ships the open WAL segment, bounding what a quiet database can lose (the RPO). */
        walSchedule: cron.default('*/15 * * * *'),
        verifySchedule: cron.default('0 4 * * 0'),
        retentionDays: z.number().int().min(1).default(14),
        /**
         * A second, S3-compatible store outside the cluster that receives every base backup and
         * WAL segment too. Credentials are secret keys of prism-secrets (backup-offsite-access-key,
         * backup-offsite-secret-key), never stack configuration.
         */
        offsite: z
          .strictObject({
            endpoint: z.url({
              protocol: /^https?$/,
              message: 'expected an http(s) URL such as https://s3.eu-central-1.amazonaws.com',
            }),
            bucket: z
              .string()
              .regex(
                /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
                'expected an S3 bucket name (3-63 lower-case letters, digits, dots, hyphens)',
              ),
            region: z.string().min(1).default('us-east-1'),
            /** The only ranges the backup workloads may reach it on (a NetworkPolicy cannot name a host; use an egress gateway or the store's published ranges). */
            egressCidrs: z.array(cidrBlock).min(1, 'expected at least one CIDR block'),
            accessKey: noCredentials,
            secretKey: noCredentials,
          })
          .optional(),
      })
      .prefault({}),
    observability: z
      .strictObject({
        /** Prometheus, Grafana, Loki and Jaeger in the cluster. */
        enabled: z.boolean().default(true),
        /** The Grafana Alloy DaemonSet (in its own namespace) that ships pod logs to Loki. */
        logShipping: z.boolean().default(true),
        /**
         * The share of requests whose traces are recorded, 0 to 1 (head sampling by trace id, decided where a
         * trace starts; a request arriving with a `traceparent` follows its caller, so traces stay whole).
         */
        traceSampleRatio: z
          .number()
          .min(0, 'expected a share from 0 to 1')
          .max(1, 'expected a share from 0 to 1 (1 records every trace)')
          .default(1),
      })
      .prefault({}),
    secrets,
    /** The production checklist (`npm run checklist`): items this stack declares not applicable, each with its reason. */
    checklist: z
      .strictObject({
        notApplicable: z
          .partialRecord(
            z.enum(CHECKLIST_ITEM_IDS),
            z.string().trim().min(10, 'expected the reason the item does not apply (at least 10 characters)'),
          )
          .default({}),
      })
      .prefault({}),
    /** Where `pulumi up` deploys; synth ignores it. */
    cluster: z
      .strictObject({
        kubeconfig: z.string().min(1).optional(),
        context: z.string().min(1).optional(),
        /**
         * Where the Kubernetes API server's endpoints are (`kubectl get endpoints kubernetes -n default`):
         * the only addresses a component with API access (Prometheus, the log shipper) may reach.
         * Required when observability is enabled.
         */
        apiServer: z.strictObject({ cidrs: z.array(cidr).min(1, 'expected at least one CIDR block'), port }).optional(),
      })
      .prefault({}),
    alerting,
    ...pulumiSecrets,
  })
  .superRefine((cfg, ctx) => {
    if (cfg.observability.enabled && !cfg.cluster.apiServer) {
      ctx.addIssue({
        code: 'custom',
        path: ['cluster', 'apiServer'],
        message:
          'required when observability is enabled (Prometheus and the log shipper discover pods through the API server): set cidrs and port from `kubectl get endpoints kubernetes -n default`',
        input: undefined,
      });
    }
    for (const name of SERVICE_NAMES) {
      const a = cfg.services[name].autoscaling;
      if (a && name === 'dbmanager') {
        ctx.addIssue({
          code: 'custom',
          path: ['services', name, 'autoscaling'],
          message: 'dbmanager runs as a single instance and cannot autoscale',
          input: a,
        });
      }
    }
  });

export type StackConfig = z.infer<typeof stackConfigSchema>;
