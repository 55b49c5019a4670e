import { createServer as createHttpServer, type RequestListener, type Server, type ServerOptions } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { MTLS_REFRESH_SECONDS, type ServiceName } from '#contract';
import { createAdminServer } from './admin-server.js';
import { registerWithConsul } from './consul.js';
import { loadEnv, type ServiceEnv } from './config.js';
import { addHealthService, bindGrpc, grpc, grpcClientCredentials, grpcServerCredentials } from './grpc.js';
import { grpcClientInterceptor, traceGrpcService } from './grpc-tracing.js';
import { Health } from './health.js';
import { createLogger, type Logger } from './logger.js';
import { ServiceMetrics } from './metrics.js';
import {
  MtlsFileProvider,
  type MtlsSettings,
  mtlsClientCredentials,
  mtlsServerCredentials,
  mtlsSettingsFromEnv,
} from './mtls.js';
import { TlsConfigError, serverTlsOptions, tlsSettingsFromEnv, type TlsSettings } from './tls.js';
import { startTracing, type Tracing } from './tracing.js';

export interface ServiceRuntimeOptions {
  readonly service: ServiceName;
  /** Already validated environment; by default {@link loadEnv} reads process.env (and exits on a bad one). */
  readonly env?: ServiceEnv;
  /**
   * Time between readiness turning 503 and the listeners closing, so load balancers and
   * Kubernetes endpoints stop sending new requests first.
   * @default 2000 ms (never more than a quarter of PRISM_SHUTDOWN_TIMEOUT_SECONDS)
   */
  readonly drainDelayMs?: number;
  /** Install SIGTERM / SIGINT handlers that shut down and exit. @default true */
  readonly handleSignals?: boolean;
  /** Where log lines go. @default stdout */
  readonly logDestination?: NodeJS.WritableStream;
  /** How often the mTLS files and the HTTPS certificate are re-read. @default the contract's MTLS_REFRESH_SECONDS */
  readonly mtlsRefreshMs?: number;
}

type Closer = { readonly name: string; readonly close: () => Promise<unknown> };

/**
 * What every Prism service shares: validated env, logger, metrics, health, tracing, the
 * metrics/health server, Consul registration and graceful shutdown. See services/runtime/README.md.
 */
export class ServiceRuntime {
  readonly service: ServiceName;
  readonly env: ServiceEnv;
  readonly log: Logger;
  readonly metrics: ServiceMetrics;
  readonly health = new Health();
  readonly tracing: Tracing;
  readonly tls: TlsSettings;
  /** Service-to-service mutual TLS (PRISM_MTLS_*). */
  readonly mtls: MtlsSettings;
  /** This workload's certificate, re-read as it is renewed; undefined when mTLS is off. */
  readonly mtlsProvider: MtlsFileProvider | undefined;

  private readonly opts: ServiceRuntimeOptions;
  private readonly admin;
  private readonly servers: Closer[] = [];
  private readonly hooks: Closer[] = [];
  private deregister: (() => Promise<void>) | undefined;
  private stopping: Promise<void> | undefined;

  constructor(opts: ServiceRuntimeOptions) {
    this.opts = opts;
    this.service = opts.service;
    this.env = opts.env ?? loadEnv(opts.service);
    this.log = createLogger({
      service: opts.service,
      environment: this.env.PRISM_ENVIRONMENT,
      level: this.env.PRISM_LOG_LEVEL,
      ...(opts.logDestination ? { destination: opts.logDestination } : {}),
    });
    this.metrics = new ServiceMetrics(opts.service);
    this.tracing = startTracing(
      opts.service,
      this.env.PRISM_OTLP_ENDPOINT,
      this.env.PRISM_ENVIRONMENT,
      this.env.PRISM_TRACE_SAMPLE_RATIO,
    );
    try {
      this.tls = tlsSettingsFromEnv(this.env);
      this.mtls = mtlsSettingsFromEnv(this.env);
      this.mtlsProvider = this.mtls.enabled ? new MtlsFileProvider(this.mtls, opts.mtlsRefreshMs, this.log) : undefined;
      const own = this.mtlsProvider?.material.identity;
      if (own && own.name !== opts.service)
        throw new TlsConfigError(
          `the mTLS certificate ${this.mtls.certFile} identifies ${own.uri}, not ${opts.service}`,
        );
    } catch (e) {
      // At a process entry point (no env given), a TLS misconfiguration is one line and exit 78, as a bad variable is.
      if (!(e instanceof TlsConfigError) || opts.env) throw e;
      process.stderr.write(`${opts.service}: ${e.message}\n`);
      process.exit(78);
    }
    if (this.mtlsProvider) {
      const m = this.mtlsProvider.material;
      this.log.info(
        { identity: m.identity.uri, serial: m.serial, notAfter: m.notAfter.toISOString() },
        'mutual TLS on',
      );
    }
    this.admin = createAdminServer(this.health, this.metrics);
  }

