/**
 * What the model provider charges us, per 1,000 tokens, in USD. Versioned: when a provider changes
 * its prices, add a new version with its effective date rather than editing an old one, so the
 * ledger's recorded cost stays explainable. Every request's provider cost comes from here.
 */
export interface ModelPrice {
  inputUsdPer1k: number;
  outputUsdPer1k: number;
}

export interface PriceList {
  version: string;
  effectiveFrom: string;
  models: Record<string, ModelPrice>;
}

export const PRICE_LISTS: PriceList[] = [
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
];

/** The price list in force at `at` (the newest whose effective date has passed). */
export function priceListAt(at: Date, lists: PriceList[] = PRICE_LISTS): PriceList {
  const sorted = [...lists].sort((a, b) => b.effectiveFrom.localeCompare(a.effectiveFrom));
  const iso = at.toISOString().slice(0, 10);
  const list = sorted.find((l) => l.effectiveFrom <= iso) ?? sorted[sorted.length - 1];
  if (!list) throw new Error('no model price list configured');
  return list;
}

/** Provider cost of one request in USD, rounded to 1e-8. */
export function providerCostUsd(price: ModelPrice, inputTokens: number, outputTokens: number): number {
  const usd = (inputTokens / 1000) * price.inputUsdPer1k + (outputTokens / 1000) * price.outputUsdPer1k;
  return Math.round(usd * 1e8) / 1e8;
}
