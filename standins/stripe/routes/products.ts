/** Products (custom ids) and prices (lookup keys, graduated tiers, metered on a meter). */
import type { StripeState } from '../state';
import type { Obj } from '../types';
import { ApiError, meta, mustFind, str } from '../values';
import type { Router } from './router';

/** A `*_decimal` parameter, or the integer amount as a decimal string, or null. */
const decimal = (dec: unknown, amount: unknown) => str(dec) ?? (amount !== undefined ? String(amount) : null);

const tierOf = (t: Obj) => ({
  up_to: t.up_to === 'inf' ? null : Number(t.up_to),
  unit_amount: t.unit_amount !== undefined ? Number(t.unit_amount) : null,
  unit_amount_decimal: decimal(t.unit_amount_decimal, t.unit_amount),
  flat_amount: null,
  flat_amount_decimal: null,
});

const recurringOf = (r: Obj) => ({
  interval: str(r.interval) ?? 'month',
  interval_count: Number(r.interval_count ?? 1),
  usage_type: str(r.usage_type) ?? 'licensed',
  meter: str(r.meter) ?? null,
});

export function productRoutes(s: StripeState, r: Router): void {
  r.route('POST', '/v1/products', (_m, p) => {
    const pid = str(p.id) ?? s.id('prod');
    if (s.products.has(pid)) throw new ApiError(400, `Product already exists.`, 'resource_already_exists', 'id');
    const prod = {
      id: pid,
      object: 'product',
      name: str(p.name) ?? pid,
      active: true,
      metadata: meta(p.metadata),
      created: s.nowSec(),
      livemode: false,
    };
    s.products.set(pid, prod);
    return prod;
  });
  r.route('GET', '/v1/products/:id', (m) => mustFind(s.products, m[1]!, 'product'));

  r.route('POST', '/v1/prices', (_m, p) => {
    const product = str(p.product);
    if (!product || !s.products.has(product)) {
      throw new ApiError(400, `No such product: '${product}'`, 'resource_missing', 'product');
    }
    const recurring = p.recurring as Obj | undefined;
    const lookup = str(p.lookup_key);
    if (lookup) {
      const holder = [...s.prices.values()].find((x) => x.lookup_key === lookup);
      if (holder && p.transfer_lookup_key !== 'true') {
        const message = `A price (\`${holder.id}\`) already uses that lookup key.`;
        throw new ApiError(400, message, 'lookup_key_already_exists', 'lookup_key');
      }
      if (holder) holder.lookup_key = null;
    }
    if (recurring?.usage_type === 'metered') {
      const meter = str(recurring.meter);
      if (!meter || !s.meters.has(meter)) {
        const message = 'Metered prices must be backed by a meter (recurring[meter]).';
        throw new ApiError(400, message, 'parameter_missing', 'recurring[meter]');
      }
    }
    const tiers = Array.isArray(p.tiers) ? (p.tiers as Obj[]).map(tierOf) : null;
    if (p.billing_scheme === 'tiered' && p.transform_quantity) {
      throw new ApiError(400, 'transform_quantity cannot be combined with tiers.', undefined, 'transform_quantity');
    }
    const price = {
      id: s.id('price'),
      object: 'price',
      active: true,
      currency: str(p.currency) ?? 'usd',
      product,
      lookup_key: lookup ?? null,
      nickname: str(p.nickname) ?? null,
      billing_scheme: str(p.billing_scheme) ?? 'per_unit',
      tiers_mode: str(p.tiers_mode) ?? null,
      tiers,
      unit_amount: p.unit_amount !== undefined ? Number(p.unit_amount) : null,
      unit_amount_decimal: decimal(p.unit_amount_decimal, p.unit_amount),
      recurring: recurring ? recurringOf(recurring) : null,
      type: recurring ? 'recurring' : 'one_time',
      metadata: meta(p.metadata),
      created: s.nowSec(),
      livemode: false,
    };
    s.prices.set(price.id, price);
    return price;
  });
  r.route('GET', '/v1/prices', (_m, _p, q) => {
    const keys = q.lookup_keys;
    const wanted = Array.isArray(keys) ? (keys as string[]) : keys ? [String(keys)] : undefined;
    const data = [...s.prices.values()]
      .filter((x) => !wanted || wanted.includes(String(x.lookup_key)))
      .filter((x) => q.active === undefined || String(x.active) === q.active);
    return { object: 'list', data, has_more: false, url: '/v1/prices' };
  });
  r.route('GET', '/v1/prices/:id', (m) => mustFind(s.prices, m[1]!, 'price'));
}
