import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { experimental } from '@grpc/grpc-js';
import {
  type CallerIdentity,
  MTLS_REFRESH_SECONDS,
  type ServiceName,
  allowedCallers,
  callerFromUris,
  workloadSpiffeId,
} from '#contract';
import type { ServiceEnv } from './config.js';
import type { Logger } from './logger.js';
import type { ServiceMetrics } from './metrics.js';
import { TlsConfigError } from './tls.js';

/** Service-to-service mutual TLS (PRISM_MTLS_*): this workload's certificate, key and the platform CA. */
export interface MtlsSettings {
  readonly enabled: boolean;
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  readonly caFile?: string | undefined;
}

export function mtlsSettingsFromEnv(
  env: Pick<ServiceEnv, 'PRISM_MTLS_ENABLED' | 'PRISM_MTLS_CERT_FILE' | 'PRISM_MTLS_KEY_FILE' | 'PRISM_MTLS_CA_FILE'>,
): MtlsSettings {
  const s: MtlsSettings = {
    enabled: env.PRISM_MTLS_ENABLED ?? false,
    certFile: env.PRISM_MTLS_CERT_FILE,
    keyFile: env.PRISM_MTLS_KEY_FILE,
    caFile: env.PRISM_MTLS_CA_FILE,
  };
  if (s.enabled) {
    const missing = (['PRISM_MTLS_CERT_FILE', 'PRISM_MTLS_KEY_FILE', 'PRISM_MTLS_CA_FILE'] as const).filter(
      (k) => !env[k],
    );
    if (missing.length > 0)
      throw new TlsConfigError(
        `PRISM_MTLS_ENABLED is true but ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set`,
      );
  }
  return s;
}

