/**
 * Configuration: read once at start-up from the runtime's environment, validated, frozen.
 * A wrong variable stops the process with a message that names it.
 */
import { z } from 'zod';
import { PRICE_LISTS } from './model-prices';

const flag = z
  .enum(['1', '0', 'true', 'false', ''])
  .optional()
  .transform((v) => v === '1' || v === 'true');
const int = (def: number, min = 1) => z.coerce.number({ error: 'must be a whole number' }).int('must be a whole number').min(min).default(def);
const list = z
  .string()
  .optional()
  .transform((v) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean));
/** A required string variable, with what to put in it when it is missing. */
const required = (what: string) => z.string({ error: (i) => (i.input === undefined ? `is required: ${what}` : `must be ${what}`) }).min(1, `must not be empty: ${what}`);
const knownModels = [...new Set(PRICE_LISTS.flatMap((l) => Object.keys(l.models)))];

/** A URL variable; `what` says what belongs in it. */
const url = (what: string) => z.url({ message: `must be a URL: ${what}` });
/** An optional variable where an empty value (`STRIPE_SECRET_KEY=` in an env file) means "not set". */
const opt = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema.optional());

/** Needed by the API and by the billing jobs (report-usage, reconcile). */
const CommonShape = {
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  UPSTASH_REDIS_REST_URL: required('the Upstash Redis REST URL, e.g. https://eu1-xxx.upstash.io').pipe(z.url({ message: 'must be a URL, e.g. https://eu1-xxx.upstash.io' })),
  UPSTASH_REDIS_REST_TOKEN: required('the Upstash Redis REST token'),
  REDIS_TIMEOUT_MS: int(2000),
  MODEL_TOTAL_TIMEOUT_MS: int(180_000),
};

/**
 * Stripe billing. All optional here: without STRIPE_SECRET_KEY billing is disabled (everyone is on the
 * free plan); with it, the rest becomes required (checked in refineBilling).
 */
const BillingShape = {
  STRIPE_SECRET_KEY: opt(z.string().regex(/^(sk|rk)_(test|live)_\S+$/, 'must be a Stripe secret or restricted key (sk_live_…, sk_test_…, rk_…)')),
  STRIPE_WEBHOOK_SECRET: opt(z.string().regex(/^whsec_\S+$/, "must be the webhook endpoint's signing secret (whsec_…)")),
  STRIPE_THIN_WEBHOOK_SECRET: opt(z.string().regex(/^whsec_\S+$/, "must be the meter-error event destination's signing secret (whsec_…) printed by npm run stripe:setup")),
  STRIPE_PRICE_BASE: opt(z.string().regex(/^price_\S+$/, 'must be a price id (price_…) as printed by npm run stripe:setup')),
  STRIPE_PRICE_METERED: opt(z.string().regex(/^price_\S+$/, 'must be a price id (price_…) as printed by npm run stripe:setup')),
  STRIPE_METER_EVENT_NAME: z.string().regex(/^[A-Za-z0-9_]{1,100}$/, 'must be 1-100 characters of A-Z a-z 0-9 _').default('redraft_tokens'),
  STRIPE_API_BASE: opt(url('the Stripe API origin to use instead of https://api.stripe.com (a local stand-in in dev and tests)')),
  STRIPE_STAND_IN: flag,
  STRIPE_TIMEOUT_MS: int(10_000),
  CHECKOUT_SUCCESS_URL: opt(url('where Stripe Checkout sends the user after paying')),
  CHECKOUT_CANCEL_URL: opt(url('where Stripe Checkout sends the user who cancels')),
  PORTAL_RETURN_URL: opt(url('where the Stripe billing portal sends the user back to')),
  CRON_SECRET: opt(z.string().min(16, 'must be at least 16 characters (a random secret shared with your cron scheduler)')),
  REPORT_USAGE_INTERVAL_MINUTES: int(60, 0),
  REPORT_USAGE_CONCURRENCY: int(8),
};

