/**
 * What a Stripe subscription entitles its user to — pure, from the object in a webhook event (or
 * retrieved from Stripe). Uses the current API shapes: the billing period lives on each subscription
 * item (`items.data[i].current_period_start/end`), not on the subscription.
 */
import type Stripe from 'stripe';

export interface Entitlement {
  subscriptionId: string;
  customerId: string;
  /** `metadata.userId` we put on the subscription at Checkout, when present. */
  userIdHint: string | undefined;
  status: string;
  /** Pro access: active, trialing, or past_due (a failed payment Stripe is still retrying). */
  entitled: boolean;
  /** A payment failed: keep Pro, but cap usage at the included allowance (no new overage) until paid. */
  pastDue: boolean;
  /** The item carrying the metered price (usage is reported against its customer's meter). */
  meteredItemId: string | undefined;
  /** The metered item's current period, epoch ms. */
  periodStart: number;
  periodEnd: number;
  /** Billing cycle anchor, epoch ms: monthly periods are counted from it. */
  anchor: number;
  /** Ends with the current period (cancel_at_period_end, or cancel_at at the period's end). */
  cancelAtPeriodEnd: boolean;
  /** Deleted or expired: the subscription will never be active again. */
  ended: boolean;
}

const ENTITLED = new Set(['active', 'trialing', 'past_due']);
const ENDED = new Set(['canceled', 'incomplete_expired']);

const idOf = (v: string | { id: string } | null | undefined): string | undefined => (typeof v === 'string' ? v : v?.id);

export function entitlementOf(sub: Stripe.Subscription, meteredPriceId: string): Entitlement {
  const items = sub.items?.data ?? [];
  const metered =
    items.find((i) => idOf(i.price) === meteredPriceId) ??
    items.find((i) => i.price?.recurring?.usage_type === 'metered') ??
    items[0];
  if (!metered) throw new Error(`subscription ${sub.id} has no items`);
  // Older API versions have the period on the subscription, not its items: never turn that into NaN.
  if (!Number.isInteger(metered.current_period_start) || !Number.isInteger(metered.current_period_end)) {
    throw new Error(
      `subscription ${sub.id} has no items.data[].current_period_start/end (an API version before 2025-03-31?)`,
    );
  }
  const periodStart = metered.current_period_start * 1000;
  const periodEnd = metered.current_period_end * 1000;
  const customerId = idOf(sub.customer as string | { id: string });
  if (!customerId) throw new Error(`subscription ${sub.id} has no customer`);
  const status = String(sub.status);
  const cancelAt = sub.cancel_at != null ? sub.cancel_at * 1000 : undefined;
  return {
    subscriptionId: sub.id,
    customerId,
    userIdHint: sub.metadata?.userId || undefined,
    status,
    entitled: ENTITLED.has(status),
    pastDue: status === 'past_due',
    meteredItemId: metered.id,
    periodStart,
    periodEnd,
    anchor: (sub.billing_cycle_anchor ?? metered.current_period_start) * 1000,
    cancelAtPeriodEnd: sub.cancel_at_period_end === true || (cancelAt !== undefined && cancelAt <= periodEnd),
    ended: ENDED.has(status),
  };
}

/** The subscription an invoice belongs to (`parent.subscription_details.subscription` in current API versions). */
export function subscriptionOfInvoice(invoice: Stripe.Invoice): string | undefined {
  return idOf(invoice.parent?.subscription_details?.subscription as string | { id: string } | undefined);
}
