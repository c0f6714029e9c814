/**
 * Idempotent Stripe setup (npm run stripe:setup; also the dev stand-in): the Pro product, the token meter,
 * the $20/month base price and the graduated metered price. Everything is found again by a stable handle
 * — the product id, the meter's event name, the prices' lookup keys — so running it twice creates nothing
 * new. Amounts come from api/config/plans.ts.
 */
import type Stripe from 'stripe';
import StripeSdk from 'stripe';
import { overageCentsPerToken, PLANS } from '../../config/plans';

export const STRIPE_PRODUCT_ID = 'redraft_pro';
export const LOOKUP_KEYS = { base: 'redraft_pro_base_monthly', metered: 'redraft_pro_tokens_monthly' } as const;

/** A webhook endpoint (or event destination) setup made sure of; Stripe shows a secret only when it creates one. */
export interface EndpointResult {
  id: string;
  url: string;
  apiVersion?: string;
  secret: string | undefined;
  created: boolean;
  updated: boolean;
}

export interface SetupResult {
  productId: string;
  meterId: string;
  basePriceId: string;
  meteredPriceId: string;
  /** The v1 webhook endpoint (snapshot events, the SDK's API version), when a webhook URL was given. */
  webhook?: EndpointResult;
  /** The v2 event destination for thin events (asynchronous meter errors) at `<webhook URL>/thin`. */
  thinWebhook?: EndpointResult;
  /** Whether the account has a default customer portal configuration (saved once in the Dashboard). */
  portalConfigured: boolean | undefined;
  /** What this run created (empty on a second run). */
  created: string[];
  warnings: string[];
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
  if (t?.length !== 2) return false;
  const [first, rest] = t as [Stripe.Price.Tier, Stripe.Price.Tier];
  const expected = overageCentsPerToken(PLANS.pro.overageUsdPer1k);
  return (
    first.up_to === PLANS.pro.includedTokens &&
    Number(first.unit_amount ?? first.unit_amount_decimal ?? 0) === 0 &&
    rest.up_to === null &&
    String(rest.unit_amount_decimal) === expected
  );
}