/** URIs among a certificate's subject alternative names (Node quotes values with special characters as JSON). */
export function sanUris(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  const out: string[] = [];
  for (const m of subjectAltName.matchAll(/(?:^|, )URI:("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const v = m[1]!;
    out.push(v.startsWith('"') ? (JSON.parse(v) as string) : v);
  }
  return out;
}

/** A loaded, self-consistent set of files: the key belongs to the certificate, the CA issued it. */
export interface MtlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
  readonly identity: CallerIdentity;
  readonly serial: string;
  readonly notAfter: Date;
}

/** Reads and checks the files; throws a {@link TlsConfigError} saying what is wrong. */
export function loadMtlsMaterial(s: MtlsSettings): MtlsMaterial {
  const read = (file: string | undefined, what: string) => {
    try {
      return readFileSync(file!);
    } catch (e) {
      throw new TlsConfigError(
        `cannot read the ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
  };
  const cert = read(s.certFile, 'mTLS certificate');
  const key = read(s.keyFile, 'mTLS key');
  const ca = read(s.caFile, 'mTLS CA');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw new TlsConfigError(`${s.certFile} is not a PEM certificate: ${(e as Error).message}`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (e) {
    throw new TlsConfigError(`${s.keyFile} is not a PEM private key: ${(e as Error).message}`);
  }
  if (!x509.checkPrivateKey(privateKey)) throw new TlsConfigError(`${s.keyFile} does not belong to ${s.certFile}`);
  const cas = splitPem(ca.toString('utf8')).map((p) => new X509Certificate(p));
  if (cas.length === 0) throw new TlsConfigError(`${s.caFile} holds no certificate`);
  if (!cas.some((c) => x509.checkIssued(c) && x509.verify(c.publicKey)))
    throw new TlsConfigError(`${s.certFile} was not issued by the CA in ${s.caFile}`);
  const identity = callerFromUris(sanUris(x509.subjectAltName));
  if (!identity)
    throw new TlsConfigError(`${s.certFile} carries no Prism identity (one URI SAN spiffe://prism/<service>)`);
  return { cert, key, ca, identity, serial: x509.serialNumber, notAfter: new Date(x509.validTo) };
}

function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/**
 * A grpc-js certificate provider over the mTLS files, re-read every `refreshMs`: a renewed
 * certificate (cert-manager rewrites the mounted Secret; locally, the generator rewrites the files)
 * is used for new connections without a restart. A half-written or mismatched set is ignored and the
 * last good one kept, so a rotation never breaks a handshake.
 */
export class MtlsFileProvider implements experimental.CertificateProvider {
  private current: MtlsMaterial;
  private readonly caListeners = new Set<experimental.CaCertificateUpdateListener>();
  private readonly identityListeners = new Set<experimental.IdentityCertificateUpdateListener>();
  private timer: NodeJS.Timeout | undefined;
  private readonly changeListeners = new Set<(m: MtlsMaterial) => void>();

  constructor(
    private readonly settings: MtlsSettings,
    private readonly refreshMs: number = MTLS_REFRESH_SECONDS * 1000,
    private readonly log?: Logger,
  ) {
    this.current = loadMtlsMaterial(settings);
  }

  get material(): MtlsMaterial {
    return this.current;
  }

  /** Called after each accepted rotation (for logs and for clients that build their own TLS contexts). */
  onChange(fn: (m: MtlsMaterial) => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  /** Reads the files now; true when they changed and were taken. */
  refresh(): boolean {
    let next: MtlsMaterial;
    try {
      next = loadMtlsMaterial(this.settings);
    } catch (e) {
      this.log?.warn({ err: (e as Error).message }, 'mTLS files unusable; keeping the current certificate');
      return false;
    }
    const c = this.current;
    if (next.cert.equals(c.cert) && next.key.equals(c.key) && next.ca.equals(c.ca)) return false;
    if (next.identity.uri !== c.identity.uri) {
      this.log?.error(
        { was: c.identity.uri, now: next.identity.uri },
        'renewed mTLS certificate names another identity; keeping the current one',
      );
      return false;
    }
    this.current = next;
    this.log?.info(
      { identity: next.identity.uri, serial: next.serial, notAfter: next.notAfter.toISOString() },
      'mTLS certificate renewed',
    );
    for (const l of this.caListeners) l({ caCertificate: next.ca });
    for (const l of this.identityListeners) l({ certificate: next.cert, privateKey: next.key });
    for (const l of this.changeListeners) l(next);
    return true;
  }

  private watch(): void {
    if (this.timer || this.caListeners.size + this.identityListeners.size === 0) return;
    this.timer = setInterval(() => this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  private unwatch(): void {
    if (this.caListeners.size + this.identityListeners.size > 0 || !this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  addCaCertificateListener(l: experimental.CaCertificateUpdateListener): void {
    this.caListeners.add(l);
    // Later, not now: grpc-js registers its watchers only after adding the listener.
    queueMicrotask(() => this.caListeners.has(l) && l({ caCertificate: this.current.ca }));
    this.watch();
  }
  removeCaCertificateListener(l: experimental.CaCertificateUpdateListener): void {
    this.caListeners.delete(l);
    this.unwatch();
  }
  addIdentityCertificateListener(l: experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.add(l);
    queueMicrotask(
      () => this.identityListeners.has(l) && l({ certificate: this.current.cert, privateKey: this.current.key }),
    );
    this.watch();
  }
  removeIdentityCertificateListener(l: experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.delete(l);
    this.unwatch();
  }

  /** Stops re-reading (the timer is unref'd anyway, so it never holds the process open). */
  close(): void {
    this.caListeners.clear();
    this.identityListeners.clear();
    this.unwatch();
  }
}

/** The verified caller of a gRPC call: undefined without a client certificate the CA issued. */
export function callerOf(call: {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate | undefined };
}): CallerIdentity | undefined {
  // grpc-js reports a peer certificate only when the TLS handshake verified it against the CA.
  const cert = call.getAuthContext().sslPeerCertificate;
  return cert ? callerFromUris(sanUris(cert.subjectaltname)) : undefined;
}

/**
 * The per-method authorization of the contract's GRPC_ACCESS table, as a server interceptor:
 * no verified certificate is UNAUTHENTICATED; a verified identity the table does not allow for the
 * method (or a method missing from the table) is PERMISSION_DENIED. Refusals are logged and counted.
 */
function authorizationInterceptor(deps: { log: Logger; metrics: ServiceMetrics }): grpc.ServerInterceptor {
  return (descriptor, call) => {
    const path = descriptor.path;
    const caller = callerOf(call);
    const allowed = allowedCallers(path);
    let refusal: { code: grpc.status; details: string } | undefined;
    if (!caller)
      refusal = {
        code: grpc.status.UNAUTHENTICATED,
        details: 'a client certificate issued by the platform CA is required',
      };
    else if (allowed === undefined || (allowed !== 'any-verified' && !allowed.includes(caller.role))) {
      refusal = { code: grpc.status.PERMISSION_DENIED, details: `${caller.name} may not call ${path}` };
    }
    if (!refusal) return new grpc.ServerInterceptingCall(call);
    const method = path.slice(path.lastIndexOf('/') + 1);
    deps.log.warn(
      { method: path, caller: caller?.uri ?? null, peer: call.getPeer(), code: grpc.status[refusal.code] },
      'gRPC call refused',
    );
    deps.metrics.grpcRequests.inc({ method, code: grpc.status[refusal.code] });
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((_md, _next) => call.sendStatus({ ...refusal, metadata: new grpc.Metadata() }))
      .build();
    return new grpc.ServerInterceptingCall(
      call,
      new grpc.ResponderBuilder().withStart((next) => next(listener)).build(),
    );
  };
}

let ipServerNameWarningDropped = false;
/**
 * grpc-js always sends the target's host as the TLS server name, an IP address too (127.0.0.1 on the local
 * platform), and offers no way to leave it out; Node then prints DEP0123 at every start. The server is still
 * checked against that IP (its IP SAN) and its URI SAN: only this one warning is dropped, every other reaches
 * the listeners that were there (Node's own printing).
 */
function dropIpServerNameWarning(): void {
  if (ipServerNameWarningDropped) return;
  ipServerNameWarningDropped = true;
  const listeners = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (w: Error & { code?: string }) => {
    if (w.code !== 'DEP0123') for (const l of listeners) l(w);
  });
}

/** Server credentials: TLS from the provider, client certificates requested and verified, authorization per method. */
export function mtlsServerCredentials(
  provider: MtlsFileProvider,
  deps: { log: Logger; metrics: ServiceMetrics },
): grpc.ServerCredentials {
  // Certificates are requested and verified against the CA, but a handshake without one is not cut:
  // the interceptor answers it UNAUTHENTICATED, a clearer error than a failed handshake.
  const tls = grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false);
  return grpc.experimental.createServerCredentialsWithInterceptors(tls, [authorizationInterceptor(deps)]);
}

/**
 * Client credentials presenting this workload's certificate; the server must prove both the host
 * name it is reached by and, when `peer` is given, that it is that Prism service (its URI SAN).
 */
export function mtlsClientCredentials(provider: MtlsFileProvider, peer?: ServiceName): grpc.ChannelCredentials {
  dropIpServerNameWarning();
  return grpc.experimental.createCertificateProviderChannelCredentials(provider, provider, {
    checkServerIdentity: serverIdentityCheck(peer ? workloadSpiffeId(peer) : undefined),
  });
}

/** The error code of a server whose certificate does not carry the identity the client expects. */
export const PEER_IDENTITY_ERROR = 'ERR_PRISM_PEER_IDENTITY';

/**
 * A TLS `checkServerIdentity`: the host name as Node checks it and, when `expectedUri` is given, that URI
 * SAN (`spiffe://prism/auth`): a certificate of the same CA issued to another workload is refused.
 */
export function serverIdentityCheck(
  expectedUri: string | undefined,
): (host: string, cert: PeerCertificate) => Error | undefined {
  return (host, cert) => {
    const hostError = checkServerIdentity(host, cert);
    if (hostError) return hostError;
    if (expectedUri && !sanUris(cert.subjectaltname).includes(expectedUri)) {
      return Object.assign(new Error(`server ${host} is not ${expectedUri}`), { code: PEER_IDENTITY_ERROR });
    }
    return undefined;
  };
}
