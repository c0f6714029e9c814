/**
 * The services the routes use, behind narrow interfaces, and Hono's typed context.
 */
import type { LanguageModel } from 'ai';
import type { Config } from './config/env';
import type { SessionUser, SessionVerifier } from './auth/verify';
import type { DevIssuer } from './auth/dev-issuer';
import type { RateLimits } from './limits/rate-limits';
import type { QuotaStore } from './metering/quota';
import type { UsageReader } from './metering/ledger';
import type { Metrics } from './observe/metrics';
import type { Inflight } from './model/inflight';
import type { StripeGateway } from './billing/stripe';
import type { EntitlementStore } from './billing/entitlements';
import type { ReportRunner } from './billing/schedule';
import type { StyleStore } from './account/styles';
import type { SettingsStore } from './account/settings';
import type { MeterErrorStore } from './billing/meter-errors';

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
  /** Saved styles (brand voice) and the user's settings (overage spending cap). */
  styles: StyleStore;
  settings: SettingsStore;
  /** The per-user window of the styles and settings routes. */
  model: LanguageModel;
  billing: BillingServices | undefined;
  /** Liveness probes for /health. */
  probes: { redis: () => Promise<void>; model: () => Promise<void> };
  now: () => number;
  /** Structured logs: one JSON object per line. */
  log: (line: Record<string, unknown>) => void;
  metrics: Metrics;
  /** Model streams in progress (graceful shutdown drains them). */
  inflight: Inflight;
}

export type AppEnv = {
  /** requestId: this request's id (a rewrite's may come from its body); deferLog: a streamed rewrite logs at settlement. */
  Variables: { user: SessionUser; requestId: string; deferLog: boolean };
};
