/**
 * Invoices as Stripe makes them: when a period ends, its invoice is created as a draft and finalized
 * `invoiceGraceSec` later (1 h by default, Stripe's default finalization grace period). Its metered line is the
 * meter's sum for the period as aggregated when it finalized: events received later are accepted and show in
 * summaries, but are on no invoice. Pending invoice items go onto the customer's next invoice.
 */
import type Stripe from 'stripe';
import type { InvoiceRecord, StripeState } from './state';
import type { Obj } from './types';

/**
 * The price of `qty` units on a (graduated tiered or per-unit) price, in cents, rounded once per line as Stripe
 * does.
 */
export function priceAmount(price: Obj, qty: number): number {
  type Tier = { up_to: number | null; unit_amount: number | null; unit_amount_decimal: string | null };
  const tiers = price.tiers as Tier[] | null;
  if (!tiers) return Math.round(qty * Number(price.unit_amount_decimal ?? price.unit_amount ?? 0));
  let left = qty;
  let below = 0;
  let total = 0;
  for (const t of tiers) {
    const cap = t.up_to ?? Infinity;
    const n = Math.max(0, Math.min(left, cap - below));
    total += n * Number(t.unit_amount_decimal ?? t.unit_amount ?? 0);
    left -= n;
    below = cap;
    if (left <= 0) break;
  }
  return Math.round(total);
}

/** The meter's sum for an invoice's usage line, counting events received (and aggregated) by `asOfMs`. */
function usageQuantity(s: StripeState, inv: InvoiceRecord, asOfMs: number): number {
  const usage = inv.usage!;
  const meterId = (usage.price.recurring as Obj).meter as string;
  const eventName = s.meters.get(meterId)?.event_name;
  return (s.meterEventsByCustomer.get(inv.customer) ?? [])
    .filter((e) => e.eventName === eventName && e.timestamp >= usage.start && e.timestamp < usage.end)
    .filter((e) => e.receivedAt <= asOfMs - s.summaryLagMs)
    .reduce((sum, e) => sum + e.value, 0);
}

/** A line for `quantity` units of a subscription item's price over `period`. */
function priceLine(
  lineId: string,
  invoiceId: string,
  subscription: string,
  subscriptionItem: string,
  price: Obj,
  quantity: number,
  period: { start: number; end: number },
): Obj {
  return {
    id: lineId,
    object: 'line_item',
    amount: priceAmount(price, quantity),
    currency: 'usd',
    description: `${quantity.toLocaleString('en-US')} × ${price.nickname ?? price.id}`,
    invoice: invoiceId,
    livemode: false,
    metadata: {},
    period,
    quantity,
    pricing: {
      type: 'price_details',
      price_details: { price: price.id, product: price.product },
      unit_amount_decimal: null,
    },
    parent: {
      type: 'subscription_item_details',
      invoice_item_details: null,
      subscription_item_details: {
        subscription,
        subscription_item: subscriptionItem,
        proration: false,
        invoice_item: null,
        proration_details: null,
      },
    },
    subscription,
  };
}

/** The line of a licensed (not metered) item: one unit of its price for [start, end). */
export const licensedLine = (
  invoiceId: string,
  subId: string,
  item: Stripe.SubscriptionItem,
  start: number,
  end: number,
) => {
  const price = item.price as unknown as Obj;
  return priceLine(`il_${invoiceId}_${item.id}`, invoiceId, subId, item.id, price, 1, { start, end });
};

/** The line of an invoice item pulled onto an invoice. */
function invoiceItemLine(invoiceId: string, iid: string, it: Obj): Obj {
  return {
    id: `il_${iid}`,
    object: 'line_item',
    amount: it.amount,
    currency: it.currency,
    description: it.description,
    invoice: invoiceId,
    livemode: false,
    metadata: it.metadata,
    period: it.period,
    quantity: it.quantity,
    pricing: { type: 'price_details', price_details: null, unit_amount_decimal: it.unit_amount_decimal },
    parent: {
      type: 'invoice_item_details',
      subscription_item_details: null,
      invoice_item_details: {
        invoice_item: iid,
        proration: false,
        proration_details: null,
        subscription: it.subscription,
      },
    },
    subscription: it.subscription,
  };
}

