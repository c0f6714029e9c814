/**
 * OFFLINE STAND-IN for the parts of Stripe's API that Redraft calls — dev, tests and benchmarks only,
 * never on a production code path. The real `stripe` SDK talks to it through
 * `new Stripe(key, { host: '127.0.0.1', port, protocol: 'http' })` (STRIPE_API_BASE).
 *
 * It keeps state the way Stripe does for what we use:
 * - products (custom ids), prices (lookup keys, graduated tiers, metered on a meter), meters (one active
 *   meter per event name), customers, Checkout Sessions, billing portal sessions, subscriptions;
 * - meter events: an `identifier` seen before is rejected with Stripe's 400 ("An event already exists with
 *   identifier …", `Stripe-Should-Retry: false`), timestamps must be within 35 days back / 5 minutes ahead,
 *   and event summaries aggregate (sum) per customer over minute-aligned windows;
 * - `Idempotency-Key`: a POST replayed with the same key gets the first answer back (as Stripe does).
 *
 * Faults can be injected per route: 429, 500 (before or after the request took effect), a timeout (no
 * answer; before or after taking effect) and a dropped connection (before or after). "After" faults are
 * the dangerous ones for billing: Stripe recorded the event but the caller never heard so.
 *
 * Scenario helpers do what Stripe would do on its side (complete a Checkout, renew a period, schedule a
 * cancellation, end a subscription, fail or pay an invoice) and return the webhook events Stripe would send;
 * `deliver` signs them with `stripe.webhooks.generateTestHeaderString` and POSTs them to a webhook URL.
 *
 * Standalone (dev, bench): `tsx tests/support/stripe-server.ts --port 0` prints `{"url": ...}` on one line;
 * `GET /_standin/stats`, `GET /_standin/totals`, `POST /_standin/faults` expose the same controls over HTTP.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import Stripe from 'stripe';

// ---------------------------------------------------------------------------------------------------------
// Types

export type FaultKind =
  | 'rate_limit' // 429 before anything happens
  | 'server_error' // 500 before anything happens
  | 'server_error_after' // the request takes effect, then 500
  | 'timeout' // no answer at all (the client times out); nothing happens
  | 'timeout_after' // the request takes effect, then no answer
  | 'drop' // the connection is destroyed before anything happens
  | 'drop_after' // the request takes effect, then the connection is destroyed
  | 'bad_request'; // 400 that retrying cannot fix (not drawn unless asked for)

export const ALL_FAULTS: FaultKind[] = ['rate_limit', 'server_error', 'server_error_after', 'timeout', 'timeout_after', 'drop', 'drop_after'];

export interface FaultPlan {
  /** Probability (0..1) that a matching call gets a fault. */
  rate?: number;
  /** Or: exactly the next `times` matching calls get a fault. */
  times?: number;
  /** Which faults to draw from (uniformly). Default: all. */
  kinds?: FaultKind[];
  /** Only calls whose "METHOD /path" matches. Default: every API call. */
  route?: RegExp;
  /** How long a timeout holds the connection before destroying it (ms). Default 30 s. */
  holdMs?: number;
  /** Seed for the fault dice (reproducible runs). */
  seed?: number;
}

export interface StripeServerOptions {
  port?: number;
  /** The API key callers must present (Bearer). Default: any sk_test_/rk_test_ key. */
  apiKey?: string;
  /** Where `deliver` posts webhook events by default, and with which signing secret. */
  webhook?: { url: string; secret: string };
  /** Clock (ms) for created/period times and the 35-day window; tests may travel in time. */
  now?: () => number;
}

export interface MeterEventRecord {
  identifier: string;
  eventName: string;
  customer: string;
  value: number;
  timestamp: number;
  created: number;
}

export interface StripeServerStats {
  requests: number;
  byRoute: Record<string, number>;
  meterEvents: { accepted: number; duplicates: number; rejected: number };
  faults: Partial<Record<FaultKind, number>>;
}

export interface WebhookDelivery {
  eventId: string;
  type: string;
  url: string;
  status: number;
}

type Obj = Record<string, unknown>;

