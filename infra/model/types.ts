import type { EnvName, SecretKey, SecretRef } from '../contract/index.js';
import type { Resources } from '../config/index.js';

/**
 * The platform model: every component described once. Renderers (Kubernetes, Compose,
 * Pulumi) read it and never invent a port, a variable name or a probe path.
 */

/** The guide's four network tiers; NetworkPolicies and Compose networks follow them. */
export type Tier = 'frontend' | 'backend' | 'data' | 'observability';
export const TIERS: readonly Tier[] = ['frontend', 'backend', 'data', 'observability'];

export type ComponentName =
  | 'gateway'
  | 'auth'
  | 'config'
  | 'dbmanager'
  | 'postgres-auth'
  | 'postgres-ops'
  | 'redis'
  | 'nats'
  | 'consul'
  | 'minio'
  | 'prometheus'
  | 'jaeger'
  | 'loki'
  | 'grafana'
  | 'alertmanager'
  | 'postgres-auth-exporter'
  | 'postgres-ops-exporter'
  | 'redis-exporter'
  | 'nats-exporter'
  | 'edge';

/** Which chart (and Compose file) a component belongs to. */
export type Layer = 'core' | 'data' | 'observability' | 'edge';

interface Port {
  readonly name: string;
  readonly port: number;
  readonly protocol?: 'TCP' | 'UDP';
  /** Published on the host by Compose (local development). */
  readonly publish?: boolean;
}

/** A reference to another component's port: rendered as `host:port` or a URL. */
export interface ComponentRef {
  readonly component: ComponentName;
  readonly port: string;
  /** `url` renders `<scheme>://host:port<path>`. */
  readonly scheme?: 'http' | 'https' | 'nats' | 'tls';
  readonly path?: string;
}

export type EnvValue =
  | { readonly value: string }
  | SecretRef
  | { readonly ref: ComponentRef }
  /** The pod's own name (a StatefulSet member's stable identity). */
  | { readonly field: 'metadata.name' };

interface HttpProbe {
  readonly http: { readonly path: string; readonly port: string };
}
interface ExecProbe {
  readonly exec: readonly string[];
}
interface TcpProbe {
  readonly tcp: { readonly port: string };
}
export type ProbeAction = HttpProbe | ExecProbe | TcpProbe;

export interface Probe {
  readonly action: ProbeAction;
  readonly initialDelaySeconds: number;
  readonly periodSeconds: number;
  readonly timeoutSeconds?: number;
  readonly failureThreshold?: number;
}

/** A file the component reads, with content rendered from the model. */
export interface ConfigFile {
  /** File name (also the ConfigMap key). */
  readonly name: string;
  /** Directory it is mounted in. */
  readonly mountPath: string;
  readonly content: string;
  /** Its content where there is no Kubernetes API to discover peers from (Compose); {@link content} there when absent. */
  readonly composeContent?: string;
  /** The other components' addresses written into the content (as {@link refAddress} writes them): each must be backed by a flow. */
  readonly refs?: readonly ComponentRef[];
}

/** Secret keys mounted as files (for example the JWT key pair). */
export interface SecretFiles {
  readonly mountPath: string;
  readonly items: readonly { readonly secret: SecretKey; readonly file: string }[];
}

/**
 * A certificate of the platform's private CA for service-to-service mutual TLS: issued by
 * cert-manager in Kubernetes, by the local generator for Compose and the local platform.
 */
export interface WorkloadIdentity {
  /** The URI SAN the services authorize by (`spiffe://prism/<service>`). */
  readonly uri: string;
  /** Host names peers reach it by; each renderer adds its own (the Service's DNS forms in Kubernetes). */
  readonly dnsNames: readonly string[];
  /** Directory of `tls.crt`, `tls.key` and `ca.crt`. */
  readonly mountPath: string;
  /**
   * The workload only verifies servers with the mesh CA (a PostgreSQL exporter): its pods get `ca.crt` alone, never
   * a key. In Kubernetes a Certificate of its own still exists, because cert-manager puts the CA only in a
   * certificate's Secret; Compose mounts the local CA's certificate.
   */
  readonly verifyOnly?: boolean;
}

/** A network flow this component opens; NetworkPolicies and Compose networks are derived from it. */
export interface Flow {
  readonly to: ComponentName;
  readonly port: string;
}

export interface WritablePath {
  readonly path: string;
  readonly size: string;
  /** Too large for memory: Compose gives it a volume on disk instead of a tmpfs (Kubernetes emptyDirs are on disk anyway). */
  readonly onDisk?: boolean;
}

interface Persistence {
  readonly mountPath: string;
  readonly size: string;
}

export interface Scaling {
  readonly replicas: number;
  readonly autoscaling?: {
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly targetCPUUtilization: number;
  };
}

