import { describe, expect, it } from 'vitest';
import {
  hardCapOf,
  overage,
  overageTokensPerCent,
  planOf,
  PLANS,
  PRO_DEFAULT_OVERAGE_CAP_USD,
  unprofitableOverage,
} from '../../api/config/plans';
import { priceListAt, providerCostUsd, PRICE_LISTS, type PriceList } from '../../api/config/model-prices';

describe('plans', () => {
  it('free is a hard cap at its allowance; pro allows overage up to the default spending cap', () => {
    expect(PLANS.free).toMatchObject({ includedTokens: 20_000, hardCapTokens: 20_000, overageUsdPer1k: 0 });
    expect(PLANS.pro.includedTokens).toBe(500_000);
    // $50 at $0.002 per 1K tokens = 25,000,000 tokens over the included 500,000.
    expect(PLANS.pro.hardCapTokens).toBe(25_500_000);
    expect(overage(PLANS.pro, PLANS.pro.hardCapTokens).usd).toBeCloseTo(PRO_DEFAULT_OVERAGE_CAP_USD, 6);
  });

  it('a user spending cap converts cents to tokens exactly and only ever lowers the hard cap', () => {
    for (const plan of Object.values(PLANS)) {
      // Integral, so Lua (quota.lua.ts) and TypeScript compute the same cap.
      expect(Number.isInteger(overageTokensPerCent(plan))).toBe(true);
      if (plan.overageUsdPer1k > 0)
        expect(overage(plan, plan.includedTokens + overageTokensPerCent(plan)).usd).toBeCloseTo(0.01, 9);
    }
    expect(overageTokensPerCent(PLANS.pro)).toBe(5_000);
    expect(overageTokensPerCent(PLANS.free)).toBe(0);
    const none = { capOverride: null, overageCapCents: null, pastDue: false };
    expect(hardCapOf(PLANS.pro, none)).toBe(25_500_000);
    expect(hardCapOf(PLANS.pro, { ...none, overageCapCents: 1_000 })).toBe(500_000 + 5_000_000); // $10
    expect(hardCapOf(PLANS.pro, { ...none, overageCapCents: 0 })).toBe(500_000); // no overage at all
    expect(hardCapOf(PLANS.pro, { ...none, overageCapCents: 999_999 })).toBe(25_500_000); // never above the plan's
    expect(hardCapOf(PLANS.pro, { ...none, overageCapCents: 1_000, pastDue: true })).toBe(500_000);
    expect(hardCapOf(PLANS.pro, { capOverride: 2_000_000, overageCapCents: 1_000, pastDue: false })).toBe(2_000_000);
    // Free has no overage: a cap left over from a Pro period changes nothing.
    expect(hardCapOf(PLANS.free, { ...none, overageCapCents: 1_000 })).toBe(20_000);
    expect(PLANS.free.maxOverageCapUsd).toBe(0);
    expect(PLANS.pro.maxOverageCapUsd).toBe(PRO_DEFAULT_OVERAGE_CAP_USD);
  });

  it('unknown or missing plan ids are the free plan', () => {
    expect(planOf('pro')).toBe(PLANS.pro);
    for (const id of ['free', 'enterprise', undefined, null, '']) expect(planOf(id)).toBe(PLANS.free);
  });

  it('computes overage tokens and price only above the included allowance', () => {
    expect(overage(PLANS.pro, 400_000)).toEqual({ tokens: 0, usd: 0 });
    expect(overage(PLANS.pro, 500_000)).toEqual({ tokens: 0, usd: 0 });
    expect(overage(PLANS.pro, 750_000)).toEqual({ tokens: 250_000, usd: 0.5 });
    expect(overage(PLANS.pro, 500_001)).toEqual({ tokens: 1, usd: 0.000002 });
    expect(overage(PLANS.free, 20_000)).toEqual({ tokens: 0, usd: 0 });
  });
});

describe('model prices', () => {
  const lists: PriceList[] = [
    { version: 'a', effectiveFrom: '2026-01-01', models: { m: { inputUsdPer1k: 1, outputUsdPer1k: 2 } } },
    { version: 'b', effectiveFrom: '2026-06-01', models: { m: { inputUsdPer1k: 0.5, outputUsdPer1k: 1 } } },
  ];

  it('picks the newest list in force at the time of the request', () => {
    expect(priceListAt(new Date('2026-05-31T23:59:59Z'), lists).version).toBe('a');
    expect(priceListAt(new Date('2026-06-01T00:00:00Z'), lists).version).toBe('b');
    expect(priceListAt(new Date('2027-01-01T00:00:00Z'), lists).version).toBe('b');
  });

  it('uses the oldest list for times before any effective date', () => {
    expect(priceListAt(new Date('2025-01-01T00:00:00Z'), lists).version).toBe('a');
  });

  it('prices a request from its input and output tokens', () => {
    const price = PRICE_LISTS[0]!.models['gpt-4o-mini']!;
    // 1,000 in at $0.00015/1K + 2,000 out at $0.0006/1K
    expect(providerCostUsd(price, { inputTokens: 1000, cachedInputTokens: 0, outputTokens: 2000 })).toBeCloseTo(
      0.00135,
      10,
    );
    expect(providerCostUsd(price, { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 })).toBe(0);
  });

  it('every listed model has positive prices', () => {
    for (const list of PRICE_LISTS)
      for (const p of Object.values(list.models)) {
        expect(p.inputUsdPer1k).toBeGreaterThan(0);
        expect(p.outputUsdPer1k).toBeGreaterThan(0);
      }
  });
});

describe('overage against model cost', () => {
  it('flags a plan whose overage price is below the model price per token (served at a loss)', () => {
    const models = PRICE_LISTS[0]!.models;
    // Pro overage is $0.002 per 1K: gpt-4o-mini ($0.0006 out) is covered, gpt-4o ($0.01 out) is not.
    expect(unprofitableOverage(models['gpt-4o-mini']!)).toEqual([]);
    expect(unprofitableOverage(models['gpt-4o']!).map((p) => p.id)).toEqual(['pro']);
    // Plans without overage (free: hard cap) are never flagged.
    expect(unprofitableOverage({ inputUsdPer1k: 1, outputUsdPer1k: 1 }).map((p) => p.id)).toEqual(['pro']);
  });
});
