/** Customers (deletable: a deleted customer answers `deleted: true`, and later meter events for it fail validation). */
import type { StripeState } from '../state';
import type { Obj } from '../types';
import { ApiError, meta, mustFind, str } from '../values';
import type { Router } from './router';

type CustomerFields = { email: string | null; name: string | null; metadata: Record<string, string>; created: number };

/** A new customer, stored. */
export function createCustomer(s: StripeState, fields: CustomerFields): Obj & { id: string } {
  const cust = { id: s.id('cus'), object: 'customer', ...fields, livemode: false };
  s.customers.set(cust.id, cust);
  return cust;
}

/** The customer a parameter names, or Stripe's 400 when it does not exist (or was deleted). */
export function liveCustomer(s: StripeState, cid: string | undefined, param: string): Obj {
  const cust = cid ? s.customers.get(cid) : undefined;
  if (!cust || cust.deleted) throw new ApiError(400, `No such customer: '${cid}'`, 'resource_missing', param);
  return cust;
}

const deleted = (cust: Obj) => ({ id: cust.id, object: 'customer', deleted: true });

export function customerRoutes(s: StripeState, r: Router): void {
  r.route('POST', '/v1/customers', (_m, p) =>
    createCustomer(s, {
      email: str(p.email) ?? null,
      name: str(p.name) ?? null,
      metadata: meta(p.metadata),
      created: s.nowSec(),
    }),
  );
  r.route('GET', '/v1/customers/:id', (m) => {
    const cust = mustFind(s.customers, m[1]!, 'customer');
    return cust.deleted ? deleted(cust) : cust;
  });
  r.route('DELETE', '/v1/customers/:id', (m) => {
    const cust = s.customers.get(m[1]!);
    if (!cust || cust.deleted) throw new ApiError(404, `No such customer: '${m[1]}'`, 'resource_missing', 'id');
    cust.deleted = true;
    return deleted(cust);
  });
}
