/**
 * The environment, declared once: one zod schema per section of the configuration. Each section reads its
 * variables (by their env names), checks them, and its output (`z.infer`) IS that section's typed
 * configuration — there is no hand-written interface to drift from it. api/config/env.ts loads sections.
 */
import { z } from 'zod';
import { KNOWN_MODELS } from './model-prices';
import { modelRoutesSchema, parseModelRef, routedRefs, type ModelRoutes } from './models';
import { PLAN_MODELS } from './plans';

const flag = z
  .enum(['1', '0', 'true', 'false', ''])
  .optional()
  .transform((v) => v === '1' || v === 'true');
const int = (def: number, min = 1) =>
  z.coerce.number({ error: 'must be a whole number' }).int('must be a whole number').min(min).default(def);
const list = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
/** A required string variable, with what to put in it when it is missing. */
const required = (what: string) =>
  z
    .string({ error: (i) => (i.input === undefined ? `is required: ${what}` : `must be ${what}`) })
    .min(1, `must not be empty: ${what}`);
/** A URL variable; `what` says what belongs in it. */
const url = (what: string) => z.url({ message: `must be a URL: ${what}` });
/** An optional variable where an empty value (`STRIPE_SECRET_KEY=` in an env file) means "not set". */
const opt = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema.optional());
const knownModels = KNOWN_MODELS;
const NODE_ENV = z.enum(['development', 'production', 'test']).default('development');

type Ctx = z.RefinementCtx;
const issue = (ctx: Ctx, name: string, message: string) => ctx.addIssue({ code: 'custom', path: [name], message });
/** `name` must be set (per `set`) when NODE_ENV=production; `what` says what to put in it. */
const neededInProduction = (ctx: Ctx, name: string, set: boolean, what: string) => {
  if (!set) issue(ctx, name, `is required when NODE_ENV=production: ${what}`);
};

export const envSection = z.object({ NODE_ENV }).transform((e) => e.NODE_ENV);

export const redisSection = z
  .object({
    UPSTASH_REDIS_REST_URL: required('the Upstash Redis REST URL, e.g. https://eu1-xxx.upstash.io').pipe(
      z.url({ message: 'must be a URL, e.g. https://eu1-xxx.upstash.io' }),
    ),
    UPSTASH_REDIS_REST_TOKEN: required('the Upstash Redis REST token'),
    REDIS_TIMEOUT_MS: int(2000),
  })
  .transform((e) => ({
    url: e.UPSTASH_REDIS_REST_URL,
    token: e.UPSTASH_REDIS_REST_TOKEN,
    timeoutMs: e.REDIS_TIMEOUT_MS,
  }));

/** One OpenAI-compatible provider of MODEL_PROVIDERS: its base URL and key. */
const compatProviderSchema = z.strictObject({
  baseURL: z.url({ message: 'must be the base URL of an OpenAI-compatible API, e.g. https://api.example.com/v1' }),
  apiKey: z.string().min(1, 'must not be empty'),
});
/** MODEL_ROUTES and MODEL_PROVIDERS are JSON: a variable that is not JSON is named as such. */
const json = <T extends z.ZodType>(schema: T, example: string) =>
  z.preprocess((v, ctx) => {
    if (v === undefined || v === '') return undefined;
    try {
      return JSON.parse(String(v));
    } catch {
      ctx.addIssue({ code: 'custom', message: `must be JSON, e.g. ${example}` });
      return z.NEVER;
    }
  }, schema.optional());
const BUILT_IN_PROVIDERS = ['openai', 'anthropic'];

