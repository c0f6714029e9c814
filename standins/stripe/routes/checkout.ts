/** Checkout Sessions (subscription mode): the session's URL is the stand-in's own Checkout page (pages.ts). */
import type { StripeState } from '../state';
import type { Obj } from '../types';
import { ApiError, meta, str } from '../values';
import { liveCustomer } from './customers';
import type { Router } from './router';

/** Stripe's checks of one line item: a known price; a quantity unless metered, none if metered. */
function checkLineItem(s: StripeState, li: Obj, i: number): void {
  const price = s.prices.get(String(li.price));
  if (!price) throw new ApiError(400, `No such price: '${li.price}'`, 'resource_missing', `line_items[${i}][price]`);
  const metered = (price.recurring as Obj | null)?.usage_type === 'metered';
  if (metered && li.quantity !== undefined) {
    const message = `Quantity should not be specified where usage_type is \`metered\`. Remove quantity from \`line_items[${i}]\`.`;
    throw new ApiError(400, message, undefined, `line_items[${i}][quantity]`);
  }
  if (!metered && li.quantity === undefined) {
    const message = `Quantity is required. Add \`quantity\` to \`line_items[${i}]\``;
    throw new ApiError(400, message, 'parameter_missing', `line_items[${i}][quantity]`);
  }
}

export function checkoutRoutes(s: StripeState, r: Router): void {
  r.route('POST', '/v1/checkout/sessions', (_m, p) => {
    if (p.mode !== 'subscription') {
      throw new ApiError(400, 'This stand-in supports mode=subscription only.', undefined, 'mode');
    }
    const items = Array.isArray(p.line_items) ? (p.line_items as Obj[]) : [];
    if (items.length === 0) {
      throw new ApiError(400, 'line_items is required in subscription mode.', 'parameter_missing', 'line_items');
    }
    for (const [i, li] of items.entries()) checkLineItem(s, li, i);
    const customer = str(p.customer);
    if (customer) liveCustomer(s, customer, 'customer');
    if (!str(p.success_url)) throw new ApiError(400, 'success_url is required.', 'parameter_missing', 'success_url');
    const sid = s.id('cs_test');
    const session = {
      id: sid,
      object: 'checkout.session',
      mode: 'subscription',
      status: 'open',
      url: `${s.base}/checkout/${sid}`,
      customer: customer ?? null,
      client_reference_id: str(p.client_reference_id) ?? null,
      success_url: str(p.success_url),
      cancel_url: str(p.cancel_url) ?? null,
      metadata: meta(p.metadata),
      subscription: null as string | null,
      line_items_prices: items.map((li) => String(li.price)),
      subscription_metadata: meta((p.subscription_data as Obj | undefined)?.metadata),
      created: s.nowSec(),
      livemode: false,
    };
    s.sessions.set(sid, session);
    return session;
  });
}
