/**
 * The local stack with billing on: the Stripe stand-in (set up with the real `npm run stripe:setup` code
 * through the real SDK), and the API configured against it, with a webhook secret the tests sign with.
 */
import { randomBytes } from 'node:crypto';
import type Stripe from 'stripe';
import { setupStripe, type SetupResult } from '../../api/billing/operator/setup';
import { createStripeClient } from '../../api/billing/stripe/gateway';
import type { ServiceOptions } from '../../api/services';
import { handleStripeEvent } from '../../api/billing/entitlements/entitlements';
import { startStack, type Stack } from './stack';
import { startStripeServer, type StripeServer, type StripeServerOptions } from '../../standins/stripe';
import { periodWindowSec } from '../../api/billing/reporting/batches';

export interface BillingStack {
  stack: Stack;
  stripe: StripeServer;
  setup: SetupResult;
  webhook: { url: string; secret: string };
  /** The thin-event route (Stripe's asynchronous meter errors) and its signing secret. */
  thinWebhook: { url: string; secret: string };
  /** Sign and POST events to the API's webhook endpoint; returns the HTTP statuses. */
  deliver(events: Stripe.Event[]): Promise<number[]>;
  /** `fetch` to the API as a user. */
  as(userId: string): Promise<(path: string, init?: RequestInit) => Promise<Response>>;
  close(): Promise<void>;
}

export const CRON_SECRET = 'cron-secret-for-tests-0123456789';

export async function standInSetup(stripe: StripeServer): Promise<SetupResult> {
  const client = createStripeClient({
    secretKey: 'sk_test_standin',
    api: { host: '127.0.0.1', port: stripe.port, protocol: 'http' },
    timeoutMs: 5000,
  });
  return setupStripe(client, { meterEventName: 'redraft_tokens' });
}

export async function startBillingStack(
  opts: { env?: Record<string, string>; stripe?: StripeServerOptions; services?: ServiceOptions } = {},
): Promise<BillingStack> {
  // The portal's settings saved once (the Dashboard step of the README): tests that need it unset say so.
  const stripe = await startStripeServer({ portalConfigured: true, ...opts.stripe });
  const setup = await standInSetup(stripe);
  const secret = `whsec_${randomBytes(16).toString('hex')}`;
  const thinSecret = `whsec_${randomBytes(16).toString('hex')}`;
  const stack = await startStack({
    env: {
      ...stripe.env({
        webhookSecret: secret,
        thinWebhookSecret: thinSecret,
        priceBase: setup.basePriceId,
        priceMetered: setup.meteredPriceId,
      }),
      STRIPE_TIMEOUT_MS: '2000',
      REPORT_USAGE_INTERVAL_MINUTES: '0',
      CRON_SECRET,
      RATE_LIMIT_RPM: '1000',
      ...opts.env,
    },
    ...(opts.services ? { services: opts.services } : {}),
  });
  const webhook = { url: `${stack.api}/webhooks/stripe`, secret };
  // The stand-in's Checkout and portal pages deliver their events to this API, as Stripe would, and its
  // asynchronous meter errors go to the thin-event route (as an event destination would).
  if (!opts.stripe?.webhook) stripe.setWebhook(webhook);
  const thinWebhook = { url: `${stack.api}/webhooks/stripe/thin`, secret: thinSecret };
  stripe.setThinWebhook(thinWebhook);
  return {
    stack,
    stripe,
    setup,
    webhook,
    thinWebhook,
    deliver: (events) => stripe.deliver(events, webhook),
    async as(userId) {
      const token = await stack.token(userId);
      return (path, init = {}) =>
        fetch(`${stack.api}${path}`, {
          ...init,
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...(init.headers ?? {}) },
        });
    },
    async close() {
      await stack.close();
      await stripe.close();
    },
  };
}

/**
 * Subscribe a user without HTTP: customer + Checkout Session through the real SDK (gateway), Stripe
 * completes it (stand-in), and its events go through the real webhook handler (signature aside).
 */