export const modelSection = z
  .object({
    NODE_ENV,
    OPENAI_API_KEY: opt(z.string()),
    OPENAI_BASE_URL: z.url().optional(),
    ANTHROPIC_API_KEY: opt(z.string()),
    ANTHROPIC_BASE_URL: z.url().optional(),
    /** Extra OpenAI-compatible providers by name: `{"together":{"baseURL":"https://api.together.xyz/v1","apiKey":"..."}}`. */
    MODEL_PROVIDERS: json(
      z.record(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'provider names are lower-case words'), compatProviderSchema),
      '{"together":{"baseURL":"https://api.together.xyz/v1","apiKey":"..."}}',
    ),
    /** Each plan's model chain (replaces PLAN_MODELS in api/config/plans.ts). */
    MODEL_ROUTES: json(
      modelRoutesSchema,
      '{"free":["openai/gpt-4o-mini"],"pro":{"default":["openai/gpt-4.1-mini","anthropic/claude-haiku-4-5"]}}',
    ),
    /** One OpenAI model for every plan (the setting before MODEL_ROUTES). */
    MODEL: opt(z.string()),
    MODEL_STAND_IN: flag,
    MODEL_MAX_RETRIES: int(1, 0),
    MODEL_FIRST_TOKEN_TIMEOUT_MS: int(20_000),
    MODEL_TOTAL_TIMEOUT_MS: int(180_000),
    MODEL_BREAKER_FAILURES: int(3),
    MODEL_BREAKER_OPEN_MS: int(30_000),
    /** Longest a model's text delta waits to be merged with the next (api/model/coalesce.ts); 0: every delta alone. */
    MODEL_STREAM_COALESCE_MS: int(16, 0),
  })
  .superRefine((e, ctx) => {
    if (e.MODEL_STAND_IN && e.NODE_ENV === 'production')
      issue(ctx, 'MODEL_STAND_IN', 'is refused when NODE_ENV=production');
    if (e.MODEL !== undefined && e.MODEL_ROUTES !== undefined)
      issue(ctx, 'MODEL', "must not be set with MODEL_ROUTES (MODEL_ROUTES names every plan's models)");
    if (e.MODEL !== undefined && !knownModels.includes(e.MODEL))
      issue(ctx, 'MODEL', `must be a model with a price in api/config/model-prices.ts (${knownModels.join(', ')})`);
    for (const name of Object.keys(e.MODEL_PROVIDERS ?? {}))
      if (BUILT_IN_PROVIDERS.includes(name))
        issue(
          ctx,
          'MODEL_PROVIDERS',
          `must not redefine the built-in provider "${name}" (use ${name.toUpperCase()}_*)`,
        );
    // Each routed model needs a price and its provider (refs that did not parse are reported by their schema).
    for (const ref of refsOf(e)) {
      const { provider, model } = parseModelRef(ref)!;
      if (e.MODEL_ROUTES && !knownModels.includes(model))
        issue(
          ctx,
          'MODEL_ROUTES',
          `names ${ref}, which has no price in api/config/model-prices.ts (every routed model needs one)`,
        );
      if (provider === 'openai' && !e.OPENAI_API_KEY)
        issue(
          ctx,
          'OPENAI_API_KEY',
          `is required: ${ref} is routed (or any value for an OpenAI-compatible server that ignores it)`,
        );
      else if (provider === 'anthropic' && !e.ANTHROPIC_API_KEY)
        issue(ctx, 'ANTHROPIC_API_KEY', `is required: ${ref} is routed`);
      else if (!BUILT_IN_PROVIDERS.includes(provider) && !e.MODEL_PROVIDERS?.[provider])
        issue(ctx, 'MODEL_ROUTES', `names ${ref}, but MODEL_PROVIDERS has no provider "${provider}"`);
    }
  })
  .transform((e) => {
    const routes = routesOf(e);
    const providers: Record<string, ProviderConfig> = {};
    const used = new Set(routedRefs(routes).map((r) => parseModelRef(r)!.provider));
    if (used.has('openai'))
      providers.openai = { kind: 'openai', apiKey: e.OPENAI_API_KEY!, baseURL: e.OPENAI_BASE_URL };
    if (used.has('anthropic'))
      providers.anthropic = { kind: 'anthropic', apiKey: e.ANTHROPIC_API_KEY!, baseURL: e.ANTHROPIC_BASE_URL };
    for (const [name, p] of Object.entries(e.MODEL_PROVIDERS ?? {}))
      if (used.has(name)) providers[name] = { kind: 'openai-compatible', apiKey: p.apiKey, baseURL: p.baseURL };
    return {
      routes,
      providers,
      standIn: e.MODEL_STAND_IN,
      maxRetries: e.MODEL_MAX_RETRIES,
      firstTokenTimeoutMs: e.MODEL_FIRST_TOKEN_TIMEOUT_MS,
      totalTimeoutMs: e.MODEL_TOTAL_TIMEOUT_MS,
      breaker: { failures: e.MODEL_BREAKER_FAILURES, openMs: e.MODEL_BREAKER_OPEN_MS },
      coalesceMs: e.MODEL_STREAM_COALESCE_MS,
    };
  });