export interface StripeServer {
  url: string;
  port: number;
  /** `STRIPE_API_BASE` and friends for a config pointing at this stand-in. */
  env(extra?: { webhookSecret?: string; priceBase?: string; priceMetered?: string }): Record<string, string>;
  stats: StripeServerStats;
  injectFaults(plan: FaultPlan): void;
  clearFaults(): void;
  /** Accepted meter events (optionally of one customer). */
  meterEvents(customer?: string): MeterEventRecord[];
  /** Sum of accepted meter event values per customer (optionally within [startSec, endSec)). */
  totals(range?: { start: number; end: number }): Map<string, number>;
  subscription(id: string): Stripe.Subscription | undefined;
  checkoutSession(id: string): Obj | undefined;
  customer(id: string): Obj | undefined;
  /** Scenario helpers: change state as Stripe would and return the events Stripe would send. */
  completeCheckout(sessionId: string, at?: number): Stripe.Event[];
  renew(subscriptionId: string, at?: number): Stripe.Event[];
  setCancelAtPeriodEnd(subscriptionId: string, cancel: boolean): Stripe.Event[];
  endSubscription(subscriptionId: string, at?: number): Stripe.Event[];
  failPayment(subscriptionId: string): Stripe.Event[];
  payInvoice(subscriptionId: string): Stripe.Event[];
  /** Sign (generateTestHeaderString) and POST events to the webhook URL, in order; returns the statuses. */
  deliver(events: Stripe.Event[], to?: { url: string; secret: string }): Promise<number[]>;
  /**
   * Where the Checkout/portal pages' buttons (and `deliver` without a target) send webhooks. Set after the
   * API has started when its port was not known when the stand-in started.
   */
  setWebhook(to: { url: string; secret: string } | undefined): void;
  /** Every webhook delivery made so far (by `deliver` or the pages' buttons), in order, with the status answered (0: no answer). */
  deliveries(): WebhookDelivery[];
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------
// Form decoding (the SDK sends v1 bodies and queries as `a[b][0][c]=v`)

/** Decode an application/x-www-form-urlencoded string with bracket nesting into objects and arrays. */
export function parseForm(text: string): Obj {
  const root: Obj = {};
  if (!text) return root;
  for (const pair of text.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const rawKey = decodeURIComponent((eq === -1 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '));
    const value = eq === -1 ? '' : decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
    const path = rawKey.match(/^[^[]+|\[[^\]]*\]/g)?.map((p) => (p.startsWith('[') ? p.slice(1, -1) : p)) ?? [rawKey];
    let node: Obj = root;
    for (let i = 0; i < path.length; i++) {
      const k = path[i] === '' ? String(Object.keys(node).length) : path[i]!;
      if (i === path.length - 1) node[k] = value;
      else node = (node[k] ??= {}) as Obj;
    }
  }
  return arrays(root) as Obj;
}

/** Objects whose keys are 0..n-1 become arrays. */
function arrays(v: unknown): unknown {
  if (!v || typeof v !== 'object') return v;
  const o = v as Obj;
  const ks = Object.keys(o);
  for (const k of ks) o[k] = arrays(o[k]);
  if (ks.length > 0 && ks.every((k, i) => String(i) === k)) return ks.map((k) => o[k]);
  return o;
}

// ---------------------------------------------------------------------------------------------------------
// Helpers

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | undefined = undefined,
    readonly param: string | undefined = undefined,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const sec = (ms: number) => Math.floor(ms / 1000);

/** `anchor` + `months` calendar months, clamping the day (as Stripe does for monthly periods). */
function addMonthsSec(anchorSec: number, months: number): number {
  const d = new Date(anchorSec * 1000);
  const m = d.getUTCMonth() + months;
  const y = d.getUTCFullYear() + Math.floor(m / 12);
  const mm = ((m % 12) + 12) % 12;
  const day = Math.min(d.getUTCDate(), new Date(Date.UTC(y, mm + 1, 0)).getUTCDate());
  return sec(Date.UTC(y, mm, day, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()));
}

/** Small seeded PRNG (mulberry32): reproducible fault dice. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const meta = (v: unknown): Record<string, string> => (v && typeof v === 'object' ? (v as Record<string, string>) : {});

// ---------------------------------------------------------------------------------------------------------

export async function startStripeServer(opts: StripeServerOptions = {}): Promise<StripeServer> {
  const now = opts.now ?? Date.now;
  const stats: StripeServerStats = { requests: 0, byRoute: {}, meterEvents: { accepted: 0, duplicates: 0, rejected: 0 }, faults: {} };
  let seq = 0;
  const id = (prefix: string) => `${prefix}_${(++seq).toString(36).padStart(6, '0')}${randomBytes(5).toString('hex')}`;

  const products = new Map<string, Obj>();
  const prices = new Map<string, Obj>();
  const meters = new Map<string, Obj>();
  const customers = new Map<string, Obj>();
  const sessions = new Map<string, Obj>();
  const portals = new Map<string, Obj>();
  const subscriptions = new Map<string, Stripe.Subscription>();
  const meterEventsById = new Map<string, MeterEventRecord>();
  const meterEventsByCustomer = new Map<string, MeterEventRecord[]>();
  const idempotent = new Map<string, { status: number; body: string }>();

  let faultPlan: (FaultPlan & { dice: () => number; left: number }) | undefined;
  let base = '';
  let webhookTarget = opts.webhook;
  const deliveryLog: WebhookDelivery[] = [];
  const sockets = new Set<Socket>();

  const drawFault = (route: string): FaultKind | undefined => {
    const f = faultPlan;
    if (!f || (f.route && !f.route.test(route))) return undefined;
    if (f.times !== undefined) {
      if (f.left <= 0) return undefined;
      f.left--;
    } else if (f.dice() >= (f.rate ?? 0)) return undefined;
    const kinds = f.kinds ?? ALL_FAULTS;
    return kinds[Math.floor(f.dice() * kinds.length)] ?? kinds[0];
  };

  // ------------------------------------------------------------------------------------------------------
  // Objects

  const priceObject = (p: Obj) => p;
  const subscriptionItem = (subId: string, price: Obj, start: number, end: number): Stripe.SubscriptionItem =>
    ({
      id: id('si'),
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

  const invoiceFor = (sub: Stripe.Subscription, status: 'paid' | 'open'): Stripe.Invoice => {
    const item = sub.items.data[0]!;
    return {
      id: id('in'),
      object: 'invoice',
      customer: sub.customer,
      status,
      created: sec(now()),
      period_start: item.current_period_start,
      period_end: item.current_period_end,
      parent: { type: 'subscription_details', quote_details: null, subscription_details: { subscription: sub.id, metadata: sub.metadata } },
      amount_due: 2000,
      amount_paid: status === 'paid' ? 2000 : 0,
      livemode: false,
    } as unknown as Stripe.Invoice;
  };

  const event = (type: string, object: unknown, previous?: Obj): Stripe.Event =>
    ({
      id: id('evt'),
      object: 'event',
      api_version: Stripe.API_VERSION,
      created: sec(now()),
      data: { object: structuredClone(object), ...(previous ? { previous_attributes: previous } : {}) },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
    }) as unknown as Stripe.Event;

  const mustSub = (subId: string) => {
    const sub = subscriptions.get(subId);
    if (!sub) throw new Error(`stand-in: no subscription ${subId}`);
    return sub;
  };

  // ------------------------------------------------------------------------------------------------------
  // Routes: each returns [status, body] or throws ApiError

  const handlers: { method: string; pattern: RegExp; name: string; run: (m: RegExpMatchArray, p: Obj, q: Obj) => Obj }[] = [];
  const route = (method: string, path: string, run: (m: RegExpMatchArray, p: Obj, q: Obj) => Obj) =>
    handlers.push({ method, pattern: new RegExp(`^${path.replace(/:\w+/g, '([^/]+)')}$`), name: `${method} ${path}`, run });

  route('POST', '/v1/products', (_m, p) => {
    const pid = str(p.id) ?? id('prod');
    if (products.has(pid)) throw new ApiError(400, `Product already exists.`, 'resource_already_exists', 'id');
    const prod = { id: pid, object: 'product', name: str(p.name) ?? pid, active: true, metadata: meta(p.metadata), created: sec(now()), livemode: false };
    products.set(pid, prod);
    return prod;
  });
  route('GET', '/v1/products/:id', (m) => {
    const prod = products.get(m[1]!);
    if (!prod) throw new ApiError(404, `No such product: '${m[1]}'`, 'resource_missing', 'id');
    return prod;
  });

  route('POST', '/v1/prices', (_m, p) => {
    const product = str(p.product);
    if (!product || !products.has(product)) throw new ApiError(400, `No such product: '${product}'`, 'resource_missing', 'product');
    const recurring = p.recurring as Obj | undefined;
    const lookup = str(p.lookup_key);
    if (lookup) {
      const holder = [...prices.values()].find((x) => x.lookup_key === lookup);
      if (holder && p.transfer_lookup_key !== 'true') throw new ApiError(400, `A price (\`${holder.id}\`) already uses that lookup key.`, 'lookup_key_already_exists', 'lookup_key');
      if (holder) holder.lookup_key = null;
    }
    if (recurring?.usage_type === 'metered') {
      const meter = str(recurring.meter);
      if (!meter || !meters.has(meter)) throw new ApiError(400, 'Metered prices must be backed by a meter (recurring[meter]).', 'parameter_missing', 'recurring[meter]');
    }
    const tiers = Array.isArray(p.tiers)
      ? (p.tiers as Obj[]).map((t) => ({
          up_to: t.up_to === 'inf' ? null : Number(t.up_to),
          unit_amount: t.unit_amount !== undefined ? Number(t.unit_amount) : null,
          unit_amount_decimal: str(t.unit_amount_decimal) ?? (t.unit_amount !== undefined ? String(t.unit_amount) : null),
          flat_amount: null,
          flat_amount_decimal: null,
        }))
      : null;
    if (p.billing_scheme === 'tiered' && p.transform_quantity) throw new ApiError(400, 'transform_quantity cannot be combined with tiers.', undefined, 'transform_quantity');
    const price = {
      id: id('price'),
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
      unit_amount_decimal: str(p.unit_amount_decimal) ?? (p.unit_amount !== undefined ? String(p.unit_amount) : null),
      recurring: recurring
        ? { interval: str(recurring.interval) ?? 'month', interval_count: Number(recurring.interval_count ?? 1), usage_type: str(recurring.usage_type) ?? 'licensed', meter: str(recurring.meter) ?? null }
        : null,
      type: recurring ? 'recurring' : 'one_time',
      metadata: meta(p.metadata),
      created: sec(now()),
      livemode: false,
    };
    prices.set(price.id, price);
    return price;
  });
  route('GET', '/v1/prices', (_m, _p, q) => {
    const wanted = Array.isArray(q.lookup_keys) ? (q.lookup_keys as string[]) : q.lookup_keys ? [String(q.lookup_keys)] : undefined;
    const data = [...prices.values()].filter((x) => (!wanted || wanted.includes(String(x.lookup_key))) && (q.active === undefined || String(x.active) === q.active));
    return { object: 'list', data: data.map(priceObject), has_more: false, url: '/v1/prices' };
  });
  route('GET', '/v1/prices/:id', (m) => {
    const price = prices.get(m[1]!);
    if (!price) throw new ApiError(404, `No such price: '${m[1]}'`, 'resource_missing', 'id');
    return price;
  });

  route('POST', '/v1/billing/meters', (_m, p) => {
    const eventName = str(p.event_name);
    if (!eventName) throw new ApiError(400, 'Missing required param: event_name.', 'parameter_missing', 'event_name');
    if ([...meters.values()].some((x) => x.event_name === eventName && x.status === 'active')) {
      throw new ApiError(400, `An active meter with event_name \`${eventName}\` already exists.`, 'resource_already_exists', 'event_name');
    }
    const agg = (p.default_aggregation as Obj | undefined)?.formula;
    const meter = {
      id: id('mtr'),
      object: 'billing.meter',
      display_name: str(p.display_name) ?? eventName,
      event_name: eventName,
      default_aggregation: { formula: str(agg) ?? 'sum' },
      customer_mapping: { type: 'by_id', event_payload_key: str((p.customer_mapping as Obj | undefined)?.event_payload_key) ?? 'stripe_customer_id' },
      value_settings: { event_payload_key: str((p.value_settings as Obj | undefined)?.event_payload_key) ?? 'value' },
      event_time_window: null,
      status: 'active',
      status_transitions: { deactivated_at: null },
      created: sec(now()),
      updated: sec(now()),
      livemode: false,
    };
    meters.set(meter.id, meter);
    return meter;
  });
  route('GET', '/v1/billing/meters', (_m, _p, q) => {
    const data = [...meters.values()].filter((x) => !q.status || x.status === q.status);
    return { object: 'list', data, has_more: false, url: '/v1/billing/meters' };
  });
  route('GET', '/v1/billing/meters/:id', (m) => {
    const meter = meters.get(m[1]!);
    if (!meter) throw new ApiError(404, `No such billing meter: '${m[1]}'`, 'resource_missing', 'id');
    return meter;
  });
  route('GET', '/v1/billing/meters/:id/event_summaries', (m, _p, q) => {
    const meter = meters.get(m[1]!);
    if (!meter) throw new ApiError(404, `No such billing meter: '${m[1]}'`, 'resource_missing', 'id');
    const customer = str(q.customer);
    const start = Number(q.start_time);
    const end = Number(q.end_time);
    if (!customer) throw new ApiError(400, 'Missing required param: customer.', 'parameter_missing', 'customer');
    if (!Number.isInteger(start) || start % 60 !== 0) throw new ApiError(400, 'start_time must be aligned with minute boundaries.', 'parameter_invalid_integer', 'start_time');
    if (!Number.isInteger(end) || end % 60 !== 0) throw new ApiError(400, 'end_time must be aligned with minute boundaries.', 'parameter_invalid_integer', 'end_time');
    const windowSec = q.value_grouping_window === 'hour' ? 3600 : q.value_grouping_window === 'day' ? 86_400 : undefined;
    const events = (meterEventsByCustomer.get(customer) ?? []).filter((e) => e.eventName === meter.event_name && e.timestamp >= start && e.timestamp < end);
    const windows: [number, number][] = [];
    if (!windowSec) windows.push([start, end]);
    else for (let t = start; t < end; t += windowSec) windows.push([t, Math.min(end, t + windowSec)]);
    const data = windows.map(([s, e]) => ({
      id: id('mtrusg'),
      object: 'billing.meter_event_summary',
      aggregated_value: events.filter((x) => x.timestamp >= s && x.timestamp < e).reduce((sum, x) => sum + x.value, 0),
      start_time: s,
      end_time: e,
      meter: meter.id,
      livemode: false,
    }));
    return { object: 'list', data, has_more: false, url: `/v1/billing/meters/${meter.id}/event_summaries` };
  });

  route('POST', '/v1/billing/meter_events', (_m, p) => {
    const eventName = str(p.event_name);
    const meter = [...meters.values()].find((x) => x.event_name === eventName && x.status === 'active');
    const payload = (p.payload ?? {}) as Record<string, string>;
    if (!meter) {
      stats.meterEvents.rejected++;
      throw new ApiError(400, `No active meter was found that matches the event_name \`${eventName}\`.`, undefined, 'event_name');
    }
    const custKey = (meter.customer_mapping as Obj).event_payload_key as string;
    const valueKey = (meter.value_settings as Obj).event_payload_key as string;
    const customer = payload[custKey];
    const value = Number(payload[valueKey]);
    if (!customer) {
      stats.meterEvents.rejected++;
      throw new ApiError(400, `Missing ${custKey} in payload.`, 'parameter_missing', `payload[${custKey}]`);
    }
    if (!Number.isFinite(value)) {
      stats.meterEvents.rejected++;
      throw new ApiError(400, `payload[${valueKey}] must be a number.`, 'parameter_invalid', `payload[${valueKey}]`);
    }
    const t = p.timestamp !== undefined ? Number(p.timestamp) : sec(now());
    if (!Number.isInteger(t) || t < sec(now()) - 35 * 86_400 || t > sec(now()) + 300) {
      stats.meterEvents.rejected++;
      throw new ApiError(400, 'Timestamp must be within the past 35 calendar days or up to 5 minutes in the future.', 'parameter_invalid_integer', 'timestamp');
    }
    const identifier = str(p.identifier) ?? id('mev');
    if (meterEventsById.has(identifier)) {
      stats.meterEvents.duplicates++;
      throw new ApiError(400, `An event already exists with identifier ${identifier}.`, undefined, 'identifier', { 'Stripe-Should-Retry': 'false' });
    }
    const rec: MeterEventRecord = { identifier, eventName: eventName!, customer, value, timestamp: t, created: sec(now()) };
    meterEventsById.set(identifier, rec);
    let list = meterEventsByCustomer.get(customer);
    if (!list) meterEventsByCustomer.set(customer, (list = []));
    list.push(rec);
    stats.meterEvents.accepted++;
    return { object: 'billing.meter_event', created: rec.created, event_name: rec.eventName, identifier, livemode: false, payload, timestamp: t };
  });

  route('POST', '/v1/customers', (_m, p) => {
    const cust = { id: id('cus'), object: 'customer', email: str(p.email) ?? null, name: str(p.name) ?? null, metadata: meta(p.metadata), created: sec(now()), livemode: false };
    customers.set(cust.id, cust);
    return cust;
  });
  route('GET', '/v1/customers/:id', (m) => {
    const cust = customers.get(m[1]!);
    if (!cust) throw new ApiError(404, `No such customer: '${m[1]}'`, 'resource_missing', 'id');
    return cust;
  });

  route('POST', '/v1/checkout/sessions', (_m, p) => {
    if (p.mode !== 'subscription') throw new ApiError(400, 'This stand-in supports mode=subscription only.', undefined, 'mode');
    const items = Array.isArray(p.line_items) ? (p.line_items as Obj[]) : [];
    if (items.length === 0) throw new ApiError(400, 'line_items is required in subscription mode.', 'parameter_missing', 'line_items');
    items.forEach((li, i) => {
      const price = prices.get(String(li.price));
      if (!price) throw new ApiError(400, `No such price: '${li.price}'`, 'resource_missing', `line_items[${i}][price]`);
      const metered = (price.recurring as Obj | null)?.usage_type === 'metered';
      if (metered && li.quantity !== undefined) throw new ApiError(400, 'Quantity should not be specified where usage_type is `metered`. Remove quantity from `line_items[' + i + ']`.', undefined, `line_items[${i}][quantity]`);
      if (!metered && li.quantity === undefined) throw new ApiError(400, `Quantity is required. Add \`quantity\` to \`line_items[${i}]\``, 'parameter_missing', `line_items[${i}][quantity]`);
    });
    const customer = str(p.customer);
    if (customer && !customers.has(customer)) throw new ApiError(400, `No such customer: '${customer}'`, 'resource_missing', 'customer');
    if (!str(p.success_url)) throw new ApiError(400, 'success_url is required.', 'parameter_missing', 'success_url');
    const sid = id('cs_test');
    const session = {
      id: sid,
      object: 'checkout.session',
      mode: 'subscription',
      status: 'open',
      url: `${base}/checkout/${sid}`,
      customer: customer ?? null,
      client_reference_id: str(p.client_reference_id) ?? null,
      success_url: str(p.success_url),
      cancel_url: str(p.cancel_url) ?? null,
      metadata: meta(p.metadata),
      subscription: null as string | null,
      line_items_prices: items.map((li) => String(li.price)),
      subscription_metadata: meta((p.subscription_data as Obj | undefined)?.metadata),
      created: sec(now()),
      livemode: false,
    };
    sessions.set(sid, session);
    return session;
  });

  route('POST', '/v1/billing_portal/sessions', (_m, p) => {
    const customer = str(p.customer);
    if (!customer || !customers.has(customer)) throw new ApiError(400, `No such customer: '${customer}'`, 'resource_missing', 'customer');
    const pid = id('bps');
    const portal = { id: pid, object: 'billing_portal.session', customer, return_url: str(p.return_url) ?? null, url: `${base}/portal/${pid}`, created: sec(now()), livemode: false };
    portals.set(pid, portal);
    return portal;
  });

  route('GET', '/v1/subscriptions/:id', (m) => {
    const sub = subscriptions.get(m[1]!);
    if (!sub) throw new ApiError(404, `No such subscription: '${m[1]}'`, 'resource_missing', 'id');
    return sub as unknown as Obj;
  });

  // ------------------------------------------------------------------------------------------------------
  // Scenario helpers

  function completeCheckout(sessionId: string, at = now()): Stripe.Event[] {
    const session = sessions.get(sessionId);
    if (!session) throw new Error(`stand-in: no checkout session ${sessionId}`);
    if (session.status === 'complete') throw new Error(`stand-in: checkout session ${sessionId} is already complete`);
    let customer = str(session.customer);
    const events: Stripe.Event[] = [];
    if (!customer) {
      const cust = { id: id('cus'), object: 'customer', email: null, name: null, metadata: {}, created: sec(at), livemode: false };
      customers.set(cust.id, cust);
      customer = cust.id;
    }
    const start = sec(at);
    const end = addMonthsSec(start, 1);
    const subId = id('sub');
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
      items: { object: 'list', data: [] as Stripe.SubscriptionItem[], has_more: false, url: `/v1/subscription_items?subscription=${subId}` },
      livemode: false,
    } as unknown as Stripe.Subscription;
    for (const priceId of session.line_items_prices as string[]) sub.items.data.push(subscriptionItem(subId, prices.get(priceId)!, start, end));
    subscriptions.set(subId, sub);
    Object.assign(session, { status: 'complete', customer, subscription: subId, payment_status: 'paid' });
    events.push(event('customer.subscription.created', sub));
    events.push(event('checkout.session.completed', session));
    events.push(event('invoice.paid', invoiceFor(sub, 'paid')));
    return events;
  }

  function renew(subscriptionId: string, at?: number): Stripe.Event[] {
    const sub = mustSub(subscriptionId);
    const prev = sub.items.data[0]!;
    const start = prev.current_period_end;
    let k = 1;
    while (addMonthsSec(sub.billing_cycle_anchor, k) <= start) k++;
    const end = addMonthsSec(sub.billing_cycle_anchor, k);
    if (at !== undefined && sec(at) < start) throw new Error('stand-in: renew before the period ended');
    const previous = { items: structuredClone(sub.items) } as Obj;
    for (const item of sub.items.data) Object.assign(item, { current_period_start: start, current_period_end: end });
    if (sub.status === 'past_due') sub.status = 'active';
    return [event('customer.subscription.updated', sub, previous), event('invoice.paid', invoiceFor(sub, 'paid'))];
  }

  function setCancelAtPeriodEnd(subscriptionId: string, cancel: boolean): Stripe.Event[] {
    const sub = mustSub(subscriptionId);
    const previous = { cancel_at_period_end: sub.cancel_at_period_end, cancel_at: sub.cancel_at };
    sub.cancel_at_period_end = cancel;
    sub.cancel_at = cancel ? sub.items.data[0]!.current_period_end : null;
    return [event('customer.subscription.updated', sub, previous)];
  }

  function endSubscription(subscriptionId: string, at = now()): Stripe.Event[] {
    const sub = mustSub(subscriptionId);
    Object.assign(sub, { status: 'canceled', ended_at: sec(at), canceled_at: sub.canceled_at ?? sec(at) });
    return [event('customer.subscription.deleted', sub)];
  }

  function failPayment(subscriptionId: string): Stripe.Event[] {
    const sub = mustSub(subscriptionId);
    const previous = { status: sub.status };
    sub.status = 'past_due';
    return [event('invoice.payment_failed', invoiceFor(sub, 'open')), event('customer.subscription.updated', sub, previous)];
  }

  function payInvoice(subscriptionId: string): Stripe.Event[] {
    const sub = mustSub(subscriptionId);
    const previous = { status: sub.status };
    sub.status = 'active';
    return [event('invoice.paid', invoiceFor(sub, 'paid')), event('customer.subscription.updated', sub, previous)];
  }

  async function deliver(events: Stripe.Event[], to = webhookTarget): Promise<number[]> {
    if (!to) throw new Error('stand-in: no webhook URL to deliver to');
    const statuses: number[] = [];
    for (const e of events) {
      const payload = JSON.stringify(e, null, 2);
      const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: to.secret });
      const logged: WebhookDelivery = { eventId: e.id, type: e.type, url: to.url, status: 0 };
      deliveryLog.push(logged);
      const res = await fetch(to.url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Stripe-Signature': header }, body: payload });
      await res.arrayBuffer();
      logged.status = res.status;
      statuses.push(res.status);
    }
    return statuses;
  }

  // ------------------------------------------------------------------------------------------------------
  // HTTP

  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    if (res.destroyed) return;
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Request-Id': `req_${randomBytes(7).toString('hex')}`, ...headers });
    res.end(body);
  };
  const errorBody = (e: ApiError) =>
    JSON.stringify({ error: { type: e.status === 429 ? 'invalid_request_error' : e.status >= 500 ? 'api_error' : 'invalid_request_error', message: e.message, ...(e.code ? { code: e.code } : {}), ...(e.param ? { param: e.param } : {}) } });

  const page = (res: ServerResponse, title: string, body: string) => {
    const html = `<!doctype html><meta charset="utf-8"><title>${title}</title><body style="font-family:system-ui;max-width:40rem;margin:3rem auto">
<p style="background:#fee;padding:.5rem;border:1px solid #c00"><b>OFFLINE STRIPE STAND-IN</b> — a local test double, not Stripe. No money moves.</p>${body}</body>`;
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(html);
  };
  const redirect = (res: ServerResponse, to: string) => {
    res.writeHead(303, { Location: to });
    res.end();
  };

  /** Dev pages: the Checkout and portal URLs we hand out, with buttons doing what Stripe would do. */
  async function devPage(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    let m = /^\/checkout\/([^/]+)(\/complete)?$/.exec(path);
    if (m) {
      const session = sessions.get(m[1]!);
      if (!session) return false;
      if (m[2] && req.method === 'POST') {
        const events = completeCheckout(m[1]!);
        if (webhookTarget) await deliver(events).catch(() => []);
        redirect(res, String(session.success_url).replace('{CHECKOUT_SESSION_ID}', String(session.id)));
        return true;
      }
      page(res, 'Checkout (stand-in)', `<h1>Redraft Pro — $20/month + $0.002 per 1,000 tokens over 500,000</h1><p>Customer ${session.customer ?? '(new)'}.</p>
<form method="post" action="/checkout/${session.id}/complete"><button>Pay (stand-in)</button></form><p><a href="${session.cancel_url ?? '#'}">Cancel</a></p>`);
      return true;
    }
    m = /^\/portal\/([^/]+)(\/(cancel-at-end|cancel-now))?$/.exec(path);
    if (m) {
      const portal = portals.get(m[1]!);
      if (!portal) return false;
      const subs = [...subscriptions.values()].filter((s) => s.customer === portal.customer && s.status !== 'canceled');
      if (m[3] && req.method === 'POST') {
        for (const s of subs) {
          const events = m[3] === 'cancel-now' ? endSubscription(s.id) : setCancelAtPeriodEnd(s.id, true);
          if (webhookTarget) await deliver(events).catch(() => []);
        }
        redirect(res, String(portal.return_url ?? '/'));
        return true;
      }
      page(res, 'Billing portal (stand-in)', `<h1>Billing portal</h1><p>Customer ${portal.customer}: ${subs.map((s) => `${s.id} (${s.status}${s.cancel_at_period_end ? ', cancels at period end' : ''})`).join(', ') || 'no subscription'}.</p>
<form method="post" action="/portal/${portal.id}/cancel-at-end"><button>Cancel at period end</button></form>
<form method="post" action="/portal/${portal.id}/cancel-now"><button>Cancel now</button></form><p><a href="${portal.return_url ?? '#'}">Back</a></p>`);
      return true;
    }
    if (path === '/done') {
      page(res, 'Done (stand-in)', '<h1>Done.</h1><p>You can close this tab.</p>');
      return true;
    }
    return false;
  }

  async function control(req: IncomingMessage, res: ServerResponse, path: string, body: string): Promise<boolean> {
    if (path === '/_standin/stats') return send(res, 200, JSON.stringify(stats)), true;
    if (path === '/_standin/totals') return send(res, 200, JSON.stringify(Object.fromEntries(totals()))), true;
    if (path === '/_standin/faults' && req.method === 'POST') {
      const f = JSON.parse(body || '{}') as FaultPlan & { route?: string };
      if (f.rate === undefined && f.times === undefined) server.clearFaults();
      else server.injectFaults({ ...f, route: f.route ? new RegExp(f.route) : undefined });
      return send(res, 200, '{"ok":true}'), true;
    }
    return false;
  }

  function totals(range?: { start: number; end: number }): Map<string, number> {
    const out = new Map<string, number>();
    for (const [customer, list] of meterEventsByCustomer) {
      const sum = list.filter((e) => !range || (e.timestamp >= range.start && e.timestamp < range.end)).reduce((s, e) => s + e.value, 0);
      out.set(customer, sum);
    }
    return out;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.requests++;
    const [path = '/', query = ''] = (req.url ?? '/').split('?');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');

    if (path.startsWith('/_standin/')) {
      if (!(await control(req, res, path, body))) send(res, 404, '{}');
      return;
    }
    if (!path.startsWith('/v1/')) {
      if (!(await devPage(req, res, path))) send(res, 404, JSON.stringify({ error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${path}).` } }));
      return;
    }

    const auth = req.headers.authorization ?? '';
    const key = auth.replace(/^Bearer\s+/i, '');
    if (opts.apiKey ? key !== opts.apiKey : !/^(sk|rk)_test_\S+$/.test(key)) {
      return send(res, 401, JSON.stringify({ error: { type: 'invalid_request_error', message: 'Invalid API Key provided (stand-in: use a sk_test_ key).' } }));
    }
    const handler = handlers.find((h) => h.method === req.method && h.pattern.test(path));
    if (!handler) return send(res, 404, JSON.stringify({ error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${path}).` } }));
    stats.byRoute[handler.name] = (stats.byRoute[handler.name] ?? 0) + 1;

    const fault = drawFault(`${req.method} ${path}`);
    if (fault) stats.faults[fault] = (stats.faults[fault] ?? 0) + 1;
    const hold = () => {
      const t = setTimeout(() => res.destroy(), faultPlan?.holdMs ?? 30_000);
      res.once('close', () => clearTimeout(t));
    };
    switch (fault) {
      case 'rate_limit':
        return send(res, 429, errorBody(new ApiError(429, 'Too many requests hit the API too quickly (stand-in fault).', 'rate_limit')));
      case 'server_error':
        return send(res, 500, errorBody(new ApiError(500, 'An unknown error occurred (stand-in fault, before the request took effect).')));
      case 'timeout':
        return hold();
      case 'drop':
        return void req.socket.destroy();
      case 'bad_request':
        return send(res, 400, errorBody(new ApiError(400, 'Invalid request (stand-in fault).', 'parameter_invalid')));
    }

    const idemKey = req.method === 'POST' ? req.headers['idempotency-key'] : undefined;
    const idemId = typeof idemKey === 'string' ? `${path}\n${idemKey}` : undefined;
    let status = 200;
    let out: string;
    let headers: Record<string, string> = {};
    const cached = idemId ? idempotent.get(idemId) : undefined;
    if (cached) {
      status = cached.status;
      out = cached.body;
      headers = { 'Idempotent-Replayed': 'true' };
    } else {
      try {
        out = JSON.stringify(handler.run(path.match(handler.pattern)!, req.method === 'POST' ? parseForm(body) : {}, parseForm(query)));
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        status = err.status;
        out = errorBody(err);
        headers = err.headers;
      }
      // Stripe saves the result of a POST under its idempotency key (errors from validation included).
      if (idemId && status < 500) idempotent.set(idemId, { status, body: out });
    }

    switch (fault) {
      case 'server_error_after':
        return send(res, 500, errorBody(new ApiError(500, 'An unknown error occurred (stand-in fault, after the request took effect).')));
      case 'timeout_after':
        return hold();
      case 'drop_after':
        return void req.socket.destroy();
    }
    send(res, status, out, headers);
  }

  const http = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) send(res, 500, JSON.stringify({ error: { type: 'api_error', message: `stand-in bug: ${String(err)}` } }));
    });
  });
  http.keepAliveTimeout = 30_000;
  http.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;

  const server: StripeServer = {
    url: base,
    port,
    env: (extra = {}) => ({
      STRIPE_SECRET_KEY: opts.apiKey ?? 'sk_test_standin',
      STRIPE_API_BASE: base,
      STRIPE_STAND_IN: '1',
      STRIPE_WEBHOOK_SECRET: extra.webhookSecret ?? webhookTarget?.secret ?? 'whsec_standin',
      ...(extra.priceBase ? { STRIPE_PRICE_BASE: extra.priceBase } : {}),
      ...(extra.priceMetered ? { STRIPE_PRICE_METERED: extra.priceMetered } : {}),
      CHECKOUT_SUCCESS_URL: `${base}/done?checkout=success`,
      CHECKOUT_CANCEL_URL: `${base}/done?checkout=cancel`,
      PORTAL_RETURN_URL: `${base}/done?portal=return`,
    }),
    stats,
    injectFaults(plan) {
      faultPlan = { ...plan, dice: rng(plan.seed ?? 42), left: plan.times ?? 0 };
    },
    clearFaults() {
      faultPlan = undefined;
    },
    meterEvents: (customer) => (customer ? [...(meterEventsByCustomer.get(customer) ?? [])] : [...meterEventsById.values()]),
    totals,
    subscription: (sid) => subscriptions.get(sid),
    checkoutSession: (sid) => sessions.get(sid),
    customer: (cid) => customers.get(cid),
    completeCheckout,
    renew,
    setCancelAtPeriodEnd,
    endSubscription,
    failPayment,
    payInvoice,
    deliver,
    setWebhook(to) {
      webhookTarget = to;
    },
    deliveries: () => deliveryLog.map((d) => ({ ...d })),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  return server;
}

// ---------------------------------------------------------------------------------------------------------
// Standalone

function isMain(): boolean {
  try {
    return !!process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

if (isMain()) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, 'webhook-url': { type: 'string' }, 'webhook-secret': { type: 'string' } } });
  const webhook = values['webhook-url'] && values['webhook-secret'] ? { url: values['webhook-url'], secret: values['webhook-secret'] } : undefined;
  const server = await startStripeServer({ port: Number(values.port), ...(webhook ? { webhook } : {}) });
  console.log(JSON.stringify({ url: server.url }));
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
