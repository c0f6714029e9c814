/**
 * GET /metrics — Prometheus text format. With METRICS_TOKEN set (required in production), a scraper
 * must send it as a bearer token; without it the endpoint is open (it holds counts, never user ids or text).
 */
import { Hono } from 'hono';
import type { AppEnv, Services } from '../context';
import { requireBearer } from '../http/bearer';

export function metricsRoutes(s: Services) {
  const app = new Hono<AppEnv>();
  app.get('/metrics', requireBearer(s.config.metricsToken, 'METRICS_TOKEN'), (c) => {
    return c.body(s.metrics.render(), 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Cache-Control': 'no-store' });
  });
  return app;
}
