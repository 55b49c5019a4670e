import { existsSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Health } from './health.js';
import type { ProtoGrpcType as AuthProto } from './proto/auth.js';
import type { ProtoGrpcType as ConfigProto } from './proto/config.js';
import type { ProtoGrpcType as DbManagerProto } from './proto/dbmanager.js';
import type { ProtoGrpcType as HealthProto } from './proto/health.js';
import type { HealthHandlers } from './proto/grpc/health/v1/Health.js';
import type { Logger } from './logger.js';
import type { ServiceMetrics } from './metrics.js';
import { clientTlsOptions, serverTlsOptions, type TlsSettings } from './tls.js';

export { grpc };

/**
 * services/proto, found from the source tree (tsx) or from the compiled tree
 * (build/services/runtime/src → services/proto beside build/, as the images lay it out).
 */
export const PROTO_DIR: string = (() => {
  const candidates = ['../../proto/', '../../../../services/proto/'].map((p) =>
    fileURLToPath(new URL(p, import.meta.url)),
  );
  return candidates.find((d) => existsSync(`${d}grpc/health/v1/health.proto`)) ?? candidates[0]!;
})();

/**
 * The package each proto file loads as, typed from the generated code in ./proto (scripts/proto-types.sh,
 * generated with the loader options below): its clients, service definitions and messages.
 */
export interface ProtoTypes {
  'prism/auth/v1/auth.proto': AuthProto;
  'prism/config/v1/config.proto': ConfigProto;
  'prism/dbmanager/v1/dbmanager.proto': DbManagerProto;
  'grpc/health/v1/health.proto': HealthProto;
}

/**
 * Loads a .proto under services/proto (for example `prism/auth/v1/auth.proto`). Messages use
 * camelCase field names, int64 as JS numbers, enums as their names, and default values filled in.
 */
export function loadProto<F extends keyof ProtoTypes>(file: F): ProtoTypes[F] {
  const def = protoLoader.loadSync(file, {
    includeDirs: [PROTO_DIR],
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  // The loader's result is untyped; the generated type of this file is what it builds (the test of the
  // generated code keeps the two in step), so this is the one place the two are joined.
  return grpc.loadPackageDefinition(def) as unknown as ProtoTypes[F];
}

/** A gRPC error with a status code; the message goes to the client as it is. */
export class GrpcError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Wraps an async unary handler: its result is the response, a thrown {@link GrpcError} becomes
 * that status, anything else is logged in full and answered INTERNAL with a generic message.
 * Every call is counted in `prism_grpc_requests_total{method,code}`.
 */
export function unary<Req, Res>(
  method: string,
  deps: { log: Logger; metrics: ServiceMetrics },
  handler: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res> | Res,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => handler(call.request, call))
      .then(
        (res) => {
          deps.metrics.grpcRequests.inc({ method, code: grpc.status[grpc.status.OK] });
          callback(null, res);
        },
        (e: unknown) => {
          const known = e instanceof GrpcError;
          const code = known ? e.code : grpc.status.INTERNAL;
          if (!known) deps.log.error({ err: e, method }, 'gRPC handler failed');
          deps.metrics.grpcRequests.inc({ method, code: grpc.status[code] });
          callback({ code, details: known ? e.message : 'internal error' });
        },
      );
  };
}

const HEALTH_PROTO = 'grpc/health/v1/health.proto' as const;
type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/**
 * The standard `grpc.health.v1.Health` service. The empty service name and every name in
 * `services` report SERVING while the service is ready (dependency checks pass, not draining).
 */
export function addHealthService(server: grpc.Server, health: Health, services: readonly string[] = []): void {
  const known = new Set(['', ...services]);
  const { Health } = loadProto(HEALTH_PROTO).grpc.health.v1;
  const status = async (): Promise<ServingStatus> => ((await health.readiness()).ready ? 'SERVING' : 'NOT_SERVING');
  server.addService(Health.service, {
    Check: (call, cb) => {
      if (!known.has(call.request.service))
        return cb({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` });
      status().then(
        (s) => cb(null, { status: s }),
        () => cb(null, { status: 'NOT_SERVING' }),
      );
    },
    Watch: (call) => {
      let last: ServingStatus | undefined;
      const tick = async () => {
        const s = known.has(call.request.service)
          ? await status().catch(() => 'NOT_SERVING' as const)
          : 'SERVICE_UNKNOWN';
        if (call.cancelled) return;
        if (s !== last) call.write({ status: (last = s) });
        // Streams end when the service drains, so the server can shut down.
        if (health.draining) {
          stop();
          call.end();
        }
      };
      const timer = setInterval(() => void tick(), 1_000);
      const stop = () => clearInterval(timer);
      void tick();
      call.on('cancelled', stop);
      call.on('close', stop);
      call.on('error', stop);
    },
  } satisfies HealthHandlers);
}

class TlsServerCredentials extends grpc.ServerCredentials {
  override _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

/** Server credentials from the TLS settings: plaintext when disabled; minimum version and mutual TLS honoured. */
export function grpcServerCredentials(tls: TlsSettings): grpc.ServerCredentials {
  if (!tls.enabled) return grpc.ServerCredentials.createInsecure();
  const { requestCert, rejectUnauthorized, ...context } = serverTlsOptions(tls);
  return new TlsServerCredentials({ requestCert, rejectUnauthorized }, context);
}

/** Client credentials: plaintext, or TLS trusting `caFile` and presenting a certificate for mutual TLS. */
export function grpcClientCredentials(tls: {
  enabled: boolean;
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  minVersion?: '1.2' | '1.3';
}): grpc.ChannelCredentials {
  if (!tls.enabled) return grpc.credentials.createInsecure();
  return grpc.credentials.createFromSecureContext(createSecureContext(clientTlsOptions(tls)));
}

/** Binds `server` on all interfaces; resolves with the bound port (pass 0 for a free one). */
export function bindGrpc(
  server: grpc.Server,
  port: number,
  creds: grpc.ServerCredentials,
  host = '0.0.0.0',
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, creds, (err, bound) => (err ? reject(err) : resolve(bound)));
  });
}
