/**
 * GET /metrics — Prometheus text format. With METRICS_TOKEN set (required in production), a scraper
 * must send it as a bearer token; without it the endpoint is open (it holds counts, never user ids or text).
 */
import { Hono } from 'hono';
import type { Services } from '../context';
import type { AppEnv } from '../app-env';
import { bearer } from '../middleware/bearer';

export type MetricsRouteDeps = Pick<Services, 'metrics'> & { metricsToken: string | undefined };

export function metricsRoutes(s: MetricsRouteDeps) {
  const app = new Hono<AppEnv>();
  app.get('/metrics', bearer({ secret: s.metricsToken, name: 'METRICS_TOKEN' }), (c) => {
    return c.body(s.metrics.render(), 200, {
      'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
      'Cache-Control': 'no-store',
    });
  });
  return app;
}
