import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { HEALTH_PATHS } from '#contract';
import type { Health } from './health.js';
import type { ServiceMetrics } from './metrics.js';

/**
 * The metrics and health server (PRISM_METRICS_PORT): `/metrics`, `/health/live`, `/health/ready`.
 * Liveness only says the event loop answers; readiness runs the dependency checks.
 */
export function createAdminServer(health: Health, metrics: ServiceMetrics): Server {
  // The handler answers every error itself (the catch below), so nothing awaits its promise.
  const server = createServer((req, res) => void respond(req, res));
  async function respond(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0];
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
      } else if (path === HEALTH_PATHS.live) {
        json(res, 200, { status: 'ok' });
      } else if (path === HEALTH_PATHS.ready) {
        const r = await health.readiness();
        json(res, r.ready ? 200 : 503, {
          status: r.ready ? 'ok' : r.draining ? 'draining' : 'unavailable',
          checks: r.checks,
        });
      } else if (path === HEALTH_PATHS.metrics) {
        const body = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body);
      } else {
        json(res, 404, { error: 'not found' });
      }
    } catch (e) {
      json(res, 500, { error: 'internal error' });
    }
  }
  // Probes must not keep the process alive during shutdown.
  server.keepAliveTimeout = 2_000;
  return server;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(text);
}