/** How a provider is called: OpenAI's chat completions (itself or a compatible server), or Anthropic's messages. */
export interface ProviderConfig {
  kind: 'openai' | 'openai-compatible' | 'anthropic';
  apiKey: string;
  /** Undefined: the provider's own API. */
  baseURL: string | undefined;
}

/** The refs of the routes in force that parse, also while other variables are still wrong (for their checks). */
function refsOf(e: { MODEL_ROUTES?: unknown; MODEL?: string }): string[] {
  const routes = e.MODEL_ROUTES === undefined ? undefined : modelRoutesSchema.safeParse(e.MODEL_ROUTES);
  if (routes && !routes.success) return [];
  return routedRefs(routesOf({ MODEL: e.MODEL, MODEL_ROUTES: routes?.data })).filter((r) => parseModelRef(r));
}

/** The routes in force: MODEL_ROUTES, or MODEL for every plan, or the plans' own (PLAN_MODELS). */
function routesOf(e: { MODEL_ROUTES?: ModelRoutes; MODEL?: string }): ModelRoutes {
  if (e.MODEL_ROUTES) return e.MODEL_ROUTES;
  if (e.MODEL) return { free: { default: [`openai/${e.MODEL}`] }, pro: { default: [`openai/${e.MODEL}`] } };
  return PLAN_MODELS;
}

export const authSection = z
  .object({
    NODE_ENV,
    CLERK_JWT_KEY: z
      .string()
      .includes('-----BEGIN PUBLIC KEY-----', {
        message: 'must be the PEM public key from the Clerk dashboard (API keys → JWT public key)',
      })
      .optional(),
    CLERK_AUTHORIZED_PARTIES: list,
    CLERK_ISSUER: opt(
      z.url({ message: "must be your Clerk instance's Frontend API URL, e.g. https://clerk.example.com" }),
    ),
    DEV_AUTH: flag,
  })
  .superRefine((e, ctx) => {
    if (e.DEV_AUTH && e.NODE_ENV === 'production')
      issue(ctx, 'DEV_AUTH', 'is refused when NODE_ENV=production (dev tokens would bypass Clerk)');
    if (!e.DEV_AUTH && !e.CLERK_JWT_KEY)
      issue(ctx, 'CLERK_JWT_KEY', 'is required (or DEV_AUTH=1 for local development only)');
    if (e.NODE_ENV !== 'production') return;
    // Without them any azp and any issuer signed by the key would pass.
    const azp = "the origins allowed in the token's azp, e.g. chrome-extension://<extension id> (comma-separated)";
    neededInProduction(ctx, 'CLERK_AUTHORIZED_PARTIES', e.CLERK_AUTHORIZED_PARTIES.length > 0, azp);
    neededInProduction(
      ctx,
      'CLERK_ISSUER',
      e.CLERK_ISSUER !== undefined,
      'your Clerk Frontend API URL, e.g. https://clerk.example.com',
    );
  })
  .transform((e) => ({
    jwtKey: e.CLERK_JWT_KEY,
    authorizedParties: e.CLERK_AUTHORIZED_PARTIES,
    issuer: e.CLERK_ISSUER,
    devAuth: e.DEV_AUTH,
  }));

