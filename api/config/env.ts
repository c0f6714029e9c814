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

const EnvSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    UPSTASH_REDIS_REST_URL: required('the Upstash Redis REST URL, e.g. https://eu1-xxx.upstash.io').pipe(z.url({ message: 'must be a URL, e.g. https://eu1-xxx.upstash.io' })),
    UPSTASH_REDIS_REST_TOKEN: required('the Upstash Redis REST token'),
    REDIS_TIMEOUT_MS: int(2000),
    OPENAI_API_KEY: required('an OpenAI API key (or any value for an OpenAI-compatible server that ignores it)'),
    OPENAI_BASE_URL: z.url().optional(),
    MODEL: z.string().refine((m) => knownModels.includes(m), { message: `must be a model with a price in api/config/model-prices.ts (${knownModels.join(', ')})` }).default('gpt-4o-mini'),
    MODEL_STAND_IN: flag,
    MODEL_MAX_RETRIES: int(1, 0),
    MODEL_FIRST_TOKEN_TIMEOUT_MS: int(20_000),
    MODEL_TOTAL_TIMEOUT_MS: int(180_000),
    CLERK_JWT_KEY: z.string().includes('-----BEGIN PUBLIC KEY-----', { message: 'must be the PEM public key from the Clerk dashboard (API keys → JWT public key)' }).optional(),
    CLERK_AUTHORIZED_PARTIES: list,
    CLERK_ISSUER: z.url({ message: "must be your Clerk instance's Frontend API URL, e.g. https://clerk.example.com" }).optional(),
    DEV_AUTH: flag,
    ALLOWED_ORIGINS: list,
    MAX_TEXT_CHARS: int(20_000),
    MAX_BODY_BYTES: int(256 * 1024),
    RATE_LIMIT_RPM: int(60),
    RATE_LIMIT_TPM: int(200_000),
    LEDGER_RETENTION_DAYS: int(400),
    SHUTDOWN_GRACE_MS: int(25_000, 0),
    METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  })
  .superRefine((e, ctx) => {
    if (e.DEV_AUTH && e.NODE_ENV === 'production') ctx.addIssue({ code: 'custom', path: ['DEV_AUTH'], message: 'is refused when NODE_ENV=production (dev tokens would bypass Clerk)' });
    if (!e.DEV_AUTH && !e.CLERK_JWT_KEY) ctx.addIssue({ code: 'custom', path: ['CLERK_JWT_KEY'], message: 'is required (or DEV_AUTH=1 for local development only)' });
    if (e.MODEL_STAND_IN && e.NODE_ENV === 'production') ctx.addIssue({ code: 'custom', path: ['MODEL_STAND_IN'], message: 'is refused when NODE_ENV=production' });
  });

export interface Config {
  env: 'development' | 'production' | 'test';
  redis: { url: string; token: string; timeoutMs: number };
  model: { id: string; apiKey: string; baseURL: string | undefined; standIn: boolean; maxRetries: number; firstTokenTimeoutMs: number; totalTimeoutMs: number };
  auth: { jwtKey: string | undefined; authorizedParties: string[]; issuer: string | undefined; devAuth: boolean };
  allowedOrigins: string[];
  limits: { maxTextChars: number; maxBodyBytes: number; requestsPerMinute: number; tokensPerMinute: number };
  ledgerRetentionDays: number;
  /** Node: how long a shutdown waits for streams in progress before cutting them. */
  shutdownGraceMs: number;
  /** Bearer token GET /metrics requires; open when unset. */
  metricsToken: string | undefined;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Validate the environment once. Throws ConfigError listing every wrong variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'} ${i.message}`));
  }
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
    limits: { maxTextChars: e.MAX_TEXT_CHARS, maxBodyBytes: e.MAX_BODY_BYTES, requestsPerMinute: e.RATE_LIMIT_RPM, tokensPerMinute: e.RATE_LIMIT_TPM },
    ledgerRetentionDays: e.LEDGER_RETENTION_DAYS,
    metricsToken: e.METRICS_TOKEN,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
  });
}