type BillingEnv = z.infer<z.ZodObject<typeof BillingShape>> & { NODE_ENV: string };

function refineBilling(e: BillingEnv, ctx: z.RefinementCtx): void {
  if (e.STRIPE_SECRET_KEY) {
    const needed: [keyof BillingEnv, string][] = [
      ['STRIPE_WEBHOOK_SECRET', "the webhook endpoint's signing secret (Dashboard → Developers → Webhooks, or `stripe listen`)"],
      ['STRIPE_PRICE_BASE', 'the $20/month base price id printed by npm run stripe:setup'],
      ['STRIPE_PRICE_METERED', 'the metered token price id printed by npm run stripe:setup'],
      ['CHECKOUT_SUCCESS_URL', 'where Checkout sends the user after paying'],
      ['CHECKOUT_CANCEL_URL', 'where Checkout sends the user who cancels'],
      ['PORTAL_RETURN_URL', 'where the billing portal sends the user back to'],
    ];
    for (const [name, what] of needed) if (!e[name]) ctx.addIssue({ code: 'custom', path: [name], message: `is required with STRIPE_SECRET_KEY: ${what}` });
  }
  if (e.NODE_ENV === 'production') {
    if (e.STRIPE_API_BASE && !e.STRIPE_API_BASE.startsWith('https://')) ctx.addIssue({ code: 'custom', path: ['STRIPE_API_BASE'], message: 'must be https:// when NODE_ENV=production' });
    if (e.STRIPE_STAND_IN) ctx.addIssue({ code: 'custom', path: ['STRIPE_STAND_IN'], message: 'is refused when NODE_ENV=production' });
  }
}

const EnvSchema = z
  .object({
    ...CommonShape,
    OPENAI_API_KEY: required('an OpenAI API key (or any value for an OpenAI-compatible server that ignores it)'),
    OPENAI_BASE_URL: z.url().optional(),
    MODEL: z.string().refine((m) => knownModels.includes(m), { message: `must be a model with a price in api/config/model-prices.ts (${knownModels.join(', ')})` }).default('gpt-4o-mini'),
    MODEL_STAND_IN: flag,
    MODEL_MAX_RETRIES: int(1, 0),
    MODEL_FIRST_TOKEN_TIMEOUT_MS: int(20_000),
    CLERK_JWT_KEY: z.string().includes('-----BEGIN PUBLIC KEY-----', { message: 'must be the PEM public key from the Clerk dashboard (API keys → JWT public key)' }).optional(),
    CLERK_AUTHORIZED_PARTIES: list,
    CLERK_ISSUER: opt(z.url({ message: "must be your Clerk instance's Frontend API URL, e.g. https://clerk.example.com" })),
    DEV_AUTH: flag,
    ALLOWED_ORIGINS: list,
    MAX_TEXT_CHARS: int(20_000),
    MAX_BODY_BYTES: int(256 * 1024),
    RATE_LIMIT_RPM: int(60),
    RATE_LIMIT_TPM: int(200_000),
    RATE_LIMIT_ACCOUNT_RPM: int(120),
    LEDGER_RETENTION_DAYS: int(400),
    SHUTDOWN_GRACE_MS: int(25_000, 0),
    HOST: z.string().regex(/^[A-Za-z0-9.:_%-]{1,255}$/, 'must be an address or host name to listen on, e.g. 0.0.0.0 (every interface) or 127.0.0.1').default('0.0.0.0'),
    HTTP_HEADERS_TIMEOUT_MS: int(10_000),
    HTTP_REQUEST_TIMEOUT_MS: int(30_000),
    METRICS_TOKEN: opt(z.string().min(16, 'must be at least 16 characters')),
    ...BillingShape,
  })
  .superRefine((e, ctx) => {
    if (e.DEV_AUTH && e.NODE_ENV === 'production') ctx.addIssue({ code: 'custom', path: ['DEV_AUTH'], message: 'is refused when NODE_ENV=production (dev tokens would bypass Clerk)' });
    if (!e.DEV_AUTH && !e.CLERK_JWT_KEY) ctx.addIssue({ code: 'custom', path: ['CLERK_JWT_KEY'], message: 'is required (or DEV_AUTH=1 for local development only)' });
    if (e.MODEL_STAND_IN && e.NODE_ENV === 'production') ctx.addIssue({ code: 'custom', path: ['MODEL_STAND_IN'], message: 'is refused when NODE_ENV=production' });
    if (e.NODE_ENV === 'production') {
      // Without them any azp and any issuer signed by the key would pass, and /metrics would be open.
      const needed: [keyof typeof e, boolean, string][] = [
        ['CLERK_AUTHORIZED_PARTIES', e.CLERK_AUTHORIZED_PARTIES.length > 0, "the origins allowed in the token's azp, e.g. chrome-extension://<extension id> (comma-separated)"],
        ['CLERK_ISSUER', e.CLERK_ISSUER !== undefined, 'your Clerk Frontend API URL, e.g. https://clerk.example.com'],
        ['METRICS_TOKEN', e.METRICS_TOKEN !== undefined, 'a random secret of at least 16 characters; /metrics and /health details then need it as a bearer token'],
      ];
      for (const [name, set, what] of needed) if (!set) ctx.addIssue({ code: 'custom', path: [name], message: `is required when NODE_ENV=production: ${what}` });
    }
    if (e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS) ctx.addIssue({ code: 'custom', path: ['HTTP_HEADERS_TIMEOUT_MS'], message: 'must not be longer than HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)' });
    refineBilling(e, ctx);
  });