export async function setupStripe(
  stripe: Stripe,
  opts: { meterEventName: string; webhookUrl?: string; log?: (line: string) => void },
): Promise<SetupResult> {
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
    product = await stripe.products.create({
      id: STRIPE_PRODUCT_ID,
      name: 'Redraft Pro',
      description: `${PLANS.pro.includedTokens.toLocaleString('en-US')} tokens a month included; $${PLANS.pro.overageUsdPer1k} per 1,000 tokens over`,
    });
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
    if (meter.default_aggregation.formula !== 'sum')
      warnings.push(
        `meter ${meter.id} aggregates with "${meter.default_aggregation.formula}", not "sum": usage would be billed wrongly`,
      );
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
  const existing = await stripe.prices.list({
    lookup_keys: [LOOKUP_KEYS.base, LOOKUP_KEYS.metered],
    active: true,
    expand: ['data.tiers'],
    limit: 10,
  });
  const byKey = new Map(existing.data.map((p) => [p.lookup_key, p]));

  let base = byKey.get(LOOKUP_KEYS.base);
  const baseCents = Math.round(PLANS.pro.baseUsdPerMonth * 100);
  if (base && (base.unit_amount !== baseCents || base.recurring?.interval !== 'month')) {
    warnings.push(`base price ${base.id} is not $${PLANS.pro.baseUsdPerMonth}/month: replaced`);
    base = undefined;
  }
  if (base) log(`base price ${base.id}: exists`);
  else {
    base = await stripe.prices.create({
      product: product.id,
      currency: 'usd',
      unit_amount: baseCents,
      recurring: { interval: 'month' },
      lookup_key: LOOKUP_KEYS.base,
      transfer_lookup_key: true,
      nickname: 'Redraft Pro (monthly)',
    });
    created.push(`price ${base.id} (base)`);
    log(`base price ${base.id}: created`);
  }

  let metered = byKey.get(LOOKUP_KEYS.metered);
  if (
    metered &&
    (metered.recurring?.meter !== meter.id ||
      metered.recurring?.usage_type !== 'metered' ||
      metered.tiers_mode !== 'graduated' ||
      !tiersMatch(metered))
  ) {
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

  let webhook: EndpointResult | undefined;
  let thinWebhook: EndpointResult | undefined;
  if (opts.webhookUrl) {
    webhook = await webhookEndpoint(stripe, opts.webhookUrl, created, warnings, log);
    thinWebhook = await thinDestination(stripe, `${opts.webhookUrl.replace(/\/$/, '')}/thin`, created, log);
  }

  // The customer portal needs its settings saved once in the Dashboard (per mode); the API cannot do it.
  let portalConfigured: boolean | undefined;
  try {
    portalConfigured = (await stripe.billingPortal.configurations.list({ is_default: true, limit: 1 })).data.length > 0;
    if (!portalConfigured)
      warnings.push(
        'the customer portal is not configured: save its settings once in the Dashboard (Settings → Billing → Customer portal); until then POST /v1/billing/portal answers billing_portal_not_configured',
      );
  } catch {
    portalConfigured = undefined; // a restricted key without portal access: not fatal for setup
  }

  return {
    productId: product.id,
    meterId: meter.id,
    basePriceId: base.id,
    meteredPriceId: metered.id,
    ...(webhook ? { webhook } : {}),
    ...(thinWebhook ? { thinWebhook } : {}),
    portalConfigured,
    created,
    warnings,
  };
}

/**
 * The v1 webhook endpoint at `url`, in the SDK's pinned API version (the shapes the handler reads), with
 * the events it needs. An endpoint's API version cannot be changed: one of another version is replaced by
 * a new one (the old one is left for the operator to delete once the new secret is deployed).
 */
async function webhookEndpoint(
  stripe: Stripe,
  url: string,
  created: string[],
  warnings: string[],
  log: (line: string) => void,
): Promise<EndpointResult> {
  const all: Stripe.WebhookEndpoint[] = [];
  for await (const e of stripe.webhookEndpoints.list({ limit: 100 })) if (e.url === url) all.push(e);
  const current = all.find((e) => e.api_version === StripeSdk.API_VERSION);
  for (const e of all.filter((x) => x.api_version !== StripeSdk.API_VERSION)) {
    warnings.push(
      `webhook endpoint ${e.id} (${url}) renders events in API version ${e.api_version ?? '(account default)'}, not ${StripeSdk.API_VERSION}: the API refuses those events (400). Deploy the new endpoint's secret, then delete ${e.id}.`,
    );
  }
  if (current) {
    const missing = WEBHOOK_EVENTS.filter(
      (t) => !current.enabled_events.includes(t) && !current.enabled_events.includes('*'),
    );
    if (missing.length > 0) {
      await stripe.webhookEndpoints.update(current.id, {
        enabled_events: [
          ...new Set([...current.enabled_events, ...missing]),
        ] as Stripe.WebhookEndpointUpdateParams.EnabledEvent[],
      });
      log(`webhook endpoint ${current.id} (${url}): added ${missing.join(', ')}`);
    } else log(`webhook endpoint ${current.id} (${url}, ${StripeSdk.API_VERSION}): exists`);
    return {
      id: current.id,
      url,
      apiVersion: StripeSdk.API_VERSION,
      secret: undefined,
      created: false,
      updated: missing.length > 0,
    };
  }
  const e = await stripe.webhookEndpoints.create({
    url,
    enabled_events: [...WEBHOOK_EVENTS],
    api_version: StripeSdk.API_VERSION as Stripe.WebhookEndpointCreateParams.ApiVersion,
    description: 'Redraft API (npm run stripe:setup)',
  });
  created.push(`webhook endpoint ${e.id}`);
  log(`webhook endpoint ${e.id} (${url}, ${StripeSdk.API_VERSION}): created`);
  return { id: e.id, url, apiVersion: StripeSdk.API_VERSION, secret: e.secret, created: true, updated: false };
}

/** The v2 event destination (thin payloads) for Stripe's asynchronous meter errors, at `url`. */
async function thinDestination(
  stripe: Stripe,
  url: string,
  created: string[],
  log: (line: string) => void,
): Promise<EndpointResult> {
  let found: Stripe.V2.Core.EventDestination | undefined;
  for await (const d of stripe.v2.core.eventDestinations.list({ include: ['webhook_endpoint.url'], limit: 100 })) {
    if (d.webhook_endpoint?.url === url && d.event_payload === 'thin') {
      found = d;
      break;
    }
  }
  if (found) {
    const missing = THIN_EVENTS.filter((t) => !found!.enabled_events.includes(t));
    if (missing.length > 0)
      await stripe.v2.core.eventDestinations.update(found.id, {
        enabled_events: [...new Set([...found.enabled_events, ...missing])],
      });
    log(`event destination ${found.id} (${url}): ${missing.length > 0 ? `added ${missing.join(', ')}` : 'exists'}`);
    return { id: found.id, url, secret: undefined, created: false, updated: missing.length > 0 };
  }
  const d = await stripe.v2.core.eventDestinations.create({
    name: 'redraft-meter-errors',
    description: 'Redraft API: asynchronous meter errors (npm run stripe:setup)',
    type: 'webhook_endpoint',
    event_payload: 'thin',
    enabled_events: [...THIN_EVENTS],
    webhook_endpoint: { url },
    include: ['webhook_endpoint.signing_secret'],
  });
  created.push(`event destination ${d.id}`);
  log(`event destination ${d.id} (${url}, thin: ${THIN_EVENTS.join(', ')}): created`);
  return { id: d.id, url, secret: d.webhook_endpoint?.signing_secret, created: true, updated: false };
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

/** The thin events the meter-error route handles (api/billing/meter-errors.ts). */
export const THIN_EVENTS = ['v1.billing.meter.error_report_triggered', 'v1.billing.meter.no_meter_found'] as const;

/**
 * The invoice finalization grace period (whole hours, Stripe allows up to 72) that lets a period's last
 * usage reach its own invoice when period-end report runs can be `gapMinutes` apart: the gap, the flush
 * delay after the period ends (~4 min) and the reporter's margin before finalization (15 min).
 */
export function recommendedGraceHours(gapMinutes: number): number {
  return Math.min(72, Math.max(1, Math.ceil((gapMinutes + 4 + 15) / 60)));
}