/** Browser origins allowed by CORS (none: no CORS headers). */
export const originsSection = z.object({ ALLOWED_ORIGINS: list }).transform((e) => e.ALLOWED_ORIGINS);

/** accountRequestsPerMinute: /v1/usage and the billing routes, per user, in their own window. */
export const limitsSection = z
  .object({
    MAX_TEXT_CHARS: int(20_000),
    MAX_BODY_BYTES: int(256 * 1024),
    RATE_LIMIT_RPM: int(60),
    RATE_LIMIT_TPM: int(200_000),
    RATE_LIMIT_ACCOUNT_RPM: int(120),
  })
  .transform((e) => ({
    maxTextChars: e.MAX_TEXT_CHARS,
    maxBodyBytes: e.MAX_BODY_BYTES,
    requestsPerMinute: e.RATE_LIMIT_RPM,
    tokensPerMinute: e.RATE_LIMIT_TPM,
    accountRequestsPerMinute: e.RATE_LIMIT_ACCOUNT_RPM,
  }));

/**
 * How often an instance reads the model price lists published to Redis (npm run prices:publish), at most a
 * minute: a published list is in use everywhere within this long.
 */
export const priceRefreshSection = z
  .object({
    PRICE_REFRESH_MS: z.coerce
      .number({ error: 'must be a whole number' })
      .int('must be a whole number')
      .min(0)
      .max(60_000, 'must be at most 60000 (a published price list must be in use within a minute)')
      .default(60_000),
  })
  .transform((e) => e.PRICE_REFRESH_MS);

export const ledgerRetentionSection = z
  .object({ LEDGER_RETENTION_DAYS: int(400) })
  .transform((e) => e.LEDGER_RETENTION_DAYS);

/** Node: how long a shutdown waits for streams in progress before cutting them. */
export const shutdownSection = z.object({ SHUTDOWN_GRACE_MS: int(25_000, 0) }).transform((e) => e.SHUTDOWN_GRACE_MS);

/** Node server: where it listens, and how long a client may take to send its headers / its whole request. */
export const httpSection = z
  .object({
    HOST: z
      .string()
      .regex(
        /^[A-Za-z0-9.:_%-]{1,255}$/,
        'must be an address or host name to listen on, e.g. 0.0.0.0 (every interface) or 127.0.0.1',
      )
      .default('0.0.0.0'),
    HTTP_HEADERS_TIMEOUT_MS: int(10_000),
    HTTP_REQUEST_TIMEOUT_MS: int(30_000),
  })
  .superRefine((e, ctx) => {
    if (e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS) {
      issue(
        ctx,
        'HTTP_HEADERS_TIMEOUT_MS',
        'must not be longer than HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)',
      );
    }
  })
  .transform((e) => ({
    host: e.HOST,
    headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
  }));

/** Bearer token GET /metrics (and /health details) require; open when unset (never in production). */
export const metricsTokenSection = z
  .object({ NODE_ENV, METRICS_TOKEN: opt(z.string().min(16, 'must be at least 16 characters')) })
  .superRefine((e, ctx) => {
    const what =
      'a random secret of at least 16 characters; /metrics and /health details then need it as a bearer token';
    if (e.NODE_ENV === 'production') neededInProduction(ctx, 'METRICS_TOKEN', e.METRICS_TOKEN !== undefined, what);
  })
  .transform((e) => e.METRICS_TOKEN);

const priceId = opt(z.string().regex(/^price_\S+$/, 'must be a price id (price_…) as printed by npm run stripe:setup'));

