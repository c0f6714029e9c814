/**
 * The API contract shared by the API and the extension: request schemas, response shapes, error codes.
 * Everything here is runtime-agnostic and free of I/O.
 */
import { z } from 'zod';

export const ACTIONS = ['rewrite', 'shorten', 'expand', 'tone', 'product_description', 'social_post'] as const;
export const TONES = ['professional', 'casual', 'friendly', 'persuasive', 'confident'] as const;
export const PLATFORMS = ['x', 'linkedin', 'instagram', 'facebook'] as const;

export type Action = (typeof ACTIONS)[number];
export type Tone = (typeof TONES)[number];
export type Platform = (typeof PLATFORMS)[number];

/** Character limits of each platform's post body. */
export const PLATFORM_CHAR_LIMITS: Record<Platform, number> = {
  x: 280,
  linkedin: 3000,
  instagram: 2200,
  facebook: 2000, // Facebook allows 63,206; we keep posts readable.
};

/** A client-chosen id makes a retry idempotent: the same id is never charged twice. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;

/** POST /v1/rewrite `instruction`: the user's wish about how to rewrite (trimmed), e.g. "shorter", "more formal". */
export const INSTRUCTION_MAX_CHARS = 300;

/**
 * POST /v1/rewrite `continuation`: the result so far of a rewrite the length cap cut off; the model continues
 * it (the reply is only what comes next). Data, like `text`: counted in the input tokens, reserved and charged.
 */
export const CONTINUATION_MAX_CHARS = 50_000;

/**
 * With `Accept: text/event-stream`, POST /v1/rewrite streams Server-Sent Events instead of plain text:
 * `text` events (data: the JSON string of the next piece), then one `done` event (data: RewriteDone).
 * A stream that ends without `done` was cut off (the client must not show it as complete).
 */
export const REWRITE_EVENTS_TYPE = 'text/event-stream';
export interface RewriteDone {
  /** `length`: the output cap (or the remaining balance) stopped the model mid-answer; send it back as `continuation` to go on. */
  finishReason: 'stop' | 'length' | 'content_filter' | 'other';
}

/** Saved styles (brand voice): at most this many per user; name and instructions are trimmed. */
export const STYLES_MAX = 20;
export const STYLE_NAME_MAX_CHARS = 60;
export const STYLE_INSTRUCTIONS_MAX_CHARS = 1000;
/** A style's id, chosen by the client (the path segment of PUT/DELETE /v1/styles/:id). */
export const STYLE_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,39}$/;
const STYLE_ID_MESSAGE = 'a style id is 1-40 characters of a-z 0-9 _ -, starting with a letter or digit';

/*
 * Trimmed strings of 1..max characters. zod counts characters as Unicode code points (an emoji is one), so an
 * HTML maxlength of the same number (UTF-16 units) never lets through more. The schemas are spelled out with
 * z.* calls only (messages in arrow functions): the extension's bundler treats z.* as pure and drops unused
 * schemas, and zod with them, from the content script — a helper call at module level would keep them.
 */
const typeMessage = (field: string, i: { input?: unknown }) =>
  i.input === undefined ? `${field} is required` : `${field} must be a string`;
const lengthMessage = (field: string, max: number, i: { input?: unknown }) =>
  `${field} must be at most ${max} characters (it has ${typeof i.input === 'string' ? [...i.input].length : '?'})`;

