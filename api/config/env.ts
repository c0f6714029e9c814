/**
 * Configuration: read once at start-up from the runtime's environment, validated, frozen. A wrong variable
 * stops the process with a message that names it. The sections are declared once (./sections.ts); each
 * program loads the sections it needs with the one loader here: the API (loadConfig), the billing jobs
 * (report-usage, reconcile: loadJobConfig), the read-only operator scripts (margin: loadRedisJobConfig) and
 * npm run stripe:setup (loadStripeSetupConfig).
 */
import type { z } from 'zod';
import {
  authSection,
  billingSection,
  envSection,
  httpSection,
  jobBillingSection,
  ledgerRetentionSection,
  limitsSection,
  priceRefreshSection,
  metricsTokenSection,
  modelSection,
  originsSection,
  redisSection,
  reporterSection,
  shutdownSection,
  stripeAccountSection,
} from './sections';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Sections = Record<string, z.ZodType>;
/** The typed configuration of a set of sections: each key is its section's output. */
export type Loaded<S extends Sections> = { readonly [K in keyof S]: z.output<S[K]> };

/**
 * The one loader: every section reads the same environment; the problems of all of them are listed at once
 * (ConfigError), each naming its variable. The result is frozen.
 */
export function loadSections<S extends Sections>(sections: S, env: Record<string, string | undefined>): Loaded<S> {
  const out: Record<string, unknown> = {};
  const problems = new Set<string>();
  for (const [name, schema] of Object.entries(sections)) {
    const parsed = schema.safeParse(env);
    if (parsed.success) out[name] = parsed.data;
    else for (const i of parsed.error.issues) problems.add(`${i.path.join('.') || '(env)'} ${i.message}`);
  }
  if (problems.size > 0) throw new ConfigError([...problems]);
  return Object.freeze(out) as Loaded<S>;
}

const API = {
  env: envSection,
  redis: redisSection,
  model: modelSection,
  auth: authSection,
  allowedOrigins: originsSection,
  limits: limitsSection,
  ledgerRetentionDays: ledgerRetentionSection,
  priceRefreshMs: priceRefreshSection,
  shutdownGraceMs: shutdownSection,
  http: httpSection,
  metricsToken: metricsTokenSection,
  billing: billingSection,
  reporter: reporterSection,
};
const JOB = { env: envSection, redis: redisSection, billing: jobBillingSection, reporter: reporterSection };
const REDIS_JOB = { env: envSection, redis: redisSection };
const STRIPE_SETUP = { billing: stripeAccountSection };

/** The API's configuration. */
export type Config = Loaded<typeof API>;
/** Undefined in Config when STRIPE_SECRET_KEY is not set: billing disabled, everyone on the free plan. */
export type BillingConfig = NonNullable<Config['billing']>;
export type ReporterConfig = Config['reporter'];
/** What the billing jobs (npm run report-usage, npm run reconcile) need: Redis and Stripe, not the model or auth. */
export type JobConfig = Loaded<typeof JOB>;
/** What the read-only operator scripts need (npm run margin): Redis, nothing of Stripe, the model or auth. */
export type RedisJobConfig = Loaded<typeof REDIS_JOB>;
/** What `npm run stripe:setup` needs: the key (and where Stripe is). The price ids are its output. */
export type StripeSetupConfig = Loaded<typeof STRIPE_SETUP>;

export const loadConfig = (env: Record<string, string | undefined>): Config => loadSections(API, env);
export const loadJobConfig = (env: Record<string, string | undefined>): JobConfig => loadSections(JOB, env);
export const loadRedisJobConfig = (env: Record<string, string | undefined>): RedisJobConfig =>
  loadSections(REDIS_JOB, env);
export const loadStripeSetupConfig = (env: Record<string, string | undefined>): StripeSetupConfig =>
  loadSections(STRIPE_SETUP, env);
