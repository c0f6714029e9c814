/**
 * Scenario helpers: what Stripe does on its side (complete a Checkout, renew a period, schedule a cancellation,
 * end a subscription, fail or pay an invoice). Each changes the state as Stripe would and returns the webhook
 * events Stripe would send; `deliver` (webhooks.ts) sends them.
 */
import type Stripe from 'stripe';
import { event } from './events';
import { licensedLine, paymentInvoice, periodEndInvoice, renderInvoice } from './invoices';
import { createCustomer } from './routes/customers';
import type { InvoiceRecord, StripeState } from './state';
import type { Obj } from './types';
import { addMonthsSec, sec, str } from './values';

const mustSub = (s: StripeState, subId: string) => {
  const sub = s.subscriptions.get(subId);
  if (!sub) throw new Error(`stand-in: no subscription ${subId}`);
  return sub;
};

const subscriptionItem = (s: StripeState, subId: string, price: Obj, start: number, end: number) =>
  ({
    id: s.id('si'),
    object: 'subscription_item',
    created: start,
    current_period_start: start,
    current_period_end: end,
    metadata: {},
    price,
    quantity: (price.recurring as Obj | undefined)?.usage_type === 'metered' ? undefined : 1,
    subscription: subId,
    discounts: [],
    tax_rates: [],
    billing_thresholds: null,
  }) as unknown as Stripe.SubscriptionItem;

export function completeCheckout(s: StripeState, sessionId: string, at = s.now()): Stripe.Event[] {
  const session = s.sessions.get(sessionId);
  if (!session) throw new Error(`stand-in: no checkout session ${sessionId}`);
  if (session.status === 'complete') throw new Error(`stand-in: checkout session ${sessionId} is already complete`);
  let customer = str(session.customer);
  const events: Stripe.Event[] = [];
  customer ??= createCustomer(s, { email: null, name: null, metadata: {}, created: sec(at) }).id;
  const start = sec(at);
  const end = addMonthsSec(start, 1);
  const subId = s.id('sub');
  const sub = {
    id: subId,
    object: 'subscription',
    customer,
    status: 'active',
    billing_cycle_anchor: start,
    cancel_at_period_end: false,
    cancel_at: null,
    canceled_at: null,
    ended_at: null,
    created: start,
    start_date: start,
    metadata: session.subscription_metadata as Record<string, string>,
    items: {
      object: 'list',
      data: [] as Stripe.SubscriptionItem[],
      has_more: false,
      url: `/v1/subscription_items?subscription=${subId}`,
    },
    livemode: false,
  } as unknown as Stripe.Subscription;
  for (const priceId of session.line_items_prices as string[]) {
    sub.items.data.push(subscriptionItem(s, subId, s.prices.get(priceId)!, start, end));
  }
  s.subscriptions.set(subId, sub);
  Object.assign(session, { status: 'complete', customer, subscription: subId, payment_status: 'paid' });
  // The first invoice: the first period's base price, paid at once (metered usage is billed in arrears).
  const first: InvoiceRecord = {
    id: s.id('in'),
    customer,
    subscription: subId,
    subscriptionMetadata: { ...sub.metadata },
    billingReason: 'subscription_create',
    created: start,
    finalizesAt: start,
    periodStart: start,
    periodEnd: start,
    lines: [],
    items: [],
  };
  for (const item of sub.items.data) {
    const recurring = (item.price as unknown as Obj).recurring as Obj | null;
    if (recurring && recurring.usage_type !== 'metered') {
      first.lines.push(licensedLine(first.id, subId, item, start, end));
    }
  }
  s.invoices.set(first.id, first);
  events.push(event(s, 'customer.subscription.created', sub));
  events.push(event(s, 'checkout.session.completed', session));
  events.push(event(s, 'invoice.paid', renderInvoice(s, first)));
  return events;
}

export function renew(s: StripeState, subscriptionId: string, at?: number): Stripe.Event[] {
  const sub = mustSub(s, subscriptionId);
  const prev = sub.items.data[0]!;
  const start = prev.current_period_end;
  let k = 1;
  while (addMonthsSec(sub.billing_cycle_anchor, k) <= start) k++;
  const end = addMonthsSec(sub.billing_cycle_anchor, k);
  if (at !== undefined && sec(at) < start) throw new Error('stand-in: renew before the period ended');
  const previous = { items: structuredClone(sub.items) } as Obj;
  // The ended period's invoice: a draft now, finalized after the grace period (invoice.created is sent now).
  const inv = periodEndInvoice(s, sub, prev.current_period_start, start, { start, end });
  for (const item of sub.items.data) Object.assign(item, { current_period_start: start, current_period_end: end });
  if (sub.status === 'past_due') sub.status = 'active';
  return [event(s, 'customer.subscription.updated', sub, previous), event(s, 'invoice.created', renderInvoice(s, inv))];
}

export function setCancelAtPeriodEnd(s: StripeState, subscriptionId: string, cancel: boolean): Stripe.Event[] {
  const sub = mustSub(s, subscriptionId);
  const previous = { cancel_at_period_end: sub.cancel_at_period_end, cancel_at: sub.cancel_at };
  sub.cancel_at_period_end = cancel;
  sub.cancel_at = cancel ? sub.items.data[0]!.current_period_end : null;
  return [event(s, 'customer.subscription.updated', sub, previous)];
}

export function endSubscription(s: StripeState, subscriptionId: string, at = s.now()): Stripe.Event[] {
  const sub = mustSub(s, subscriptionId);
  const item = sub.items.data[0]!;
  Object.assign(sub, { status: 'canceled', ended_at: sec(at), canceled_at: sub.canceled_at ?? sec(at) });
  // Ending at its period end, the subscription's last invoice bills that period's usage. (Cancelled
  // before the end, Stripe by default invoices no metered usage: `invoice_now` is false.)
  if (sec(at) >= item.current_period_end) {
    const inv = periodEndInvoice(s, sub, item.current_period_start, item.current_period_end);
    return [event(s, 'customer.subscription.deleted', sub), event(s, 'invoice.created', renderInvoice(s, inv))];
  }
  return [event(s, 'customer.subscription.deleted', sub)];
}

/** The subscription's payment fails: its invoice is open and the subscription past due. */
export const failPayment = (s: StripeState, subscriptionId: string) => paymentOutcome(s, subscriptionId, false);

/** The subscription's invoice is paid: the subscription is active again. */
export const payInvoice = (s: StripeState, subscriptionId: string) => paymentOutcome(s, subscriptionId, true);

function paymentOutcome(s: StripeState, subscriptionId: string, paid: boolean): Stripe.Event[] {
  const sub = mustSub(s, subscriptionId);
  const previous = { status: sub.status };
  sub.status = paid ? 'active' : 'past_due';
  const invoice = paymentInvoice(s, sub, paid ? 'paid' : 'open');
  return [
    event(s, paid ? 'invoice.paid' : 'invoice.payment_failed', invoice),
    event(s, 'customer.subscription.updated', sub, previous),
  ];
}