/** The Stripe account and where it is: all that `npm run stripe:setup` needs (the price ids are its output). */
const stripeAccountShape = {
  NODE_ENV,
  STRIPE_SECRET_KEY: opt(
    z
      .string()
      .regex(/^(sk|rk)_(test|live)_\S+$/, 'must be a Stripe secret or restricted key (sk_live_…, sk_test_…, rk_…)'),
  ),
  STRIPE_API_BASE: opt(
    url('the Stripe API origin to use instead of https://api.stripe.com (a local stand-in in dev and tests)'),
  ),
  STRIPE_STAND_IN: flag,
  STRIPE_METER_EVENT_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_]{1,100}$/, 'must be 1-100 characters of A-Z a-z 0-9 _')
    .default('redraft_tokens'),
  STRIPE_TIMEOUT_MS: int(10_000),
};

type StripeAccountEnv = z.infer<z.ZodObject<typeof stripeAccountShape>>;

/** Where the SDK sends requests instead of api.stripe.com (the local stand-in in dev and tests). */
function apiOf(base: string | undefined): { host: string; port: number; protocol: 'http' | 'https' } | undefined {
  if (!base) return undefined;
  const u = new URL(base);
  const protocol = u.protocol === 'http:' ? 'http' : 'https';
  return { host: u.hostname, port: Number(u.port || (protocol === 'http' ? 80 : 443)), protocol };
}

function refineStripeApi(e: StripeAccountEnv, ctx: Ctx): void {
  if (e.NODE_ENV === 'production' && e.STRIPE_API_BASE && !e.STRIPE_API_BASE.startsWith('https://')) {
    issue(ctx, 'STRIPE_API_BASE', 'must be https:// when NODE_ENV=production');
  }
}

const accountOf = (e: StripeAccountEnv & { STRIPE_SECRET_KEY: string }) => ({
  secretKey: e.STRIPE_SECRET_KEY,
  api: apiOf(e.STRIPE_API_BASE),
  /** True when STRIPE_STAND_IN=1: an offline Stripe-compatible stand-in, never real Stripe. */
  standIn: e.STRIPE_STAND_IN,
  meterEventName: e.STRIPE_METER_EVENT_NAME,
  timeoutMs: e.STRIPE_TIMEOUT_MS,
});

/** `npm run stripe:setup`: the Stripe account to set up. */
export const stripeAccountSection = z
  .object(stripeAccountShape)
  .superRefine((e, ctx) => {
    if (!e.STRIPE_SECRET_KEY)
      issue(ctx, 'STRIPE_SECRET_KEY', 'is required: the Stripe secret key of the account to set up (sk_test_… first)');
    refineStripeApi(e, ctx);
  })
  .transform((e) => accountOf({ ...e, STRIPE_SECRET_KEY: e.STRIPE_SECRET_KEY! }));

const billingShape = {
  ...stripeAccountShape,
  STRIPE_WEBHOOK_SECRET: opt(
    z.string().regex(/^whsec_\S+$/, "must be the webhook endpoint's signing secret (whsec_…)"),
  ),
  STRIPE_THIN_WEBHOOK_SECRET: opt(
    z
      .string()
      .regex(
        /^whsec_\S+$/,
        "must be the meter-error event destination's signing secret (whsec_…) printed by npm run stripe:setup",
      ),
  ),
  STRIPE_PRICE_BASE: priceId,
  STRIPE_PRICE_METERED: priceId,
  CHECKOUT_SUCCESS_URL: opt(url('where Stripe Checkout sends the user after paying')),
  CHECKOUT_CANCEL_URL: opt(url('where Stripe Checkout sends the user who cancels')),
  PORTAL_RETURN_URL: opt(url('where the Stripe billing portal sends the user back to')),
};

type BillingEnv = z.infer<z.ZodObject<typeof billingShape>>;

