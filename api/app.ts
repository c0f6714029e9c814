/**
 * The Hono app: every route composed in order, in one place. No runtime specifics here — the
 * entry points in runtimes/ build the services and serve this app on Node, Vercel or Workers.
 */
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import type { Services } from './context';
import type { AppEnv } from './app-env';
import { AppError } from './errors';
import { requireUser } from './middleware/require-user';
import { rewriteRoutes } from './routes/rewrite';
import { usageRoutes } from './routes/usage';
import { healthRoutes } from './routes/health';
import { devRoutes } from './routes/dev';
import { metricsRoutes } from './routes/metrics';
import { requestLog } from './middleware/request-log';
import { requestId } from './middleware/request-id';
import { noStore } from './middleware/no-store';
import { billingRoutes } from './routes/billing';
import { webhookRoutes } from './routes/webhooks';
import { stripeEventRoutes } from './routes/stripe-events';
import { internalRoutes } from './routes/internal';
import { styleRoutes } from './routes/styles';
import { settingsRoutes } from './routes/settings';
import { bodyLimit } from './middleware/body-limit';
import { accountLimit } from './middleware/account-limit';

export interface AppOptions {
  /**
   * A streamed rewrite declares `Transfer-Encoding: chunked`. On @hono/node-server that makes the response head
   * go out with the first text at once; without it the server reads ahead (a timer tick) to see whether it
   * can send a Content-Length instead. Set by the Node entry point (api/runtimes/node.ts) only.
   */
  chunkedStreams?: boolean;
}

export function createApp(s: Services, opts: AppOptions = {}) {
  const app = new Hono<AppEnv>();
  app.use('*', requestId());
  app.use('*', requestLog(s));
  app.use('*', noStore());

  if (s.config.allowedOrigins.length > 0) {
    app.use(
      '*',
      cors({
        origin: s.config.allowedOrigins,
        allowHeaders: ['Authorization', 'Content-Type'],
        exposeHeaders: [
          'X-Request-Id',
          'X-Tokens-Remaining',
          'X-Model',
          'RateLimit-Limit',
          'RateLimit-Remaining',
          'RateLimit-Reset',
          'Retry-After',
        ],
        maxAge: 600,
      }),
    );
  }

  const { config } = s;
  const maxBodyBytes = config.limits.maxBodyBytes;
  app.route('/', healthRoutes(s));
  app.route('/', metricsRoutes({ metrics: s.metrics, metricsToken: config.metricsToken }));
  app.route('/', webhookRoutes({ ...s, meteredPriceId: config.billing?.prices.metered }));
  app.route('/', stripeEventRoutes({ ...s, thinWebhookSecret: config.billing?.thinWebhookSecret }));
  app.route('/', internalRoutes({ ...s, cronSecret: config.reporter.cronSecret }));
  if (config.auth.devAuth && s.devIssuer) app.route('/', devRoutes(s.devIssuer, config.auth.authorizedParties));

  app.use('/v1/*', requireUser(s.verifySession));
  // Every /v1 body is capped as it streams (routes that read one get these bytes).
  app.use('/v1/*', bodyLimit({ maxBytes: maxBodyBytes }));
  // Usage, billing (each billing call goes to Stripe), styles and settings share a per-user window of their own.
  const account = accountLimit({
    rateLimits: s.rateLimits,
    accountRequestsPerMinute: config.limits.accountRequestsPerMinute,
  });
  app.use('/v1/usage', account);
  app.use('/v1/billing/*', account);
  app.route(
    '/',
    rewriteRoutes({ rewrites: s.rewrites, limits: config.limits, chunkedStream: opts.chunkedStreams ?? false }),
  );
  app.route(
    '/',
    usageRoutes({ ...s, billingEnabled: config.billing !== undefined, maxTextChars: config.limits.maxTextChars }),
  );
  app.route('/', billingRoutes(s));
  app.use('/v1/styles/*', account); // also matches /v1/styles itself
  app.use('/v1/settings', account);
  app.route('/', styleRoutes({ ...s, maxBodyBytes }));
  app.route('/', settingsRoutes({ ...s, maxBodyBytes }));

  app.notFound((c) =>
    c.json({ error: { code: 'not_found', message: `No route for ${c.req.method} ${c.req.path}.` } }, 404),
  );
  app.onError((err, c) => {
    if (err instanceof AppError) {
      if (err.status >= 500) s.log({ level: 'warn', msg: err.message, code: err.code, cause: String(err.cause ?? '') });
      return c.json(err.toBody(), err.status, err.headers);
    }
    s.log({
      level: 'error',
      msg: 'unhandled error',
      path: c.req.path,
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
    return c.json(
      {
        error: { code: 'internal', message: 'Something went wrong on our side. Nothing was charged for this request.' },
      },
      500,
    );
  });

  return app;
}