/**
 * An invoice as Stripe answers it now: a draft (live quantity, finalizing at `automatically_finalizes_at`) or
 * final and paid (frozen).
 */
export function renderInvoice(s: StripeState, inv: InvoiceRecord): Stripe.Invoice {
  const final = s.nowSec() >= inv.finalizesAt;
  const lines: Obj[] = [];
  if (inv.usage) {
    const q = usageQuantity(s, inv, final ? inv.finalizesAt * 1000 : s.now());
    const { price, subscriptionItem, start, end } = inv.usage;
    lines.push(priceLine(`il_${inv.id}_usage`, inv.id, inv.subscription, subscriptionItem, price, q, { start, end }));
  }
  lines.push(...inv.lines);
  for (const iid of inv.items) lines.push(invoiceItemLine(inv.id, iid, s.invoiceItems.get(iid)!));
  const total = lines.reduce((sum, l) => sum + Number(l.amount), 0);
  return {
    id: inv.id,
    object: 'invoice',
    customer: inv.customer,
    status: final ? 'paid' : 'draft',
    billing_reason: inv.billingReason,
    created: inv.created,
    period_start: inv.periodStart,
    period_end: inv.periodEnd,
    auto_advance: !final,
    automatically_finalizes_at: final ? null : inv.finalizesAt,
    status_transitions: {
      finalized_at: final ? inv.finalizesAt : null,
      paid_at: final ? inv.finalizesAt : null,
      marked_uncollectible_at: null,
      voided_at: null,
    },
    parent: {
      type: 'subscription_details',
      quote_details: null,
      subscription_details: { subscription: inv.subscription, metadata: inv.subscriptionMetadata },
    },
    lines: { object: 'list', data: lines, has_more: false, url: `/v1/invoices/${inv.id}/lines` },
    currency: 'usd',
    subtotal: total,
    total,
    amount_due: total,
    amount_paid: final ? total : 0,
    amount_remaining: final ? 0 : total,
    livemode: false,
  } as unknown as Stripe.Invoice;
}

/**
 * Stripe's invoice at a period's end: a draft for the ended period's metered usage (and, on a renewal, the
 * next period's base price), with the customer's pending invoice items; finalized `invoiceGraceSec` later.
 */
export function periodEndInvoice(
  s: StripeState,
  sub: Stripe.Subscription,
  usageStart: number,
  usageEnd: number,
  next?: { start: number; end: number },
): InvoiceRecord {
  const inv: InvoiceRecord = {
    id: s.id('in'),
    customer: String(sub.customer),
    subscription: sub.id,
    subscriptionMetadata: { ...(sub.metadata ?? {}) },
    billingReason: 'subscription_cycle',
    created: usageEnd,
    finalizesAt: usageEnd + s.invoiceGraceSec,
    periodStart: usageStart,
    periodEnd: usageEnd,
    lines: [],
    items: [],
  };
  for (const item of sub.items.data) {
    const price = item.price as unknown as Obj;
    const metered = (price.recurring as Obj | null)?.usage_type === 'metered';
    if (metered) inv.usage = { price, subscriptionItem: item.id, start: usageStart, end: usageEnd };
    else if (next) inv.lines.push(licensedLine(inv.id, sub.id, item, next.start, next.end));
  }
  for (const it of s.invoiceItems.values()) {
    const forThis = it.subscription === null || it.subscription === sub.id;
    if (it.invoice === null && it.customer === inv.customer && forThis) {
      it.invoice = inv.id;
      inv.items.push(String(it.id));
    }
  }
  s.invoices.set(inv.id, inv);
  return inv;
}

/** The invoice of a payment failing or succeeding (as the dunning scenarios send it). */
export function paymentInvoice(s: StripeState, sub: Stripe.Subscription, status: 'paid' | 'open'): Stripe.Invoice {
  const item = sub.items.data[0]!;
  return {
    id: s.id('in'),
    object: 'invoice',
    customer: sub.customer,
    status,
    created: s.nowSec(),
    period_start: item.current_period_start,
    period_end: item.current_period_end,
    parent: {
      type: 'subscription_details',
      quote_details: null,
      subscription_details: { subscription: sub.id, metadata: sub.metadata },
    },
    amount_due: 2000,
    amount_paid: status === 'paid' ? 2000 : 0,
    livemode: false,
  } as unknown as Stripe.Invoice;
}