/** With STRIPE_SECRET_KEY set, these must be too. */
const NEEDED_WITH_KEY: [keyof BillingEnv, string][] = [
  [
    'STRIPE_WEBHOOK_SECRET',
    "the webhook endpoint's signing secret (Dashboard → Developers → Webhooks, or `stripe listen`)",
  ],
  ['STRIPE_PRICE_BASE', 'the $20/month base price id printed by npm run stripe:setup'],
  ['STRIPE_PRICE_METERED', 'the metered token price id printed by npm run stripe:setup'],
  ['CHECKOUT_SUCCESS_URL', 'where Checkout sends the user after paying'],
  ['CHECKOUT_CANCEL_URL', 'where Checkout sends the user who cancels'],
  ['PORTAL_RETURN_URL', 'where the billing portal sends the user back to'],
];

function refineBilling(e: BillingEnv, ctx: Ctx): void {
  if (e.STRIPE_SECRET_KEY) {
    for (const [name, what] of NEEDED_WITH_KEY)
      if (!e[name]) issue(ctx, name, `is required with STRIPE_SECRET_KEY: ${what}`);
  }
  refineStripeApi(e, ctx);
  if (e.NODE_ENV === 'production' && e.STRIPE_STAND_IN)
    issue(ctx, 'STRIPE_STAND_IN', 'is refused when NODE_ENV=production');
}

const billingOf = (e: BillingEnv & { STRIPE_SECRET_KEY: string }) => ({
  ...accountOf(e),
  webhookSecret: e.STRIPE_WEBHOOK_SECRET!,
  /** Signing secret of the thin-event destination (asynchronous meter errors); without it they are not received. */
  thinWebhookSecret: e.STRIPE_THIN_WEBHOOK_SECRET,
  prices: { base: e.STRIPE_PRICE_BASE!, metered: e.STRIPE_PRICE_METERED! },
  urls: {
    checkoutSuccess: e.CHECKOUT_SUCCESS_URL!,
    checkoutCancel: e.CHECKOUT_CANCEL_URL!,
    portalReturn: e.PORTAL_RETURN_URL!,
  },
});

/** The API's billing: undefined without STRIPE_SECRET_KEY (billing disabled, everyone on the free plan). */
export const billingSection = z
  .object(billingShape)
  .superRefine(refineBilling)
  .transform((e) => (e.STRIPE_SECRET_KEY ? billingOf({ ...e, STRIPE_SECRET_KEY: e.STRIPE_SECRET_KEY }) : undefined));

/** The billing jobs' billing (report-usage, reconcile): STRIPE_SECRET_KEY is required. */
export const jobBillingSection = z
  .object(billingShape)
  .superRefine((e, ctx) => {
    refineBilling(e, ctx);
    if (!e.STRIPE_SECRET_KEY) issue(ctx, 'STRIPE_SECRET_KEY', 'is required for billing jobs (report-usage, reconcile)');
  })
  .transform((e) => billingOf({ ...e, STRIPE_SECRET_KEY: e.STRIPE_SECRET_KEY! }));

export const reporterSection = z
  .object({
    MODEL_TOTAL_TIMEOUT_MS: int(180_000),
    CRON_SECRET: opt(
      z.string().min(16, 'must be at least 16 characters (a random secret shared with your cron scheduler)'),
    ),
    REPORT_USAGE_INTERVAL_MINUTES: int(60, 0),
    REPORT_USAGE_CONCURRENCY: int(8),
  })
  .transform((e) => ({
    /** In-process schedule of full report passes; 0 turns the schedule off (cron or manual runs only). */
    intervalMinutes: e.REPORT_USAGE_INTERVAL_MINUTES,
    /** Users reported in parallel. */
    concurrency: e.REPORT_USAGE_CONCURRENCY,
    /**
     * A period is flushed this long after it ends: requests reserved before it ended settle within the model's
     * total timeout; a minute more for settle retries.
     */
    periodEndFlushDelayMs: e.MODEL_TOTAL_TIMEOUT_MS + 60_000,
    /** Bearer secret of POST /internal/report-usage; the route does not exist without it. */
    cronSecret: e.CRON_SECRET,
  }));
