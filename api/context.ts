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

export interface Services {
  config: Config;
  verifySession: SessionVerifier;
  devIssuer: DevIssuer | undefined;
  rateLimits: RateLimits;
  quota: QuotaStore;
  usage: UsageReader;
  model: LanguageModel;
  /** Liveness probes for /health. */
  probes: { redis: () => Promise<void>; model: () => Promise<void> };
  now: () => number;
  /** Keeps a promise alive after the response on runtimes that need it (Workers' waitUntil). */
  log: (line: Record<string, unknown>) => void;
}

export type AppEnv = {
  Variables: { user: SessionUser; requestId: string };
};