export const RewriteRequestSchema = z
  .object({
    // Something to rewrite: at least one letter, digit, punctuation mark or symbol (not only spaces,
    // control or zero-width characters).
    text: z
      .string()
      .refine(
        (s) => /[\p{L}\p{N}\p{P}\p{S}]/u.test(s),
        'text must contain something to rewrite (it is empty or only invisible characters)',
      ),
    action: z.enum(ACTIONS),
    tone: z.enum(TONES).optional(),
    platform: z.enum(PLATFORMS).optional(),
    requestId: z.string().regex(REQUEST_ID_PATTERN, 'requestId must be 8-64 characters of A-Z a-z 0-9 _ -').optional(),
    /** The user's wish about how to rewrite this text; to refine a result, send that result as `text` with the instruction. */
    instruction: z
      .string({ error: (i) => typeMessage('instruction', i) })
      .trim()
      .min(1, 'instruction must not be empty')
      .max(INSTRUCTION_MAX_CHARS, { error: (i) => lengthMessage('instruction', INSTRUCTION_MAX_CHARS, i) })
      .optional(),
    /** The result so far, when the length cap cut it off: the model writes only what comes after it. */
    continuation: z
      .string({ error: (i) => typeMessage('continuation', i) })
      .min(1, 'continuation must not be empty')
      .max(CONTINUATION_MAX_CHARS, { error: (i) => lengthMessage('continuation', CONTINUATION_MAX_CHARS, i) })
      .optional(),
    /** One of the user's saved styles (GET /v1/styles); an unknown id is 404 style_not_found. */
    styleId: z.string().regex(STYLE_ID_PATTERN, `styleId: ${STYLE_ID_MESSAGE}`).optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.action === 'tone' && !v.tone)
      ctx.addIssue({
        code: 'custom',
        path: ['tone'],
        message: `tone is required for action "tone" (one of ${TONES.join(', ')})`,
      });
    if (v.action === 'social_post' && !v.platform)
      ctx.addIssue({
        code: 'custom',
        path: ['platform'],
        message: `platform is required for action "social_post" (one of ${PLATFORMS.join(', ')})`,
      });
    if (v.tone && v.action !== 'tone')
      ctx.addIssue({ code: 'custom', path: ['tone'], message: 'tone is only valid with action "tone"' });
    if (v.platform && v.action !== 'social_post')
      ctx.addIssue({ code: 'custom', path: ['platform'], message: 'platform is only valid with action "social_post"' });
  });

export type RewriteRequest = z.infer<typeof RewriteRequestSchema>;

/** PUT /v1/styles/:id body. */
export const StyleInputSchema = z
  .object({
    name: z
      .string({ error: (i) => typeMessage('name', i) })
      .trim()
      .min(1, 'name must not be empty')
      .max(STYLE_NAME_MAX_CHARS, { error: (i) => lengthMessage('name', STYLE_NAME_MAX_CHARS, i) }),
    instructions: z
      .string({ error: (i) => typeMessage('instructions', i) })
      .trim()
      .min(1, 'instructions must not be empty')
      .max(STYLE_INSTRUCTIONS_MAX_CHARS, {
        error: (i) => lengthMessage('instructions', STYLE_INSTRUCTIONS_MAX_CHARS, i),
      }),
  })
  .strict();
export type StyleInput = z.infer<typeof StyleInputSchema>;

export interface Style {
  id: string;
  name: string;
  instructions: string;
  /** ISO 8601. */
  updatedAt: string;
}
/** GET /v1/styles: sorted by name (case-insensitive), then id. */
export interface StylesResponse {
  styles: Style[];
}
/** PUT /v1/styles/:id (create or replace). */
export interface StyleResponse {
  style: Style;
}
/** DELETE /v1/styles/:id. */
export interface OkResponse {
  ok: true;
}

/** An overage spending cap in USD: a finite number >= 0 with at most 2 decimals (the plan's maximum is checked by the API). */
export const isUsdAmount = (v: number): boolean =>
  Number.isFinite(v) && v >= 0 && Math.abs(v * 100 - Math.round(v * 100)) < 1e-6;

/** PUT /v1/settings body. `overageCapUsd: null` = the plan's default (its maximum). */
export const SettingsUpdateSchema = z
  .object({
    overageCapUsd: z.union(
      [z.number().refine(isUsdAmount, 'overageCapUsd must be a finite amount >= 0 with at most 2 decimals'), z.null()],
      {
        error: (i) =>
          i.input === undefined
            ? 'overageCapUsd is required (a number of USD, or null for the plan default)'
            : 'overageCapUsd must be a number of USD or null',
      },
    ),
  })
  .strict();
export type SettingsUpdate = z.infer<typeof SettingsUpdateSchema>;

/** GET and PUT /v1/settings. */
export interface SettingsResponse {
  plan: string;
  /** The user's own cap on overage per period, in USD; null = the plan's default (maxOverageCapUsd). */
  overageCapUsd: number | null;
  /** The most the plan allows; null when the plan has no overage (free: a cap cannot be set). */
  maxOverageCapUsd: number | null;
}