  /** True once shutdown has begun: handlers may send `Connection: close` and refuse new work. */
  get draining(): boolean {
    return this.health.draining;
  }

  /** Registers cleanup run after the listeners have closed, in reverse order of registration. */
  onShutdown(name: string, close: () => unknown): void {
    this.hooks.push({ name, close: async () => void (await close()) });
  }

  /** An HTTP server, HTTPS (minimum version, optional mutual TLS) when PRISM_TLS_ENABLED; closed on shutdown. */
  createHttpServer(handler: RequestListener, options: ServerOptions = {}): Server {
    if (!this.tls.enabled) {
      const server = createHttpServer(options, handler);
      this.trackHttpServer(server);
      return server;
    }
    let current = serverTlsOptions(this.tls);
    const server = createHttpsServer({ ...options, ...current }, handler);
    // cert-manager renews the certificate in place: new connections get the renewed one without a
    // restart. A half-written pair (key not matching the certificate) is skipped and the last good one kept.
    const timer = setInterval(
      () => {
        try {
          const next = serverTlsOptions(this.tls);
          const [cert, key] = [next.cert as Buffer, next.key as Buffer];
          if (cert.equals(current.cert as Buffer) && key.equals(current.key as Buffer)) return;
          if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) return;
          const { requestCert: _r, rejectUnauthorized: _u, ...context } = next;
          server.setSecureContext(context);
          current = next;
          this.log.info({ certFile: this.tls.certFile }, 'HTTPS certificate reloaded');
        } catch (e) {
          this.log.warn({ err: (e as Error).message }, 'HTTPS certificate not reloaded; keeping the current one');
        }
      },
      this.opts.mtlsRefreshMs ?? MTLS_REFRESH_SECONDS * 1000,
    );
    timer.unref();
    server.once('close', () => clearInterval(timer));
    this.trackHttpServer(server);
    return server;
  }

  /** Closes `server` on shutdown, after in-flight requests have been answered. */
  trackHttpServer(server: Server): void {
    this.servers.push({
      name: 'http',
      close: () =>
        new Promise<void>((resolve) => {
          if (!server.listening) return resolve();
          server.close(() => resolve());
          // Keep-alive connections that go idle between requests are closed as they do.
          const sweep = setInterval(() => server.closeIdleConnections(), 50);
          server.once('close', () => clearInterval(sweep));
        }),
    });
  }

  /** Listens (on PRISM_BIND_ADDRESS, else every interface) and resolves with the bound port. */
  listen(server: Server, port: number, host = this.bindAddress): Promise<number> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  /** Where the service's listeners bind: PRISM_BIND_ADDRESS (the local platform: 127.0.0.1), else every interface. */
  get bindAddress(): string {
    return this.env.PRISM_BIND_ADDRESS ?? '0.0.0.0';
  }

  /**
   * A gRPC server with `grpc.health.v1.Health` already added (reporting for `services` too). Services
   * added later have their unary handlers traced: each call continues the caller's trace and request id.
   */
  createGrpcServer(services: readonly string[] = [], options?: grpc.ServerOptions): grpc.Server {
    const server = new grpc.Server(options);
    addHealthService(server, this.health, services);
    const addService = server.addService.bind(server);
    server.addService = (service, impl) => addService(service, traceGrpcService(this.tracing, service, impl));
    this.servers.push({
      name: 'grpc',
      close: () =>
        new Promise<void>((resolve) => {
          server.tryShutdown(() => resolve());
          // Calls still open after half the budget are cut so the hooks and the exit still run.
          setTimeout(() => server.forceShutdown(), (this.env.PRISM_SHUTDOWN_TIMEOUT_SECONDS * 1000) / 2).unref();
        }),
    });
    return server;
  }

  /**
   * Binds a gRPC server on PRISM_GRPC_PORT (or `port`). With PRISM_MTLS_ENABLED: mutual TLS with this
   * workload's certificate, and every call authorized against the contract's GRPC_ACCESS table;
   * otherwise the PRISM_TLS_* settings.
   */
  bindGrpc(server: grpc.Server, port = this.env.PRISM_GRPC_PORT, host = this.bindAddress): Promise<number> {
    const creds = this.mtlsProvider
      ? mtlsServerCredentials(this.mtlsProvider, { log: this.log, metrics: this.metrics })
      : grpcServerCredentials(this.tls);
    return bindGrpc(server, port, creds, host);
  }

  /**
   * Credentials for calling another Prism gRPC service (`peer`). With PRISM_MTLS_ENABLED: this
   * workload's certificate, renewed files picked up for new connections, the server verified against
   * the platform CA, its host name and its identity. Otherwise plaintext when PRISM_TLS_ENABLED is off,
   * or TLS trusting PRISM_TLS_CLIENT_CA_FILE and presenting PRISM_TLS_CERT_FILE.
   */
  grpcClientCredentials(peer?: ServiceName): grpc.ChannelCredentials {
    // Mutual TLS: this workload's certificate, and the server must be `peer` (its URI SAN).
    if (this.mtlsProvider) return mtlsClientCredentials(this.mtlsProvider, peer);
    return grpcClientCredentials({
      enabled: this.tls.enabled,
      caFile: this.tls.clientCaFile,
      certFile: this.tls.certFile,
      keyFile: this.tls.keyFile,
      minVersion: this.tls.minVersion,
    });
  }

  /** Options for a gRPC client of another service: its calls carry the trace context and request id. */
  grpcClientOptions(): grpc.ClientOptions {
    return { interceptors: [grpcClientInterceptor(this.tracing)] };
  }

  /**
   * Starts the metrics/health server, registers with Consul when PRISM_CONSUL_ADDRESS is set
   * (`mainPort` is the port announced), installs the signal handlers and marks the service started.
   * Call it once the service's own listeners are up. Resolves with the metrics port.
   */
  async start(mainPort?: number): Promise<number> {
    const metricsPort = await this.listen(this.admin, this.env.PRISM_METRICS_PORT);
    if (this.env.PRISM_CONSUL_ADDRESS) {
      this.deregister = registerWithConsul(
        {
          address: this.env.PRISM_CONSUL_ADDRESS,
          token: this.env.PRISM_CONSUL_TOKEN,
          service: this.service,
          port: mainPort ?? metricsPort,
          metricsPort,
        },
        this.log,
      );
    }
    if (this.opts.handleSignals ?? true) {
      const onSignal = (signal: NodeJS.Signals) => {
        this.log.info({ signal }, 'signal received, shutting down');
        void this.shutdown().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
    }
    this.health.markStarted();
    this.log.info({ metricsPort, mainPort }, 'service started');
    return metricsPort;
  }

  /**
   * Graceful shutdown: readiness 503, Consul deregistration, a short drain delay, then the
   * listeners close once their in-flight requests are answered, then the shutdown hooks run.
   * A hard deadline (PRISM_SHUTDOWN_TIMEOUT_SECONDS less half a second) exits the process with
   * code 1 if anything hangs. Safe to call more than once.
   */
  shutdown(): Promise<void> {
    this.stopping ??= this.doShutdown();
    return this.stopping;
  }

  private async doShutdown(): Promise<void> {
    const budgetMs = this.env.PRISM_SHUTDOWN_TIMEOUT_SECONDS * 1000;
    const deadline = setTimeout(
      () => {
        this.log.error({ budgetMs }, 'shutdown did not finish in time; exiting');
        this.log.flush();
        process.exit(1);
      },
      Math.max(100, budgetMs - 500),
    );
    deadline.unref();
    this.health.markDraining();
    const deregistered = this.deregister?.();
    await sleep(Math.min(this.opts.drainDelayMs ?? 2_000, budgetMs / 4));
    await Promise.all(this.servers.map((s) => this.step(s)));
    for (const hook of [...this.hooks].reverse()) await this.step(hook);
    await deregistered;
    await this.step({ name: 'tracing', close: () => this.tracing.shutdown() });
    this.mtlsProvider?.close();
    await new Promise<void>((resolve) => {
      this.admin.close(() => resolve());
      this.admin.closeAllConnections();
    });
    clearTimeout(deadline);
    this.log.info('stopped');
    await new Promise<void>((resolve) => this.log.flush(() => resolve()));
  }

  private async step(c: Closer): Promise<void> {
    try {
      await c.close();
    } catch (e) {
      this.log.warn({ step: c.name, err: (e as Error).message }, 'shutdown step failed');
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
