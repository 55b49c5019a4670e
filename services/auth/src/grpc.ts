import { GRPC_APIS } from '#contract';
import { GrpcError, grpc, loadProto, unary } from '../../runtime/src/index.js';
import type { AuthServiceHandlers } from '../../runtime/src/proto/prism/auth/v1/AuthService.js';
import { getUser } from './accounts.js';
import { validateApiKey } from './api-keys.js';
import type { AuthContext } from './context.js';
import { DependencyUnavailable } from './errors.js';
import { authenticate } from './sessions.js';
import { InvalidToken } from './tokens.js';

export const AUTH_GRPC_SERVICE = GRPC_APIS.auth.service;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Dependency outages become UNAVAILABLE, which the gateway treats as retryable. */
async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof DependencyUnavailable)
      throw new GrpcError(grpc.status.UNAVAILABLE, 'auth storage temporarily unavailable');
    throw e;
  }
}

/** Adds prism.auth.v1.AuthService (services/proto/prism/auth/v1/auth.proto) to `server`. */
export function addAuthService(server: grpc.Server, ctx: AuthContext): void {
  const Auth = loadProto(GRPC_APIS.auth.proto).prism.auth.v1.AuthService;
  const deps = { log: ctx.log, metrics: ctx.metrics };
  server.addService(Auth.service, {
    ValidateToken: unary('ValidateToken', deps, ({ token }: { token: string }) =>
      guarded(async () => {
        try {
          const c = await authenticate(ctx, token);
          return { valid: true, userId: c.sub, roles: [...c.roles], scopes: [], expiresAt: c.exp, reason: '' };
        } catch (e) {
          if (e instanceof InvalidToken)
            return { valid: false, userId: '', roles: [], scopes: [], expiresAt: 0, reason: e.reason };
          throw e;
        }
      }),
    ),
    ValidateApiKey: unary('ValidateApiKey', deps, ({ apiKey }: { apiKey: string }) =>
      guarded(async () => {
        const r = await validateApiKey(ctx, apiKey);
        return r.valid
          ? { valid: true, keyId: r.keyId, userId: r.userId, scopes: r.scopes, expiresAt: r.expiresAt, reason: '' }
          : { valid: false, keyId: '', userId: '', scopes: [], expiresAt: 0, reason: r.reason };
      }),
    ),
    GetUser: unary('GetUser', deps, ({ userId }: { userId: string }) =>
      guarded(async () => {
        if (!UUID.test(userId)) throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'user_id must be a UUID');
        const u = await getUser(ctx, userId);
        if (!u) throw new GrpcError(grpc.status.NOT_FOUND, `no user ${userId}`);
        return {
          id: u.id,
          email: u.email,
          displayName: u.display_name ?? '',
          roles: u.roles,
          disabled: u.status !== 'active',
          createdAt: Math.floor(Date.parse(u.created_at) / 1000),
        };
      }),
    ),
  } satisfies AuthServiceHandlers);
}