export const ERROR_STATUS = {
  invalid_request: 400,
  /** The request body ended early: the client went away (or was too slow) mid-body. */
  request_incomplete: 400,
  unauthenticated: 401,
  quota_exhausted: 402,
  forbidden: 403,
  not_found: 404,
  duplicate_request: 409,
  /** Checkout asked for by a user who already has an active subscription: manage it in the portal instead. */
  already_subscribed: 409,
  /** Portal asked for by a user who has no Stripe customer yet: upgrade first. */
  no_billing_account: 409,
  /** A scheduled usage report is already running (another instance holds the lock). */
  report_in_progress: 409,
  /** PUT /v1/styles/:id of a new style when the user already has STYLES_MAX styles: delete one first. */
  style_limit_reached: 409,
  /** POST /v1/rewrite with a styleId the signed-in user has no style for. */
  style_not_found: 404,
  /** PUT /v1/settings with a spending cap on a plan that has no overage (free): upgrade first. */
  overage_not_available: 403,
  text_too_long: 413,
  payload_too_large: 413,
  unsupported_media_type: 415,
  /** A Stripe webhook whose signature does not verify against the raw body. */
  invalid_signature: 400,
  /** A Stripe webhook event rendered in another API version than the one the server reads (Stripe retries it). */
  webhook_api_version: 400,
  rate_limited: 429,
  internal: 500,
  metering_unavailable: 503,
  model_unavailable: 503,
  /** The server runs without STRIPE_SECRET_KEY: everyone is on the free plan. */
  billing_disabled: 501,
  /** Stripe failed or timed out; nothing was changed. */
  billing_unavailable: 503,
  /** The Stripe account's customer portal was never configured (its settings saved in the Dashboard). */
  billing_portal_not_configured: 501,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    /** 402: when the quota resets (ISO 8601). */
    periodEnd?: string;
    /** 429, and 503 when no model answered: seconds until a retry can succeed. */
    retryAfterSeconds?: number;
    /** 400: which fields were wrong. */
    issues?: { path: string; message: string }[];
  };
}

export interface UsageResponse {
  plan: string;
  period: { start: string; end: string };
  usedTokens: number;
  includedTokens: number;
  remainingTokens: number;
  hardCapTokens: number;
  overageTokens: number;
  estimatedOverageUsd: number;
  rateLimit: { limit: number; remaining: number; resetAt: string };
  daily: { date: string; tokens: number }[];
  recent: { requestId: string; action: string; tokens: number; at: string }[];
  /** canUpgrade: billing is enabled and the user is not on Pro. canManage: billing is enabled and the user has a Stripe customer (portal). */
  /** endsAtPeriodEnd: the paid plan was cancelled and ends at period.end; pastDue: a payment failed (capped at the included tokens). */
  billing: { enabled: boolean; canUpgrade: boolean; canManage: boolean; endsAtPeriodEnd: boolean; pastDue: boolean };
  /** Thresholds of the included allowance reached this period, each at most once, oldest first. */
  alerts: UsageAlert[];
  /** The overage spending cap in force for this plan, in USD per period (the user's, else the plan's default); null when the plan has no overage. hardCapTokens includes it. */
  overageCapUsd: number | null;
  /** What Upgrade buys: the Pro plan's price and allowance. */
  proPlan: ProPlanOffer;
  /** Limits the client can check before a request: the longest text a rewrite takes (characters). */
  limits: { maxTextChars: number };
}

export interface ProPlanOffer {
  id: 'pro';
  monthlyPriceUsd: number;
  includedTokens: number;
  overageUsdPer1kTokens: number;
  /** The highest spending cap on overage a Pro user can set (also the default). */
  maxOverageCapUsd: number;
}

export const ALERT_THRESHOLDS = [50, 80, 100] as const;
export type AlertThreshold = (typeof ALERT_THRESHOLDS)[number];
export interface UsageAlert {
  threshold: AlertThreshold;
  /** When the period's usage first reached the threshold (ISO 8601). */
  at: string;
}

/** POST /v1/billing/checkout and POST /v1/billing/portal answer with the Stripe-hosted page to open. */
export interface BillingRedirectResponse {
  url: string;
}

/** Response headers of POST /v1/rewrite. */
export const HEADERS = {
  requestId: 'X-Request-Id',
  tokensRemaining: 'X-Tokens-Remaining',
  /** The model answering a rewrite, `provider/model` (after a fallback, not the plan's first). */
  model: 'X-Model',
  rateLimitLimit: 'RateLimit-Limit',
  rateLimitRemaining: 'RateLimit-Remaining',
  rateLimitReset: 'RateLimit-Reset',
} as const;
