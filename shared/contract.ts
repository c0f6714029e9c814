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

export const RewriteRequestSchema = z
  .object({
    // Something to rewrite: at least one letter, digit, punctuation mark or symbol (not only spaces,
    // control or zero-width characters).
    text: z.string().refine((s) => /[\p{L}\p{N}\p{P}\p{S}]/u.test(s), 'text must contain something to rewrite (it is empty or only invisible characters)'),
    action: z.enum(ACTIONS),
    tone: z.enum(TONES).optional(),
    platform: z.enum(PLATFORMS).optional(),
    requestId: z.string().regex(REQUEST_ID_PATTERN, 'requestId must be 8-64 characters of A-Z a-z 0-9 _ -').optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.action === 'tone' && !v.tone) ctx.addIssue({ code: 'custom', path: ['tone'], message: `tone is required for action "tone" (one of ${TONES.join(', ')})` });
    if (v.action === 'social_post' && !v.platform) ctx.addIssue({ code: 'custom', path: ['platform'], message: `platform is required for action "social_post" (one of ${PLATFORMS.join(', ')})` });
    if (v.tone && v.action !== 'tone') ctx.addIssue({ code: 'custom', path: ['tone'], message: 'tone is only valid with action "tone"' });
    if (v.platform && v.action !== 'social_post') ctx.addIssue({ code: 'custom', path: ['platform'], message: 'platform is only valid with action "social_post"' });
  });

export type RewriteRequest = z.infer<typeof RewriteRequestSchema>;

export const ERROR_STATUS = {
  invalid_request: 400,
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
  text_too_long: 413,
  payload_too_large: 413,
  unsupported_media_type: 415,
  /** A Stripe webhook whose signature does not verify against the raw body. */
  invalid_signature: 400,
  rate_limited: 429,
  internal: 500,
  metering_unavailable: 503,
  model_unavailable: 503,
  /** The server runs without STRIPE_SECRET_KEY: everyone is on the free plan. */
  billing_disabled: 501,
  /** Stripe failed or timed out; nothing was changed. */
  billing_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    /** 402: when the quota resets (ISO 8601). */
    periodEnd?: string;
    /** 429: seconds until a retry can succeed. */
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
  /** What Upgrade buys: the Pro plan's price and allowance. */
  proPlan: ProPlanOffer;
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
  rateLimitLimit: 'RateLimit-Limit',
  rateLimitRemaining: 'RateLimit-Remaining',
  rateLimitReset: 'RateLimit-Reset',
} as const;
