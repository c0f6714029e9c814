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
import type { StripeGateway } from './billing/stripe';
import type { EntitlementStore } from './billing/entitlements';
import type { ReportRunner } from './billing/schedule';

/** Present only when billing is enabled (STRIPE_SECRET_KEY set). */
export interface BillingServices {
  gateway: StripeGateway;
  entitlements: EntitlementStore;
  reports: ReportRunner;
}

export interface Services {
  config: Config;
  verifySession: SessionVerifier;
  devIssuer: DevIssuer | undefined;
  rateLimits: RateLimits;
  quota: QuotaStore;
  usage: UsageReader;
  model: LanguageModel;
  billing: BillingServices | undefined;
  /** Liveness probes for /health. */
  probes: { redis: () => Promise<void>; model: () => Promise<void> };
  now: () => number;
  /** Keeps a promise alive after the response on runtimes that need it (Workers' waitUntil). */
  log: (line: Record<string, unknown>) => void;
}

export type AppEnv = {
  Variables: { user: SessionUser; requestId: string };
};
