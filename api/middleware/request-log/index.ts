/**
 * One JSON log line per request (request id, user, route, status, error code, latency) and the HTTP
 * metrics. A streamed rewrite defers its line to the settlement, which adds tokens, cost and outcome. The id
 * comes from requestId() (../request-id), which runs before it.
 */
import { createMiddleware } from 'hono/factory';
import { routePath } from 'hono/route';
import type { AppEnv } from '../../app-env';
import { AppError } from '../../errors';
import type { Log } from '../../observe/log';
import type { Metrics } from '../../observe/metrics';

export function requestLog(s: { log: Log; metrics: Pick<Metrics, 'inc' | 'observe'> }) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const t0 = performance.now();
    await next();
    const matched = routePath(c, -1);
    const route = matched === '*' ? 'unmatched' : matched;
    const seconds = (performance.now() - t0) / 1000;
    const err = c.error;
    const code = err instanceof AppError ? err.code : err ? 'internal' : c.res.status === 404 ? 'not_found' : '';
    s.metrics.inc('redraft_http_requests_total', { route, status: String(c.res.status), code });
    s.metrics.observe('redraft_http_request_duration_seconds', { route }, seconds);
    if (c.get('deferLog')) return;
    s.log({
      msg: 'request',
      requestId: c.get('requestId'),
      method: c.req.method,
      route,
      status: c.res.status,
      user: c.get('user')?.userId,
      ...(code ? { code } : {}),
      latencyMs: Math.round(seconds * 1000),
    });
  });
}
