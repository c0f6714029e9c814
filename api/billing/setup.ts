/**
 * Idempotent Stripe setup (npm run stripe:setup; also the dev stand-in): the Pro product, the token meter,
 * the $20/month base price and the graduated metered price. Everything is found again by a stable handle
 * — the product id, the meter's event name, the prices' lookup keys — so running it twice creates nothing
 * new. Amounts come from api/config/plans.ts.
 */
import type Stripe from 'stripe';
import StripeSdk from 'stripe';
import { PLANS } from '../config/plans';

export const STRIPE_PRODUCT_ID = 'redraft_pro';
export const LOOKUP_KEYS = { base: 'redraft_pro_base_monthly', metered: 'redraft_pro_tokens_monthly' } as const;

export interface SetupResult {
  productId: string;
  meterId: string;
  basePriceId: string;
  meteredPriceId: string;
  /** What this run created (empty on a second run). */
  created: string[];
  warnings: string[];
}

/** Overage per token in cents, as an exact decimal string: $0.002 per 1,000 tokens → "0.0002". */
export function overageCentsPerToken(usdPer1k: number): string {
  return String(Number(((usdPer1k * 100) / 1000).toPrecision(12)));
}

/** The metered price's tiers: the included allowance at 0, then the overage per token (graduated). */
export function meteredTiers() {
  const pro = PLANS.pro;
  return [
    { up_to: pro.includedTokens, unit_amount: 0 },
    { up_to: 'inf' as const, unit_amount_decimal: StripeSdk.Decimal.from(overageCentsPerToken(pro.overageUsdPer1k)) },
  ];
}

function tiersMatch(price: Stripe.Price): boolean {
  const t = price.tiers;
  if (!t || t.length !== 2) return false;
  const [first, rest] = t as [Stripe.Price.Tier, Stripe.Price.Tier];
  const expected = overageCentsPerToken(PLANS.pro.overageUsdPer1k);
  return first.up_to === PLANS.pro.includedTokens && Number(first.unit_amount ?? first.unit_amount_decimal ?? 0) === 0 && rest.up_to === null && String(rest.unit_amount_decimal) === expected;
}

export async function setupStripe(stripe: Stripe, opts: { meterEventName: string; log?: (line: string) => void }): Promise<SetupResult> {
  const log = opts.log ?? (() => {});
  const created: string[] = [];
  const warnings: string[] = [];

  // Product (custom id).
  let product: Stripe.Product;
  try {
    product = await stripe.products.retrieve(STRIPE_PRODUCT_ID);
    log(`product ${product.id}: exists`);
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    product = await stripe.products.create({ id: STRIPE_PRODUCT_ID, name: 'Redraft Pro', description: `${PLANS.pro.includedTokens.toLocaleString('en-US')} tokens a month included; $${PLANS.pro.overageUsdPer1k} per 1,000 tokens over` });
    created.push(`product ${product.id}`);
    log(`product ${product.id}: created`);
  }

  // Meter (one active meter per event name).
  let meter: Stripe.Billing.Meter | undefined;
  for await (const m of stripe.billing.meters.list({ status: 'active', limit: 100 })) {
    if (m.event_name === opts.meterEventName) {
      meter = m;
      break;
    }
  }
  if (meter) {
    log(`meter ${meter.id} (${meter.event_name}): exists`);
    if (meter.default_aggregation.formula !== 'sum') warnings.push(`meter ${meter.id} aggregates with "${meter.default_aggregation.formula}", not "sum": usage would be billed wrongly`);
  } else {
    meter = await stripe.billing.meters.create({
      display_name: 'Redraft tokens',
      event_name: opts.meterEventName,
      default_aggregation: { formula: 'sum' },
      customer_mapping: { type: 'by_id', event_payload_key: 'stripe_customer_id' },
      value_settings: { event_payload_key: 'value' },
    });
    created.push(`meter ${meter.id}`);
    log(`meter ${meter.id} (${meter.event_name}): created`);
  }

  // Prices, found by lookup key. Prices are immutable: one that no longer matches is replaced (the
  // lookup key moves to the new one; existing subscriptions keep the old price until migrated).
  const existing = await stripe.prices.list({ lookup_keys: [LOOKUP_KEYS.base, LOOKUP_KEYS.metered], active: true, expand: ['data.tiers'], limit: 10 });
  const byKey = new Map(existing.data.map((p) => [p.lookup_key, p]));

  let base = byKey.get(LOOKUP_KEYS.base);
  const baseCents = Math.round(PLANS.pro.baseUsdPerMonth * 100);
  if (base && (base.unit_amount !== baseCents || base.recurring?.interval !== 'month')) {
    warnings.push(`base price ${base.id} is not $${PLANS.pro.baseUsdPerMonth}/month: replaced`);
    base = undefined;
  }
  if (base) log(`base price ${base.id}: exists`);
  else {
    base = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: baseCents, recurring: { interval: 'month' }, lookup_key: LOOKUP_KEYS.base, transfer_lookup_key: true, nickname: 'Redraft Pro (monthly)' });
    created.push(`price ${base.id} (base)`);
    log(`base price ${base.id}: created`);
  }

  let metered = byKey.get(LOOKUP_KEYS.metered);
  if (metered && (metered.recurring?.meter !== meter.id || metered.recurring?.usage_type !== 'metered' || metered.tiers_mode !== 'graduated' || !tiersMatch(metered))) {
    warnings.push(`metered price ${metered.id} does not match the meter or the tiers: replaced`);
    metered = undefined;
  }
  if (metered) log(`metered price ${metered.id}: exists`);
  else {
    metered = await stripe.prices.create({
      product: product.id,
      currency: 'usd',
      recurring: { interval: 'month', usage_type: 'metered', meter: meter.id },
      billing_scheme: 'tiered',
      tiers_mode: 'graduated',
      tiers: meteredTiers(),
      lookup_key: LOOKUP_KEYS.metered,
      transfer_lookup_key: true,
      nickname: 'Redraft tokens (graduated: included, then per token)',
    });
    created.push(`price ${metered.id} (metered)`);
    log(`metered price ${metered.id}: created`);
  }

  return { productId: product.id, meterId: meter.id, basePriceId: base.id, meteredPriceId: metered.id, created, warnings };
}

/** The webhook events the endpoint must be subscribed to. */
export const WEBHOOK_EVENTS = [
  'checkout.session.completed',
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'invoice.paid',
  'invoice.payment_failed',
] as const;
