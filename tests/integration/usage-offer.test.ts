/**
 * GET /v1/usage says what Upgrade costs (`proPlan`), so the popup can show the price without knowing any
 * figure itself — and the figure is the one Stripe charges: the base price `npm run stripe:setup` created
 * (real setup code against the Stripe stand-in) and the metered price's overage tier.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStripeClient } from '../../api/billing/stripe/gateway';
import { PLANS } from '../../api/config/plans';
import type { UsageResponse } from '../../shared/contract';
import { startBillingStack, type BillingStack } from '../support/billing';

let b: BillingStack;

beforeAll(async () => {
  b = await startBillingStack();
});
afterAll(async () => {
  await b?.close();
});

describe('GET /v1/usage: the Pro offer', () => {
  it('a free user gets the Pro price, allowance, overage rate and maximum spending cap, with canUpgrade', async () => {
    const api = await b.as('user_offer_free');
    const res = await api('/v1/usage');
    expect(res.status).toBe(200);
    const u = (await res.json()) as UsageResponse;
    expect(u.plan).toBe('free');
    expect(u.billing).toMatchObject({ enabled: true, canUpgrade: true });
    expect(u.proPlan).toEqual({
      id: 'pro',
      monthlyPriceUsd: 20,
      includedTokens: 500_000,
      overageUsdPer1kTokens: 0.002,
      maxOverageCapUsd: 50,
    });
    expect(u.proPlan.includedTokens).toBe(PLANS.pro.includedTokens);
    // The cap and the rate are what the Pro hard cap is made of.
    expect(PLANS.pro.includedTokens + (u.proPlan.maxOverageCapUsd / u.proPlan.overageUsdPer1kTokens) * 1000).toBe(
      PLANS.pro.hardCapTokens,
    );
  });

  it('the advertised price is the one Stripe bills: the base price and the metered overage tier', async () => {
    const u = (await (await (await b.as('user_offer_stripe'))('/v1/usage')).json()) as UsageResponse;
    const stripe = createStripeClient({
      secretKey: 'sk_test_standin',
      api: { host: '127.0.0.1', port: b.stripe.port, protocol: 'http' },
      timeoutMs: 5000,
    });
    const base = await stripe.prices.retrieve(b.setup.basePriceId);
    expect(base).toMatchObject({
      unit_amount: u.proPlan.monthlyPriceUsd * 100,
      currency: 'usd',
      recurring: { interval: 'month' },
    });
    const metered = await stripe.prices.retrieve(b.setup.meteredPriceId, { expand: ['tiers'] });
    const tiers = metered.tiers ?? [];
    // Graduated: the included tokens free, then a per-token price (in cents) for every token above them.
    expect(tiers[0]).toMatchObject({ up_to: u.proPlan.includedTokens });
    expect(Number(tiers.at(-1)!.unit_amount_decimal) * 1000).toBeCloseTo(u.proPlan.overageUsdPer1kTokens * 100, 10);
  });

  it('is there without billing too (the popup shows Upgrade only when billing.canUpgrade)', async () => {
    const { startStack } = await import('../support/stack');
    const plain = await startStack();
    try {
      const token = await plain.token('user_offer_plain');
      const u = (await (
        await fetch(`${plain.api}/v1/usage`, { headers: { Authorization: `Bearer ${token}` } })
      ).json()) as UsageResponse;
      expect(u.billing.canUpgrade).toBe(false);
      expect(u.proPlan.monthlyPriceUsd).toBe(PLANS.pro.baseUsdPerMonth);
    } finally {
      await plain.close();
    }
  });
});
