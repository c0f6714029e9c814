/**
 * GET /metrics — Prometheus text format. With METRICS_TOKEN set, a scraper must send it as a bearer
 * token; without it the endpoint is open (it holds counts, never user ids or text).
 */
import { Hono } from 'hono';
import type { AppEnv, Services } from '../context';
import { AppError } from '../errors';

export function metricsRoutes(s: Services) {
  const app = new Hono<AppEnv>();
  app.get('/metrics', (c) => {
    const token = s.config.metricsToken;
    if (token && c.req.header('Authorization') !== `Bearer ${token}`) throw new AppError('unauthenticated', 'GET /metrics needs "Authorization: Bearer <METRICS_TOKEN>".');
    return c.body(s.metrics.render(), 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Cache-Control': 'no-store' });
  });
  return app;
}
