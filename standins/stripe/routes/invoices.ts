/**
 * Invoices, read-only (Stripe creates them at period ends: invoices.ts), and invoice items: pending ones go onto
 * the customer's next invoice, or onto a draft invoice named.
 */
import { renderInvoice } from '../invoices';
import type { StripeState } from '../state';
import type { Obj } from '../types';
import { ApiError, listOf, meta, missingParam, mustFind, str } from '../values';
import { liveCustomer } from './customers';
import type { Router } from './router';

const DECIMAL = /^\d+(\.\d{1,12})?$/;

/** An optional decimal string parameter (up to 12 decimal places). */
function decimalParam(p: Obj, param: string): string | undefined {
  const v = str(p[param]);
  if (v !== undefined && !DECIMAL.test(v)) throw new ApiError(400, `Invalid decimal: ${v}`, 'parameter_invalid', param);
  return v;
}

export function invoiceRoutes(s: StripeState, r: Router): void {
  r.route('GET', '/v1/invoices', (_m, _p, q) => {
    const created = (q.created ?? {}) as Obj;
    const data = [...s.invoices.values()]
      .filter((inv) => !q.customer || inv.customer === q.customer)
      .filter((inv) => !q.subscription || inv.subscription === q.subscription)
      .filter((inv) => created.gte === undefined || inv.created >= Number(created.gte))
      .filter((inv) => created.lte === undefined || inv.created <= Number(created.lte))
      .sort((a, b) => b.created - a.created || (b.id < a.id ? -1 : 1))
      .map((inv) => renderInvoice(s, inv))
      .filter((inv) => !q.status || inv.status === q.status);
    return listOf(data as unknown as Obj[], q, '/v1/invoices');
  });
  r.route('GET', '/v1/invoices/:id', (m) => renderInvoice(s, mustFind(s.invoices, m[1]!, 'invoice')) as unknown as Obj);

  r.route('POST', '/v1/invoiceitems', (_m, p) => {
    const customer = str(p.customer);
    if (!customer) throw missingParam('customer');
    liveCustomer(s, customer, 'customer');
    const subscription = str(p.subscription);
    if (subscription && s.subscriptions.get(subscription)?.customer !== customer) {
      throw new ApiError(400, `No such subscription: '${subscription}'`, 'resource_missing', 'subscription');
    }
    const currency = str(p.currency);
    if (!currency) throw missingParam('currency');
    const qd = decimalParam(p, 'quantity_decimal');
    const quantity = qd !== undefined ? Number(qd) : p.quantity !== undefined ? Number(p.quantity) : 1;
    if (qd === undefined && (!Number.isInteger(quantity) || quantity < 0)) {
      const message = 'Invalid integer: quantity must be a whole number of at least 0.';
      throw new ApiError(400, message, 'parameter_invalid_integer', 'quantity');
    }
    const unit = decimalParam(p, 'unit_amount_decimal');
    if (unit === undefined && p.amount === undefined) {
      const message = 'You must specify either `amount`, `unit_amount_decimal` or a price.';
      throw new ApiError(400, message, 'parameter_missing', 'amount');
    }
    const target = str(p.invoice);
    const onto = target ? s.invoices.get(target) : undefined;
    if (onto && renderInvoice(s, onto).status !== 'draft') {
      throw new ApiError(400, 'You can only add invoice items to draft invoices.', undefined, 'invoice');
    }
    const period = p.period as Obj | undefined;
    const item = {
      id: s.id('ii'),
      object: 'invoiceitem',
      customer,
      subscription: subscription ?? null,
      currency,
      quantity: Math.trunc(quantity),
      quantity_decimal: qd ?? String(quantity),
      unit_amount_decimal: unit ?? null,
      amount: p.amount !== undefined ? Number(p.amount) : Math.round(quantity * Number(unit)),
      description: str(p.description) ?? null,
      period: { start: period ? Number(period.start) : s.nowSec(), end: period ? Number(period.end) : s.nowSec() },
      metadata: meta(p.metadata),
      invoice: target ?? null,
      date: s.nowSec(),
      discountable: true,
      proration: false,
      livemode: false,
    };
    s.invoiceItems.set(item.id, item);
    if (onto) onto.items.push(item.id);
    return item;
  });
  r.route('GET', '/v1/invoiceitems', (_m, _p, q) => {
    const data = [...s.invoiceItems.values()]
      .filter((it) => !q.customer || it.customer === q.customer)
      .filter((it) => q.pending === undefined || (it.invoice === null) === (q.pending === 'true'))
      .reverse();
    return listOf(data, q, '/v1/invoiceitems');
  });
}