/** What the billing jobs (npm run report-usage, npm run reconcile) need: Redis and Stripe, nothing of the model or auth. */
const JobEnvSchema = z.object({ ...CommonShape, ...BillingShape }).superRefine((e, ctx) => {
  refineBilling(e, ctx);
  if (!e.STRIPE_SECRET_KEY) ctx.addIssue({ code: 'custom', path: ['STRIPE_SECRET_KEY'], message: 'is required for billing jobs (report-usage, reconcile)' });
});

export interface Config {
  env: 'development' | 'production' | 'test';
  redis: { url: string; token: string; timeoutMs: number };
  model: { id: string; apiKey: string; baseURL: string | undefined; standIn: boolean; maxRetries: number; firstTokenTimeoutMs: number; totalTimeoutMs: number };
  auth: { jwtKey: string | undefined; authorizedParties: string[]; issuer: string | undefined; devAuth: boolean };
  allowedOrigins: string[];
  /** accountRequestsPerMinute: /v1/usage and the billing routes, per user, in their own window. */
  limits: { maxTextChars: number; maxBodyBytes: number; requestsPerMinute: number; tokensPerMinute: number; accountRequestsPerMinute: number };
  ledgerRetentionDays: number;
  /** Node: how long a shutdown waits for streams in progress before cutting them. */
  shutdownGraceMs: number;
  /** Node server: where it listens, and how long a client may take to send its headers / its whole request (headers and body). */
  http: { host: string; headersTimeoutMs: number; requestTimeoutMs: number };
  /** Bearer token GET /metrics requires; open when unset. */
  metricsToken: string | undefined;
  /** Undefined when STRIPE_SECRET_KEY is not set: billing disabled, everyone on the free plan. */
  billing: BillingConfig | undefined;
  reporter: ReporterConfig;
}

export interface BillingConfig {
  secretKey: string;
  webhookSecret: string;
  /** Signing secret of the thin-event destination (asynchronous meter errors); without it they are not received. */
  thinWebhookSecret: string | undefined;
  prices: { base: string; metered: string };
  meterEventName: string;
  /** Where the SDK sends requests instead of api.stripe.com (the local stand-in in dev and tests). */
  api: { host: string; port: number; protocol: 'http' | 'https' } | undefined;
  /** True when STRIPE_STAND_IN=1: an offline Stripe-compatible stand-in, never real Stripe. */
  standIn: boolean;
  timeoutMs: number;
  urls: { checkoutSuccess: string; checkoutCancel: string; portalReturn: string };
}

