/**
 * Wires configuration to real services (Redis, rate limits, quota, model, auth). Tests and runtimes
 * call this; tests may override single services.
 */
import type { Config } from './config/env';
import type { Services } from './context';
import { createRedis } from './store/redis';
import { createRateLimits } from './limits/rate-limits';
import { createQuotaStore } from './metering/quota';
import { createUsageReader } from './metering/ledger';
import { createModelRegistry, probeProvider } from './model/provider';
import { createModelRouter } from './model/router';
import { createSessionVerifier } from './auth/verify';
import { createDevIssuer, DEV_ISSUER } from './auth/dev-issuer';
import { createApiMetrics } from './observe/metrics';
import { createInflight } from './model/inflight';
import { createStripeGateway, type StripeGateway } from './billing/stripe/gateway';
import { createEntitlementStore } from './billing/entitlements/entitlements';
import { createReportStore } from './billing/reporting/store';
import { createReportRunner } from './billing/reporting/schedule';
import { createStyleStore } from './account/styles';
import { createSettingsStore } from './account/settings';
import { createMeterErrorStore } from './billing/reporting/meter-errors';
import { createRewriteService } from './rewrite/service';
import { createPriceBook } from './metering/prices';
import { routedModels } from './config/models';

export interface ServiceOptions {
  /** @upstash/ratelimit's in-memory cache of blocked ids (default on; tests that flush Redis turn it off). */
  ephemeralCache?: boolean;
  now?: () => number;
  log?: (line: Record<string, unknown>) => void;
  /** Replaces the Stripe gateway (tests). */
  stripeGateway?: StripeGateway;
}

export async function createServices(config: Config, opts: ServiceOptions = {}): Promise<Services> {
  const redis = createRedis(config.redis);
  const devIssuer = config.auth.devAuth ? await createDevIssuer() : undefined;
  const jwtKey = devIssuer?.publicKeyPem ?? config.auth.jwtKey;
  if (!jwtKey) throw new Error('no JWT key: set CLERK_JWT_KEY (or DEV_AUTH=1 locally)');
  const log = opts.log ?? ((line) => console.log(JSON.stringify({ time: new Date().toISOString(), ...line })));

  const metrics = createApiMetrics();
  let billing: Services['billing'];
  if (config.billing) {
    const gateway = opts.stripeGateway ?? createStripeGateway(config.billing);
    const [entitlements, reportStore, meterErrors] = await Promise.all([
      createEntitlementStore(redis, { periodEndFlushDelayMs: config.reporter.periodEndFlushDelayMs }),
      createReportStore(redis),
      createMeterErrorStore(redis),
    ]);
    const reports = createReportRunner(redis, reportStore, gateway, {
      concurrency: config.reporter.concurrency,
      periodEndFlushDelayMs: config.reporter.periodEndFlushDelayMs,
      log,
      metrics,
      now: opts.now ?? Date.now,
    });
    billing = { gateway, entitlements, reports, meterErrors };
  }

  const rateLimits = createRateLimits(redis, {
    requestsPerMinute: config.limits.requestsPerMinute,
    tokensPerMinute: config.limits.tokensPerMinute,
    accountRequestsPerMinute: config.limits.accountRequestsPerMinute,
    timeoutMs: config.redis.timeoutMs,
    ephemeralCache: opts.ephemeralCache,
  });
  const quota = await createQuotaStore(redis, {
    requestTtlSeconds: 7 * 86_400,
    abandonAfterMs: config.model.totalTimeoutMs + 5 * 60_000,
    ledgerRetentionDays: config.ledgerRetentionDays,
  });
  const styles = await createStyleStore(redis);
  const inflight = createInflight();
  const now = opts.now ?? Date.now;
  const router = createModelRouter(
    config.model.routes,
    createModelRegistry(config.model.providers, { coalesceMs: config.model.coalesceMs }),
    {
      ...config.model.breaker,
      now,
      metrics,
    },
  );
  const prices = createPriceBook(redis, {
    models: routedModels(config.model.routes),
    refreshMs: config.priceRefreshMs,
    now,
    log,
    metrics,
  });
  const rewrites = createRewriteService({
    prices,
    styles,
    rateLimits,
    quota,
    router,
    inflight,
    now,
    log,
    metrics,
    limits: config.limits,
    modelOptions: config.model,
  });

  return {
    config,
    verifySession: createSessionVerifier({
      jwtKey,
      authorizedParties: config.auth.authorizedParties,
      issuer: devIssuer ? DEV_ISSUER : config.auth.issuer,
    }),
    devIssuer,
    rateLimits,
    quota,
    usage: createUsageReader(redis),
    prices,
    styles,
    settings: await createSettingsStore(redis),
    router,
    rewrites,
    billing,
    probes: {
      redis: async () => {
        if ((await redis.ping()) !== 'PONG') throw new Error('unexpected PING reply');
      },
      // Every configured provider answers (with fallback a request may still be served when one does not).
      model: async () => {
        await Promise.all(Object.values(config.model.providers).map((p) => probeProvider(p)));
      },
    },
    now,
    log,
    metrics,
    inflight,
  };
}
