/**
 * The Hono app: every route composed in order, in one place. No runtime specifics here — the
 * entry points in runtimes/ build the services and serve this app on Node, Vercel or Workers.
 */
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import type { AppEnv, Services } from './context';
import { AppError } from './errors';
import { requireUser } from './auth/middleware';
import { rewriteRoutes } from './routes/rewrite';
import { usageRoutes } from './routes/usage';
import { healthRoutes } from './routes/health';
import { devRoutes } from './routes/dev';
import { metricsRoutes } from './routes/metrics';
import { requestLog } from './observe/request-log';
import { billingRoutes } from './routes/billing';
import { webhookRoutes } from './routes/webhooks';
import { stripeEventRoutes } from './routes/stripe-events';
import { internalRoutes } from './routes/internal';

export function createApp(s: Services) {
  const app = new Hono<AppEnv>();
  app.use('*', requestLog(s));

  if (s.config.allowedOrigins.length > 0) {
    app.use('*', cors({ origin: s.config.allowedOrigins, allowHeaders: ['Authorization', 'Content-Type'], exposeHeaders: ['X-Request-Id', 'X-Tokens-Remaining', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Retry-After'], maxAge: 600 }));
  }

  app.route('/', healthRoutes(s));
  app.route('/', metricsRoutes(s));
  app.route('/', webhookRoutes(s));
  app.route('/', stripeEventRoutes(s));
  app.route('/', internalRoutes(s));
  if (s.config.auth.devAuth && s.devIssuer) app.route('/', devRoutes(s.devIssuer, s.config.auth.authorizedParties));

  app.use('/v1/*', requireUser(s.verifySession));
  app.route('/', rewriteRoutes(s));
  app.route('/', usageRoutes(s));
  app.route('/', billingRoutes(s));

  app.notFound((c) => c.json({ error: { code: 'not_found', message: `No route for ${c.req.method} ${c.req.path}.` } }, 404));
  app.onError((err, c) => {
    if (err instanceof AppError) {
      if (err.status >= 500) s.log({ level: 'warn', msg: err.message, code: err.code, cause: String((err as { cause?: unknown }).cause ?? '') });
      return c.json(err.toBody(), err.status, err.headers);
    }
    s.log({ level: 'error', msg: 'unhandled error', path: c.req.path, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    return c.json({ error: { code: 'internal', message: 'Something went wrong on our side. Nothing was charged for this request.' } }, 500);
  });

  return app;
}