/**
 * What an image carries to run a check inside its container: Kubernetes probes HTTP from the kubelet,
 * Compose runs a program in the container, and images differ.
 * - `wget`: busybox `wget` (Alpine- and busybox-based images). Exits non-zero on an HTTP error status.
 * - `node`: Node's global `fetch` (the Prism service images: node trixie-slim, no wget or curl).
 * - `silo-ready`: `silo healthcheck ready`, the readiness check built into Silo (the maintained fork of the MinIO
 *   server, whose image, like MinIO's since 2023, has no curl).
 * - `bash-tcp`: bash's `/dev/tcp`, a plain HTTP/1.0 request (Ubuntu-based images without an HTTP client).
 * - `none`: no HTTP client (exec probes only, or one-shot tasks).
 * - `scratch`: nothing but the program (`FROM scratch`): no check can run inside. Only exporters may be such:
 *   nothing waits on them, and Prometheus' `up` series is their health.
 */
type HttpCheckTool = 'wget' | 'node' | 'silo-ready' | 'bash-tcp' | 'none' | 'scratch';

interface ImageTools {
  readonly httpCheck: HttpCheckTool;
  /** Has `/bin/sh` and `chown`, offered to Compose's volume-permission one-shot (which runs as root in it). */
  readonly shell: boolean;
}

export interface Image {
  readonly repository: string;
  /** A pinned tag; never `latest`. */
  readonly tag: string;
  /** The tag's content digest (`sha256:…`) where one is recorded: renderers then write `repository:tag@digest`. */
  readonly digest?: string;
  /** What it carries to run checks inside the container. */
  readonly tools: ImageTools;
  readonly pullPolicy?: 'IfNotPresent' | 'Always';
  /**
   * What the image runs when no command is given (its ENTRYPOINT and CMD, without tini); set for the
   * images this package builds, whose Dockerfiles follow it. Renderers that run the image leave it to the image.
   */
  readonly entrypoint?: readonly string[];
  /**
   * Built by this package (the four Prism services): context relative to the repository root, the
   * Dockerfile, its build arguments and the stage to build.
   */
  readonly build?: ImageBuild;
}

export interface ImageBuild {
  readonly context: string;
  readonly dockerfile: string;
  readonly args: Readonly<Record<string, string>>;
  readonly target: string;
}

/** A one-shot or scheduled task that runs a component's image with other arguments. */
export interface Task {
  readonly name: string;
  readonly description: string;
  /** Another image than the component's (for example the MinIO client). */
  readonly image?: Image;
  readonly command?: readonly string[];
  readonly configFiles?: readonly ConfigFile[];
  readonly args: readonly string[];
  /** Cron schedule; a one-shot Job when absent. */
  readonly schedule?: string;
  /** Writable directories of the task; the component's own when absent. */
  readonly writablePaths?: readonly WritablePath[];
  /** Environment of the task; the component's own when absent. */
  readonly env?: Readonly<Record<string, EnvValue>>;
  readonly flows: readonly Flow[];
  /** Egress beyond the platform, as for a component; none when absent. */
  readonly externalEgress?: Component['externalEgress'];
}

export interface Component {
  readonly name: ComponentName;
  readonly description: string;
  readonly layer: Layer;
  readonly tier: Tier;
  readonly image: Image;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly ports: readonly Port[];
  readonly env: Readonly<Record<string, EnvValue>>;
  readonly liveness: Probe;
  readonly readiness: Probe;
  readonly resources: Resources;
  readonly scaling: Scaling;
  /** A StatefulSet with a volume claim per replica when set; a Deployment otherwise. */
  readonly persistence?: Persistence;
  readonly configFiles: readonly ConfigFile[];
  readonly secretFiles?: SecretFiles;
  /** Its mutual-TLS certificate (the Prism services). */
  readonly identity?: WorkloadIdentity;
  /** Where it finds the mesh CA's certificate (only the certificate), to verify the HTTPS of the services it proxies to (the edge proxy). */
  readonly meshCaFile?: string;
  /** Writable directories on a read-only root filesystem (emptyDir / tmpfs), with their size limit. */
  readonly writablePaths: readonly WritablePath[];
  /**
   * Compose has no CronJobs: a long-running service of this name runs the component's image with
   * these arguments, which run its scheduled tasks at the same times. Kubernetes ignores it.
   */
  readonly localScheduler?: {
    readonly name: string;
    readonly args: readonly string[];
    /** Its health check: fails when the scheduler is not working. */
    readonly readiness: Probe;
  };
  /** Runs as exactly one instance on purpose (say why); linters' replica advice does not apply. */
  readonly singleton?: string;
  readonly flows: readonly Flow[];
  /** Egress beyond the platform (for example OAuth providers), by port, with the reason. */
  readonly externalEgress?: readonly { readonly port: number; readonly reason: string }[];
  /** Where {@link externalEgress} may go; public addresses (never the cluster's private ranges) when absent. */
  readonly externalEgressCidrs?: readonly string[];
  /** Namespace resources it reads from the Kubernetes API (get, list, watch); no API access when absent. */
  readonly apiAccess?: readonly string[];
  /** Scraped by Prometheus on this port (the guide's annotations). */
  readonly metricsPort?: string;
  /** Path of the metrics endpoint on {@link metricsPort}; `/metrics` when absent. */
  readonly metricsPath?: string;
  /** Query parameters of the metrics endpoint (Consul serves Prometheus' format only with `format=prometheus`). */
  readonly metricsParams?: { readonly format: string };
  /** Its metrics endpoint wants a bearer token: Prometheus mounts this secret key and sends it (MinIO's). */
  readonly metricsToken?: SecretKey;
  /** An exporter: the component whose metrics it serves (a store without its own endpoint), reached through one of its {@link flows}. */
  readonly metricsOf?: ComponentName;
  readonly tasks: readonly Task[];
  /** Seconds the process needs to finish in-flight work after SIGTERM. */
  readonly terminationGracePeriodSeconds: number;
  /** UID and GID the container runs as (>= 10000). */
  readonly user: number;
  /** The set of env names this component reads, when it is a Prism service (checked against the contract). */
  readonly contract?: readonly EnvName[];
}

