/**
 * What the model provider charges us, per 1,000 tokens, in USD. Versioned: when a provider changes
 * its prices, add a new version with its effective date rather than editing an old one, so the
 * ledger's recorded cost stays explainable. Every request's provider cost comes from here — from these
 * lists (the default and the history), or from a newer list published to Redis (`npm run prices:publish`,
 * api/config/price-book.ts), validated by the same schema.
 */
import { z } from 'zod';

export interface ModelPrice {
  inputUsdPer1k: number;
  /**
   * Input tokens the provider served from its prompt cache (OpenAI: half or a quarter of the input price).
   * Absent in lists made before cached input was priced: cached tokens then cost the full input price.
   */
  cachedInputUsdPer1k?: number;
  /** Output tokens, reasoning tokens included (the provider bills reasoning as output). */
  outputUsdPer1k: number;
}

export interface PriceList {
  version: string;
  /** `YYYY-MM-DD` (00:00 UTC) or an ISO date-time with its offset: when the list takes effect. */
  effectiveFrom: string;
  models: Record<string, ModelPrice>;
}

const usdPer1k = z.number({ error: 'must be a number (USD per 1,000 tokens)' }).min(0, 'must not be negative');

export const modelPriceSchema = z
  .strictObject({
    inputUsdPer1k: usdPer1k,
    cachedInputUsdPer1k: usdPer1k.optional(),
    outputUsdPer1k: usdPer1k,
  })
  .refine((p) => p.cachedInputUsdPer1k === undefined || p.cachedInputUsdPer1k <= p.inputUsdPer1k, {
    message: 'cachedInputUsdPer1k must not be more than inputUsdPer1k (cached input is a discount)',
    path: ['cachedInputUsdPer1k'],
  });

/** Epoch ms of an effective date, or NaN when it is neither a date nor a date-time with an offset. */
export function effectiveAt(effectiveFrom: string): number {
  if (/^\d{4}-\d{2}-\d{2}$/.test(effectiveFrom)) return Date.parse(`${effectiveFrom}T00:00:00Z`);
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(effectiveFrom))
    return Date.parse(effectiveFrom);
  return Number.NaN;
}

export const priceListSchema = z.strictObject({
  version: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 . _ - (e.g. 2026-12-01)'),
  effectiveFrom: z
    .string()
    .refine((s) => Number.isFinite(effectiveAt(s)), 'must be YYYY-MM-DD or an ISO date-time with its offset'),
  models: z
    .record(z.string().min(1), modelPriceSchema)
    .refine((m) => Object.keys(m).length > 0, 'must price at least one model'),
});

/** The lists in the repository: the default, and the history of what each recorded cost was computed with. */
export const PRICE_LISTS: PriceList[] = z.array(priceListSchema).parse([
  {
    version: '2026-11-01',
    effectiveFrom: '2026-11-01',
    models: {
      'gpt-4o-mini': { inputUsdPer1k: 0.00015, outputUsdPer1k: 0.0006 },
      'gpt-4.1-mini': { inputUsdPer1k: 0.0004, outputUsdPer1k: 0.0016 },
      'gpt-4.1-nano': { inputUsdPer1k: 0.0001, outputUsdPer1k: 0.0004 },
      'gpt-4o': { inputUsdPer1k: 0.0025, outputUsdPer1k: 0.01 },
    },
  },
  {
    // OpenAI's cached input: half the input price (gpt-4o family), a quarter (gpt-4.1 family).
    version: '2026-12-01',
    effectiveFrom: '2026-12-01',
    models: {
      'gpt-4o-mini': { inputUsdPer1k: 0.00015, cachedInputUsdPer1k: 0.000075, outputUsdPer1k: 0.0006 },
      'gpt-4.1-mini': { inputUsdPer1k: 0.0004, cachedInputUsdPer1k: 0.0001, outputUsdPer1k: 0.0016 },
      'gpt-4.1-nano': { inputUsdPer1k: 0.0001, cachedInputUsdPer1k: 0.000025, outputUsdPer1k: 0.0004 },
      'gpt-4o': { inputUsdPer1k: 0.0025, cachedInputUsdPer1k: 0.00125, outputUsdPer1k: 0.01 },
    },
  },
  {
    // Models for per-plan routes and fallback: a reasoning model (o4-mini) and Anthropic's Haiku models (cache
    // reads at a tenth of the input price). The OpenAI prices are unchanged from 2026-12-01.
    version: '2026-12-02',
    effectiveFrom: '2026-12-02',
    models: {
      'gpt-4o-mini': { inputUsdPer1k: 0.00015, cachedInputUsdPer1k: 0.000075, outputUsdPer1k: 0.0006 },
      'gpt-4.1-mini': { inputUsdPer1k: 0.0004, cachedInputUsdPer1k: 0.0001, outputUsdPer1k: 0.0016 },
      'gpt-4.1-nano': { inputUsdPer1k: 0.0001, cachedInputUsdPer1k: 0.000025, outputUsdPer1k: 0.0004 },
      'gpt-4o': { inputUsdPer1k: 0.0025, cachedInputUsdPer1k: 0.00125, outputUsdPer1k: 0.01 },
      'o4-mini': { inputUsdPer1k: 0.0011, cachedInputUsdPer1k: 0.000275, outputUsdPer1k: 0.0044 },
      'claude-haiku-4-5': { inputUsdPer1k: 0.001, cachedInputUsdPer1k: 0.0001, outputUsdPer1k: 0.005 },
      'claude-3-5-haiku': { inputUsdPer1k: 0.0008, cachedInputUsdPer1k: 0.00008, outputUsdPer1k: 0.004 },
    },
  },
]);