export async function subscribeDirect(
  b: BillingStack,
  userId: string,
): Promise<{ subscriptionId: string; customerId: string; period: { start: number; end: number } }> {
  const billing = b.stack.services.billing!;
  const now = b.stack.services.now();
  const customerId = await billing.entitlements.linkCustomer(userId, await billing.gateway.createCustomer(userId), now);
  const url = await billing.gateway.createCheckoutSession({ userId, customerId });
  const sessionId = url.split('/').pop()!;
  for (const event of b.stripe.completeCheckout(sessionId, now)) {
    await handleStripeEvent(event, {
      store: billing.entitlements,
      gateway: billing.gateway,
      meteredPriceId: b.setup.meteredPriceId,
      now: b.stack.services.now,
    });
  }
  const sub = b.stripe.subscription(String(b.stripe.checkoutSession(sessionId)!.subscription))!;
  return {
    subscriptionId: sub.id,
    customerId,
    period: {
      start: sub.items.data[0]!.current_period_start * 1000,
      end: sub.items.data[0]!.current_period_end * 1000,
    },
  };
}

/** Apply stand-in events through the real handler (no HTTP). */
export async function applyEvents(b: BillingStack, events: Stripe.Event[]): Promise<string[]> {
  const billing = b.stack.services.billing!;
  const out: string[] = [];
  for (const event of events)
    out.push(
      (
        await handleStripeEvent(event, {
          store: billing.entitlements,
          gateway: billing.gateway,
          meteredPriceId: b.setup.meteredPriceId,
          now: b.stack.services.now,
        })
      ).outcome,
    );
  return out;
}

let seq = 0;
/**
 * One request's usage through the real quota scripts: reserve at `at`, settle `tokens` ending at
 * `endedAt` (default `at`). Returns what was billed.
 */
export async function seedUsage(
  stack: Stack,
  userId: string,
  tokens: number,
  at: number,
  endedAt = at,
): Promise<number> {
  const requestId = `seed_${(++seq).toString(36)}_${Math.random().toString(36).slice(2, 10)}`;
  const r = await stack.services.quota.reserve(userId, requestId, tokens, 1, at, `att_${requestId}`);
  if (!r.ok) throw new Error(`seed reservation refused: ${JSON.stringify(r)}`);
  const s = await stack.services.quota.settle(userId, r.period, {
    requestId,
    userId,
    action: 'rewrite',
    model: 'gpt-4o-mini',
    provider: 'openai',
    inputTokens: tokens,
    outputTokens: 0,
    cachedInputTokens: 0,
    reasoningTokens: 0,
    usageAnomalies: [],
    costUsd: 0,
    priceVersion: '',
    status: 'completed',
    source: 'provider',
    startedAt: at,
    endedAt,
    promptVersion: 'seed',
  });
  if (!s.ok) throw new Error('seed settlement missing');
  return s.billed;
}

/**
 * What Stripe bills a customer for one period, by the stand-in's own state: while the period's invoice is
 * not final, what the meter holds for it (events by timestamp); once final, the invoice's metered quantity.
 * Plus our invoice items for the period (usage that missed its invoice, by metadata).
 */
export function billedFor(
  stripe: StripeServer,
  customerId: string,
  period: { start: number; end: number },
): { billed: number; meter: number; invoice: string | undefined; onInvoice: number; items: number; itemCents: number } {
  const w = periodWindowSec(period.start, period.end);
  const meter = stripe.totals(w).get(customerId) ?? 0;
  const inv = stripe
    .invoices(customerId)
    .find((i) => i.billing_reason === 'subscription_cycle' && i.period_end === Math.floor(period.end / 1000));
  const line = inv?.lines.data.find(
    (l) => l.parent?.type === 'subscription_item_details' && l.period.start === Math.floor(period.start / 1000),
  );
  const items = stripe
    .invoiceItems(customerId)
    .filter((i) => i.metadata?.rd_period_start === String(Math.floor(period.start / 1000)));
  const itemTokens = items.reduce((sum, i) => sum + Number(i.metadata!.rd_tokens), 0);
  const final = inv !== undefined && inv.status !== 'draft';
  return {
    billed: (final ? (line?.quantity ?? 0) : meter) + itemTokens,
    meter,
    invoice: inv?.status ?? undefined,
    onInvoice: line?.quantity ?? 0,
    items: itemTokens,
    itemCents: items.reduce((sum, i) => sum + i.amount, 0),
  };
}
