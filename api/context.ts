/**
 * The services of one API instance, behind narrow interfaces: built once (services.ts), each route and
 * middleware takes only the members it uses (a Pick of this, see app.ts). Nothing it imports imports it back.
 */
import type { Config } from './config/env';
import type { SessionVerifier } from './auth/verify';
import type { DevIssuer } from './auth/dev-issuer';
import type { RateLimits } from './limits/rate-limits';
import type { QuotaStore } from './metering/quota';
import type { UsageReader } from './metering/ledger';
import type { Metrics } from './observe/metrics';
import type { Inflight } from './model/inflight';
import type { ModelRouter } from './model/router';
import type { StripeGateway } from './billing/stripe/gateway';
import type { EntitlementStore } from './billing/entitlements/entitlements';
import type { ReportRunner } from './billing/reporting/schedule';
import type { StyleStore } from './account/styles';
import type { SettingsStore } from './account/settings';
import type { MeterErrorStore } from './billing/reporting/meter-errors';
import type { RewriteService } from './rewrite/service';
import type { Log } from './observe/log';
import type { PriceBook } from './metering/prices';

/** Present only when billing is enabled (STRIPE_SECRET_KEY set). */
export interface BillingServices {
  gateway: StripeGateway;
  entitlements: EntitlementStore;
  reports: ReportRunner;
  /** Stripe's asynchronous meter errors, tied to our batches. */
  meterErrors: MeterErrorStore;
}

export interface Services {
  config: Config;
  verifySession: SessionVerifier;
  devIssuer: DevIssuer | undefined;
  rateLimits: RateLimits;
  quota: QuotaStore;
  usage: UsageReader;
  /** Model prices: the repository's lists and those published to Redis (refreshed within PRICE_REFRESH_MS). */
  prices: PriceBook;
  /** Saved styles (brand voice) and the user's settings (overage spending cap). */
  styles: StyleStore;
  settings: SettingsStore;
  /** The routed models and their circuit breakers. */
  router: ModelRouter;
  /** One rewrite: reserve → stream → settle or release. */
  rewrites: RewriteService;
  billing: BillingServices | undefined;
  /** Liveness probes for /health. */
  probes: { redis: () => Promise<void>; model: () => Promise<void> };
  now: () => number;
  /** Structured logs: one JSON object per line. */
  log: Log;
  metrics: Metrics;
  /** Model streams in progress (graceful shutdown drains them). */
  inflight: Inflight;
}