export interface ReporterConfig {
  /** In-process schedule of full report passes; 0 turns the schedule off (cron or manual runs only). */
  intervalMinutes: number;
  /** Users reported in parallel. */
  concurrency: number;
  /** A period is flushed this long after it ends: every request reserved in it has settled by then. */
  periodEndFlushDelayMs: number;
  /** Bearer secret of POST /internal/report-usage; the route does not exist without it. */
  cronSecret: string | undefined;
}

export interface JobConfig {
  env: Config['env'];
  redis: Config['redis'];
  billing: BillingConfig;
  reporter: ReporterConfig;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Validate the environment once. Throws ConfigError listing every wrong variable. */
const problems = (error: z.ZodError) => new ConfigError(error.issues.map((i) => `${i.path.join('.') || '(env)'} ${i.message}`));

function apiOf(base: string | undefined): BillingConfig['api'] {
  if (!base) return undefined;
  const u = new URL(base);
  const protocol = u.protocol === 'http:' ? 'http' : 'https';
  return { host: u.hostname, port: Number(u.port || (protocol === 'http' ? 80 : 443)), protocol };
}

function billingFrom(e: BillingEnv): BillingConfig | undefined {
  if (!e.STRIPE_SECRET_KEY) return undefined;
  const api = apiOf(e.STRIPE_API_BASE);
  return {
    secretKey: e.STRIPE_SECRET_KEY,
    webhookSecret: e.STRIPE_WEBHOOK_SECRET!,
    thinWebhookSecret: e.STRIPE_THIN_WEBHOOK_SECRET,
    prices: { base: e.STRIPE_PRICE_BASE!, metered: e.STRIPE_PRICE_METERED! },
    meterEventName: e.STRIPE_METER_EVENT_NAME,
    api,
    standIn: e.STRIPE_STAND_IN,
    timeoutMs: e.STRIPE_TIMEOUT_MS,
    urls: { checkoutSuccess: e.CHECKOUT_SUCCESS_URL!, checkoutCancel: e.CHECKOUT_CANCEL_URL!, portalReturn: e.PORTAL_RETURN_URL! },
  };
}

function reporterFrom(e: BillingEnv & { MODEL_TOTAL_TIMEOUT_MS: number }): ReporterConfig {
  return {
    intervalMinutes: e.REPORT_USAGE_INTERVAL_MINUTES,
    concurrency: e.REPORT_USAGE_CONCURRENCY,
    // Requests reserved before a period ends settle within the model's total timeout; a minute more for settle retries.
    periodEndFlushDelayMs: e.MODEL_TOTAL_TIMEOUT_MS + 60_000,
    cronSecret: e.CRON_SECRET,
  };
}

const SetupEnvSchema = z.object({
  NODE_ENV: CommonShape.NODE_ENV,
  STRIPE_SECRET_KEY: BillingShape.STRIPE_SECRET_KEY,
  STRIPE_API_BASE: BillingShape.STRIPE_API_BASE,
  STRIPE_STAND_IN: BillingShape.STRIPE_STAND_IN,
  STRIPE_METER_EVENT_NAME: BillingShape.STRIPE_METER_EVENT_NAME,
  STRIPE_TIMEOUT_MS: BillingShape.STRIPE_TIMEOUT_MS,
}).superRefine((e, ctx) => {
  if (!e.STRIPE_SECRET_KEY) ctx.addIssue({ code: 'custom', path: ['STRIPE_SECRET_KEY'], message: 'is required: the Stripe secret key of the account to set up (sk_test_… first)' });
  if (e.NODE_ENV === 'production' && e.STRIPE_API_BASE && !e.STRIPE_API_BASE.startsWith('https://')) ctx.addIssue({ code: 'custom', path: ['STRIPE_API_BASE'], message: 'must be https:// when NODE_ENV=production' });
});

export interface StripeSetupConfig {
  billing: Pick<BillingConfig, 'secretKey' | 'api' | 'timeoutMs' | 'meterEventName' | 'standIn'>;
}

/** What `npm run stripe:setup` needs: the key (and where Stripe is). The price ids are its output. */
export function loadStripeSetupConfig(env: Record<string, string | undefined>): StripeSetupConfig {
  const parsed = SetupEnvSchema.safeParse(env);
  if (!parsed.success) throw problems(parsed.error);
  const e = parsed.data;
  return { billing: { secretKey: e.STRIPE_SECRET_KEY!, api: apiOf(e.STRIPE_API_BASE), timeoutMs: e.STRIPE_TIMEOUT_MS, meterEventName: e.STRIPE_METER_EVENT_NAME, standIn: e.STRIPE_STAND_IN } };
}

const RedisJobEnvSchema = z.object(CommonShape);

export interface RedisJobConfig {
  env: Config['env'];
  redis: Config['redis'];
}

/** What the read-only operator scripts need (npm run margin): Redis, nothing of Stripe, the model or auth. */
export function loadRedisJobConfig(env: Record<string, string | undefined>): RedisJobConfig {
  const parsed = RedisJobEnvSchema.safeParse(env);
  if (!parsed.success) throw problems(parsed.error);
  const e = parsed.data;
  return Object.freeze({ env: e.NODE_ENV, redis: { url: e.UPSTASH_REDIS_REST_URL, token: e.UPSTASH_REDIS_REST_TOKEN, timeoutMs: e.REDIS_TIMEOUT_MS } });
}

/** Validate what the billing jobs need (Redis + Stripe). Throws ConfigError listing every wrong variable. */
export function loadJobConfig(env: Record<string, string | undefined>): JobConfig {
  const parsed = JobEnvSchema.safeParse(env);
  if (!parsed.success) throw problems(parsed.error);
  const e = parsed.data;
  return Object.freeze({
    env: e.NODE_ENV,
    redis: { url: e.UPSTASH_REDIS_REST_URL, token: e.UPSTASH_REDIS_REST_TOKEN, timeoutMs: e.REDIS_TIMEOUT_MS },
    billing: billingFrom(e)!,
    reporter: reporterFrom(e),
  });
}

export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) throw problems(parsed.error);
  const e = parsed.data;
  return Object.freeze({
    env: e.NODE_ENV,
    redis: { url: e.UPSTASH_REDIS_REST_URL, token: e.UPSTASH_REDIS_REST_TOKEN, timeoutMs: e.REDIS_TIMEOUT_MS },
    model: {
      id: e.MODEL,
      apiKey: e.OPENAI_API_KEY,
      baseURL: e.OPENAI_BASE_URL,
      standIn: e.MODEL_STAND_IN,
      maxRetries: e.MODEL_MAX_RETRIES,
      firstTokenTimeoutMs: e.MODEL_FIRST_TOKEN_TIMEOUT_MS,
      totalTimeoutMs: e.MODEL_TOTAL_TIMEOUT_MS,
    },
    auth: { jwtKey: e.CLERK_JWT_KEY, authorizedParties: e.CLERK_AUTHORIZED_PARTIES, issuer: e.CLERK_ISSUER, devAuth: e.DEV_AUTH },
    allowedOrigins: e.ALLOWED_ORIGINS,
    limits: { maxTextChars: e.MAX_TEXT_CHARS, maxBodyBytes: e.MAX_BODY_BYTES, requestsPerMinute: e.RATE_LIMIT_RPM, tokensPerMinute: e.RATE_LIMIT_TPM, accountRequestsPerMinute: e.RATE_LIMIT_ACCOUNT_RPM },
    ledgerRetentionDays: e.LEDGER_RETENTION_DAYS,
    metricsToken: e.METRICS_TOKEN,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    http: { host: e.HOST, headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS, requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS },
    billing: billingFrom(e),
    reporter: reporterFrom(e),
  });
}