/** A public path prefix and the component port it reaches. */
export interface EdgeRoute {
  readonly path: string;
  readonly to: ComponentName;
  readonly port: string;
}

/** What the edge (Ingress in Kubernetes, Traefik in Compose) exposes. */
export interface Edge {
  readonly domain: string;
  readonly routes: readonly EdgeRoute[];
  /** Requests per second per client IP at the edge. */
  readonly rateLimitRps: number;
  readonly tls: { readonly clusterIssuer: string; readonly secretName: string };
  readonly ingressClassName: string;
  /** Namespace of the ingress controller: the only peer allowed to reach the routed ports. */
  readonly controllerNamespace: string;
  /**
   * How the edge verifies the services' HTTPS: the mesh CA, from the Secret of a certificate of its own
   * (`ca.crt` beside a client certificate that names no role, `identityUri`).
   */
  readonly backendTls: { readonly secretName: string; readonly identityUri: string };
}

/** The Kubernetes API server's endpoints: the only addresses a component with {@link Component.apiAccess} may reach. */
export interface ApiServer {
  readonly cidrs: readonly string[];
  readonly port: number;
}

/** The private CA of service-to-service mutual TLS, and the lifetime of what it issues. */
export interface MeshCa {
  /**
   * Name of the CA's Certificate and Secret (in {@link MeshCa.certManagerNamespace}) and of the ClusterIssuer
   * that signs workload certificates; unique per environment, as environments may share a cluster.
   */
  readonly name: string;
  /** cert-manager's cluster resource namespace: the CA's key lives there, never in the application namespace. */
  readonly certManagerNamespace: string;
  /** The cert-manager controller's service account: the requester of every CertificateRequest a Certificate makes. */
  readonly certManagerServiceAccount: string;
  /** Go durations, as cert-manager takes them. */
  readonly caDuration: string;
  readonly caRenewBefore: string;
  readonly certificateDuration: string;
  readonly certificateRenewBefore: string;
  /** The longest an operator's certificate may live (operators request their own, see docs/security.md). */
  readonly operatorCertificateMaxDuration: string;
}

/** The log shipper: runs beside the workloads (per node, or on the container engine), described once for every renderer. */
export interface LogShipper {
  readonly name: string;
  readonly image: Image;
  /** Its HTTP server: health endpoints only. */
  readonly port: Port;
  readonly configDir: string;
  readonly configFile: string;
  /** Where it keeps its read positions. */
  readonly storagePath: string;
  /** Its arguments, but for where it listens: */
  readonly args: readonly string[];
  /** The flag of its listen address, `<flag>=<host>:<port>`, which the renderer appends (the kubelet probes from outside the pod; Compose checks from inside). */
  readonly listenFlag: string;
  readonly liveness: Probe;
  readonly readiness: Probe;
  readonly resources: Resources;
  /** Size of its writable /tmp. */
  readonly tmpSize: string;
  /** Where it pushes: Loki's push API. */
  readonly loki: ComponentRef;
}

export interface Platform {
  readonly environment: string;
  /** Absent when nothing in the platform needs the API (observability off). */
  readonly apiServer?: ApiServer;
  readonly mtls: MeshCa;
  readonly namespace: string;
  /** Pull policy of every image without its own. */
  readonly imagePullPolicy: 'IfNotPresent' | 'Always';
  readonly components: readonly Component[];
  readonly edge: Edge;
  /**
   * Present with observability. Compose always runs it (local logs in Grafana); Kubernetes as the stack's
   * `observability.logShipping` says.
   */
  readonly logShipper?: LogShipper;
}