/** Every model some list in the repository prices: the models the API may be configured with (MODEL). */
export const KNOWN_MODELS: string[] = [...new Set(PRICE_LISTS.flatMap((l) => Object.keys(l.models)))];

/**
 * The price list in force at `at`: the newest whose effective date has passed (on the same instant, the
 * greater version); before every effective date, the oldest.
 */
export function priceListAt(at: Date, lists: PriceList[] = PRICE_LISTS): PriceList {
  const sorted = [...lists].sort(
    (a, b) => effectiveAt(b.effectiveFrom) - effectiveAt(a.effectiveFrom) || b.version.localeCompare(a.version),
  );
  const t = at.getTime();
  const list = sorted.find((l) => effectiveAt(l.effectiveFrom) <= t) ?? sorted[sorted.length - 1];
  if (!list) throw new Error('no model price list configured');
  return list;
}

/** One request's tokens as the provider bills them. Cached input is part of input, reasoning part of output. */
export interface TokenUsage {
  inputTokens: number;
  /** Of `inputTokens`, those read from the provider's prompt cache (a subset, never extra). */
  cachedInputTokens: number;
  /** Output tokens, reasoning included. */
  outputTokens: number;
}

/**
 * Provider cost of one request in USD, rounded to 1e-8: uncached input at the input price, cached input at
 * the cached price (the input price when the list has none), output (reasoning included) at the output price.
 * Cached tokens are a subset of the input: a cached count outside [0, input] is clamped here, never added on
 * top nor subtracted twice (settlement flags it before it gets here; see usageToCharge).
 */
export function providerCostUsd(price: ModelPrice, u: TokenUsage): number {
  const input = Math.max(0, u.inputTokens);
  const cached = Math.min(input, Math.max(0, u.cachedInputTokens));
  const usd =
    ((input - cached) * price.inputUsdPer1k +
      cached * (price.cachedInputUsdPer1k ?? price.inputUsdPer1k) +
      Math.max(0, u.outputTokens) * price.outputUsdPer1k) /
    1000;
  return Math.round(usd * 1e8) / 1e8;
}

/** Why a price list cannot be used: each problem as one sentence (empty: the list is fine). */
export function priceListProblems(input: unknown, opts: { requiredModels?: string[] } = {}): string[] {
  const parsed = priceListSchema.safeParse(input);
  if (!parsed.success)
    return parsed.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(the list)'}: ${i.message}`);
  const missing = (opts.requiredModels ?? []).filter((m) => !parsed.data.models[m]);
  return missing.length > 0
    ? [`models: no price for ${missing.join(', ')} (every model the API may run must have a price)`]
    : [];
}
