import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { serverIdentityCheck, type ServiceMetrics } from '../../runtime/src/index.js';
import { type CircuitBreaker, RetryBudget, breakerMetrics, classBreakers, type RouteClass } from './breaker.js';
import type { Route } from './settings.js';

// The gateway's upstreams, built once at startup from the routes: connection pools (with the mesh CA where
// configured), breakers and retry budgets, shared by the routes of one origin.

export interface Upstream {
  readonly route: Route;
  readonly pool: Pool;
  /** Per route class: anonymous requests cannot open the breaker signed-in users go through. */
  readonly breakers: Record<RouteClass, CircuitBreaker>;
  readonly budget: RetryBudget;
}

/** The CA bundle of a route's upstream; a missing or unreadable file is a startup error naming the route. */
function readCaFile(file: string, prefix: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(
      `gateway: route ${prefix}: cannot read ca_file ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      { cause: e },
    );
  }
}

/** Each route's upstream, by route name. */
export function upstreamsByRoute(
  routes: readonly Route[],
  metrics: ServiceMetrics,
  poolOptions: Pool.Options | undefined,
): Map<string, Upstream> {
  const byRoute = new Map<string, Upstream>();
  const breakerMetricSet = breakerMetrics([metrics.registry]);
  const pools = new Map<string, { pool: Pool; breakers: Record<RouteClass, CircuitBreaker>; budget: RetryBudget }>();
  for (const route of routes) {
    // One pool, pair of breakers and retry budget per upstream origin, shared by its routes.
    const key = `${route.origin} ${route.caFile ?? ''} ${route.serverIdentity ?? ''}`;
    let p = pools.get(key);
    if (!p) {
      // An https upstream with a CA file is verified against that CA only (the mesh CA), by its host name
      // and, with server_identity, by the workload identity in its certificate.
      const connect = route.caFile
        ? {
            connect: {
              ca: readCaFile(route.caFile, route.prefix),
              checkServerIdentity: serverIdentityCheck(route.serverIdentity),
            },
          }
        : {};
      p = {
        pool: new Pool(route.origin, {
          connections: 128,
          pipelining: 1,
          keepAliveTimeout: 4_000,
          ...connect,
          ...poolOptions,
        }),
        breakers: classBreakers(route.origin, route.breaker, breakerMetricSet),
        budget: new RetryBudget(),
      };
      pools.set(key, p);
    }
    byRoute.set(route.name, { route, ...p });
  }
  return byRoute;
}
