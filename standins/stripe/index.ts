/**
 * OFFLINE STAND-IN for the parts of Stripe's API that Redraft calls — dev, tests and benchmarks only,
 * never on a production code path. The real `stripe` SDK talks to it through
 * `new Stripe(key, { host: '127.0.0.1', port, protocol: 'http' })` (STRIPE_API_BASE).
 *
 * It keeps state the way Stripe does for what we use, and is as strict as Stripe wherever Redraft's
 * billing depends on it:
 * - products (custom ids), prices (lookup keys, graduated tiers, metered on a meter), meters (one active
 *   meter per event name), customers (deletable), Checkout Sessions, billing portal sessions (only with a
 *   portal configuration: a new account has none until its settings are saved once), subscriptions;
 * - meter events: an `identifier` (at most 100 characters) is rejected with Stripe's 400 ("An event already
 *   exists with identifier …", `Stripe-Should-Retry: false`) only within a rolling window (24 h by default,
 *   `identifierWindowMs`) — after it the same identifier is accepted and counted again; timestamps must be
 *   within 35 days back / 5 minutes ahead; values with more than 15 digits are refused. Like Stripe, some
 *   checks happen after the event was accepted (200): an unknown or deleted customer, no customer, a value
 *   that is not a whole number, an event name no meter has. Such events are not counted; they are reported
 *   as thin v2 events (`v1.billing.meter.error_report_triggered`, `v1.billing.meter.no_meter_found`) to the
 *   event destinations (`POST /v2/core/event_destinations`), fetched in full from `GET /v2/core/events/:id`;
 * - event summaries aggregate (sum) per customer over minute-aligned windows, eventually: an event shows
 *   in them `summaryLagMs` (60 s by default) after it was received;
 * - invoices: when a period ends (`renew`, or a subscription ending at its period end), the period's
 *   invoice is created as a draft and finalized `invoiceGraceMs` later (1 h by default, as Stripe's default
 *   finalization grace period). Its metered line is the meter's sum for the period as aggregated when it
 *   finalized: events received later are accepted and show in summaries, but are on no invoice. Pending
 *   invoice items (`POST /v1/invoiceitems`) go onto the customer's next invoice;
 * - webhook endpoints (`POST /v1/webhook_endpoints`, with `api_version`): events are rendered in the
 *   endpoint's API version (before 2025-03-31: the subscription's period on the subscription, not its items;
 *   `invoice.subscription` instead of `invoice.parent`);
 * - `Idempotency-Key`: a POST replayed with the same key gets the first answer back (as Stripe does), for
 *   24 h (`idempotencyKeyTtlMs`): Stripe may prune keys after that.
 *
 * Faults can be injected per route: 429, 500 (before or after the request took effect), a timeout (no
 * answer; before or after taking effect) and a dropped connection (before or after). "After" faults are
 * the dangerous ones for billing: Stripe recorded the event but the caller never heard so.
 *
 * Scenario helpers do what Stripe would do on its side (complete a Checkout, renew a period, schedule a
 * cancellation, end a subscription, fail or pay an invoice) and return the webhook events Stripe would send;
 * `deliver` signs them with `stripe.webhooks.generateTestHeaderString` and POSTs them to a webhook URL
 * (or to every registered endpoint, each in its API version).
 *
 * Standalone (dev, bench): `tsx standins/stripe/index.ts --port 0` prints `{"url": ...}` on one line;
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
  /** How long a meter event identifier is remembered (Stripe: a rolling window of at least 24 h). Default 24 h. */
  identifierWindowMs?: number;
  /** How long after it was received a meter event shows in event summaries (Stripe: eventually consistent). Default 60 s. */
  summaryLagMs?: number;
  /** How long after a period ends its invoice is finalized (Stripe's default finalization grace period: 1 h; up to 72 h). */
  invoiceGraceMs?: number;
  /** The account has a default billing portal configuration (saved once in the Dashboard). Default false, as a new account. */
  portalConfigured?: boolean;
  /** Send asynchronous meter error reports on their own every this many ms (default: only on `flushMeterErrors()`). */
  meterErrorFlushMs?: number;
  /** The account's default API version: a webhook endpoint created without `api_version` gets it. Default an older one. */
  accountApiVersion?: string;
  /** How long an Idempotency-Key's answer is kept (Stripe: keys may be pruned after 24 h). Default 24 h. */
  idempotencyKeyTtlMs?: number;
}

export interface MeterEventRecord {
  identifier: string;
  eventName: string;
  customer: string;
  value: number;
  timestamp: number;
  created: number;
  /** When the stand-in received it (ms, its clock). */
  receivedAt: number;
}

/** A meter event accepted with 200 and found invalid afterwards (as Stripe's asynchronous validation). */
export interface MeterEventError {
  identifier: string;
  eventName: string;
  code: 'meter_event_customer_not_found' | 'meter_event_no_customer_defined' | 'meter_event_invalid_value' | 'no_meter';
  message: string;
  meterId: string | undefined;
  receivedAt: number;
  /** The v2 event that reported it (after flushMeterErrors). */
  reportedIn?: string;
}

/** A v1 webhook endpoint (created through the API, e.g. by npm run stripe:setup). */
export interface WebhookEndpointRecord {
  id: string;
  url: string;
  api_version: string;
  enabled_events: string[];
  secret: string;
  status: 'enabled' | 'disabled';
}

/** A v2 event destination for thin events. */
export interface EventDestinationRecord {
  id: string;
  name: string;
  url: string;
  enabled_events: string[];
  event_payload: 'thin' | 'snapshot';
  secret: string;
  status: 'enabled' | 'disabled';
}

export interface StripeServerStats {
  requests: number;
  byRoute: Record<string, number>;
  /** accepted: answered 200 (a few may fail validation afterwards: meterEventErrors); rejected: answered 400 (duplicates apart). */
  meterEvents: { accepted: number; duplicates: number; rejected: number };
  faults: Partial<Record<FaultKind, number>>;
  /** Meter events accepted after their identifier's window had passed: the same identifier counted again. */
  identifierReuses: number;
  /** Meter events accepted, then found invalid (not counted; reported asynchronously). */
  meterEventErrors: number;
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
  env(extra?: { webhookSecret?: string; thinWebhookSecret?: string; priceBase?: string; priceMetered?: string }): Record<string, string>;
  stats: StripeServerStats;
  injectFaults(plan: FaultPlan): void;
  clearFaults(): void;
  /** Accepted meter events (optionally of one customer). */
  meterEvents(customer?: string): MeterEventRecord[];
  /** Sum of accepted meter event values per customer (optionally within [startSec, endSec)). */
  totals(range?: { start: number; end: number }): Map<string, number>;
  /** Meter events accepted with 200 and found invalid afterwards (never counted). */
  meterEventErrors(): MeterEventError[];
  /** Send the pending asynchronous meter errors as thin events to the event destinations; returns the statuses. */
  flushMeterErrors(): Promise<number[]>;
  /** Invoices as Stripe would answer them now (drafts show the live quantity; finalized ones are frozen). */
  invoices(customer?: string): Stripe.Invoice[];
  invoiceItems(customer?: string): Stripe.InvoiceItem[];
  webhookEndpoints(): WebhookEndpointRecord[];
  eventDestinations(): EventDestinationRecord[];
  /** Render an event as an endpoint of another API version would receive it. */
  renderEvent(event: Stripe.Event, apiVersion: string): Stripe.Event;
  subscription(id: string): Stripe.Subscription | undefined;
  checkoutSession(id: string): Obj | undefined;
  customer(id: string): Obj | undefined;
  /** As deleting the customer in the Dashboard: later meter events for it fail validation. */
  deleteCustomer(id: string): void;
  /** Whether the account has a default billing portal configuration. */
  setPortalConfigured(configured: boolean): void;
  /** Answer a duplicate identifier with another 400 than Stripe's usual one (message, optional code). */
  setDuplicateAnswer(answer: { message: (identifier: string) => string; code?: string } | undefined): void;
  /** Scenario helpers: change state as Stripe would and return the events Stripe would send. */
  completeCheckout(sessionId: string, at?: number): Stripe.Event[];
  renew(subscriptionId: string, at?: number): Stripe.Event[];
  setCancelAtPeriodEnd(subscriptionId: string, cancel: boolean): Stripe.Event[];
  endSubscription(subscriptionId: string, at?: number): Stripe.Event[];
  failPayment(subscriptionId: string): Stripe.Event[];
  payInvoice(subscriptionId: string): Stripe.Event[];
  /**
   * Sign (generateTestHeaderString) and POST events, in order; returns the statuses. To `to` (rendered in
   * `to.apiVersion`, default the SDK's), or without it to the setWebhook target (every type, the SDK's
   * version) and to every registered webhook endpoint enabled for the type, each in its API version.
   */
  deliver(events: Stripe.Event[], to?: { url: string; secret: string; apiVersion?: string }): Promise<number[]>;
  /**
   * Where the Checkout/portal pages' buttons (and `deliver` without a target) send webhooks. Set after the
   * API has started when its port was not known when the stand-in started.
   */
  setWebhook(to: { url: string; secret: string } | undefined): void;
  /** Where thin events go without a registered event destination (tests wire it like setWebhook). */
  setThinWebhook(to: { url: string; secret: string } | undefined): void;
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

/** One invoice the stand-in keeps; rendered (status, metered quantity) as of the stand-in's clock. */
interface InvoiceRecord {
  id: string;
  customer: string;
  subscription: string;
  subscriptionMetadata: Record<string, string>;
  billingReason: 'subscription_create' | 'subscription_cycle';
  /** Seconds. The invoice is a draft until `finalizesAt`, then final (and paid: automatic collection). */
  created: number;
  finalizesAt: number;
  periodStart: number;
  periodEnd: number;
  /** The metered price's line: the meter's sum over [start, end) as aggregated when the invoice finalized. */
  usage?: { price: Obj; subscriptionItem: string; start: number; end: number };
  /** Lines fixed at creation (the base price of the new period). */
  lines: Obj[];
  /** Invoice items pulled onto this invoice. */
  items: string[];
}

/** The price of `qty` units on a (graduated tiered or per-unit) price, in cents, rounded once per line as Stripe does. */
function priceAmount(price: Obj, qty: number): number {
  const tiers = price.tiers as { up_to: number | null; unit_amount: number | null; unit_amount_decimal: string | null }[] | null;
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

/** Significant digits of a decimal string (Stripe refuses meter values with more than 15). */
const significantDigits = (v: string) => v.replace(/^[-+]/, '').replace('.', '').replace(/^0+/, '').length;

/** Webhook events of API versions before 2025-03-31 (basil) carry the older shapes. */
const OLD_SHAPES_BEFORE = '2025-03-31';

const iso = (ms: number) => new Date(ms).toISOString();
/** Sample errors per error code in one asynchronous error report. */
const METER_ERROR_SAMPLES = 5;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const meta = (v: unknown): Record<string, string> => (v && typeof v === 'object' ? (v as Record<string, string>) : {});

// ---------------------------------------------------------------------------------------------------------

export async function startStripeServer(opts: StripeServerOptions = {}): Promise<StripeServer> {
  const now = opts.now ?? Date.now;
  const identifierWindowMs = opts.identifierWindowMs ?? 24 * 3_600_000;
  const summaryLagMs = opts.summaryLagMs ?? 60_000;
  const invoiceGraceSec = Math.round((opts.invoiceGraceMs ?? 3_600_000) / 1000);
  let portalConfigured = opts.portalConfigured ?? false;
  let duplicateAnswer: { message: (identifier: string) => string; code?: string } | undefined;
  const stats: StripeServerStats = { requests: 0, byRoute: {}, meterEvents: { accepted: 0, duplicates: 0, rejected: 0 }, faults: {}, identifierReuses: 0, meterEventErrors: 0 };
  let seq = 0;
  const id = (prefix: string) => `${prefix}_${(++seq).toString(36).padStart(6, '0')}${randomBytes(5).toString('hex')}`;

  const products = new Map<string, Obj>();
  const prices = new Map<string, Obj>();
  const meters = new Map<string, Obj>();
  const customers = new Map<string, Obj>();
  const sessions = new Map<string, Obj>();
  const portals = new Map<string, Obj>();
  const subscriptions = new Map<string, Stripe.Subscription>();
  /** Every meter event counted, in order of receipt. */
  const meterEventLog: MeterEventRecord[] = [];
  const meterEventsByCustomer = new Map<string, MeterEventRecord[]>();
  /** identifier → when an event with it was last accepted (ms): a repeat inside the window is a duplicate. */
  const identifierSeen = new Map<string, number>();
  const meterErrors: MeterEventError[] = [];
  const invoices = new Map<string, InvoiceRecord>();
  const invoiceItems = new Map<string, Obj>();
  const endpoints = new Map<string, WebhookEndpointRecord & { created: number; description: string | null; metadata: Record<string, string> }>();
  const destinations = new Map<string, EventDestinationRecord & { created: string; description: string }>();
  const v2Events = new Map<string, Obj>();
  const portalConfigurations = new Map<string, Obj>();
  const idempotent = new Map<string, { status: number; body: string; at: number }>();
  const idempotencyTtlMs = opts.idempotencyKeyTtlMs ?? 24 * 3_600_000;
  let thinTarget: { url: string; secret: string } | undefined;

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

  /** A v1 list page: newest first, `limit` (default 10) after `starting_after`, as the SDK paginates. */
  const listOf = (all: Obj[], q: Obj, url: string) => {
    const after = str(q.starting_after);
    const start = after ? all.findIndex((x) => x.id === after) + 1 : 0;
    const limit = Math.min(100, Math.max(1, Number(q.limit ?? 10) || 10));
    return { object: 'list', data: all.slice(start, start + limit), has_more: start + limit < all.length, url };
  };

  const defaultPortalConfiguration = () => ({ id: 'bpc_default_standin', object: 'billing_portal.configuration', active: true, is_default: true, features: { subscription_cancel: { enabled: true, mode: 'at_period_end' } }, metadata: {}, livemode: false });

  /** The meter's sum for an invoice's usage line, counting events received (and aggregated) by `asOfMs`. */
  const usageQuantity = (inv: InvoiceRecord, asOfMs: number) => {
    const meterId = (inv.usage!.price.recurring as Obj).meter as string;
    const eventName = meters.get(meterId)?.event_name;
    return (meterEventsByCustomer.get(inv.customer) ?? [])
      .filter((e) => e.eventName === eventName && e.timestamp >= inv.usage!.start && e.timestamp < inv.usage!.end && e.receivedAt <= asOfMs - summaryLagMs)
      .reduce((sum, e) => sum + e.value, 0);
  };

  /** An invoice as Stripe answers it now: a draft (live quantity, finalizing at `automatically_finalizes_at`) or final and paid (frozen). */
  function renderInvoice(inv: InvoiceRecord): Stripe.Invoice {
    const final = sec(now()) >= inv.finalizesAt;
    const lines: Obj[] = [];
    if (inv.usage) {
      const q = usageQuantity(inv, final ? inv.finalizesAt * 1000 : now());
      const price = inv.usage.price;
      lines.push({
        id: `il_${inv.id}_usage`,
        object: 'line_item',
        amount: priceAmount(price, q),
        currency: 'usd',
        description: `${q.toLocaleString('en-US')} × ${price.nickname ?? price.id}`,
        invoice: inv.id,
        livemode: false,
        metadata: {},
        period: { start: inv.usage.start, end: inv.usage.end },
        quantity: q,
        pricing: { type: 'price_details', price_details: { price: price.id, product: price.product }, unit_amount_decimal: null },
        parent: { type: 'subscription_item_details', invoice_item_details: null, subscription_item_details: { subscription: inv.subscription, subscription_item: inv.usage.subscriptionItem, proration: false, invoice_item: null, proration_details: null } },
        subscription: inv.subscription,
      });
    }
    lines.push(...inv.lines);
    for (const iid of inv.items) {
      const it = invoiceItems.get(iid)!;
      lines.push({
        id: `il_${iid}`,
        object: 'line_item',
        amount: it.amount,
        currency: it.currency,
        description: it.description,
        invoice: inv.id,
        livemode: false,
        metadata: it.metadata,
        period: it.period,
        quantity: it.quantity,
        pricing: { type: 'price_details', price_details: null, unit_amount_decimal: it.unit_amount_decimal },
        parent: { type: 'invoice_item_details', subscription_item_details: null, invoice_item_details: { invoice_item: iid, proration: false, proration_details: null, subscription: it.subscription } },
        subscription: it.subscription,
      });
    }
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
      status_transitions: { finalized_at: final ? inv.finalizesAt : null, paid_at: final ? inv.finalizesAt : null, marked_uncollectible_at: null, voided_at: null },
      parent: { type: 'subscription_details', quote_details: null, subscription_details: { subscription: inv.subscription, metadata: inv.subscriptionMetadata } },
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
  function periodEndInvoice(sub: Stripe.Subscription, usageStart: number, usageEnd: number, next?: { start: number; end: number }): InvoiceRecord {
    const inv: InvoiceRecord = {
      id: id('in'),
      customer: String(sub.customer),
      subscription: sub.id,
      subscriptionMetadata: { ...(sub.metadata ?? {}) },
      billingReason: 'subscription_cycle',
      created: usageEnd,
      finalizesAt: usageEnd + invoiceGraceSec,
      periodStart: usageStart,
      periodEnd: usageEnd,
      lines: [],
      items: [],
    };
    for (const item of sub.items.data) {
      const price = item.price as unknown as Obj;
      if ((price.recurring as Obj | null)?.usage_type === 'metered') inv.usage = { price, subscriptionItem: item.id, start: usageStart, end: usageEnd };
      else if (next) inv.lines.push(licensedLine(inv.id, sub.id, item, next.start, next.end));
    }
    for (const it of invoiceItems.values()) {
      if (it.invoice === null && it.customer === inv.customer && (it.subscription === null || it.subscription === sub.id)) {
        it.invoice = inv.id;
        inv.items.push(String(it.id));
      }
    }
    invoices.set(inv.id, inv);
    return inv;
  }

  const licensedLine = (invoiceId: string, subId: string, item: Stripe.SubscriptionItem, start: number, end: number): Obj => {
    const price = item.price as unknown as Obj;
    return {
      id: `il_${invoiceId}_${item.id}`,
      object: 'line_item',
      amount: priceAmount(price, 1),
      currency: 'usd',
      description: `1 × ${price.nickname ?? price.id}`,
      invoice: invoiceId,
      livemode: false,
      metadata: {},
      period: { start, end },
      quantity: 1,
      pricing: { type: 'price_details', price_details: { price: price.id, product: price.product }, unit_amount_decimal: null },
      parent: { type: 'subscription_item_details', invoice_item_details: null, subscription_item_details: { subscription: subId, subscription_item: item.id, proration: false, invoice_item: null, proration_details: null } },
      subscription: subId,
    };
  };

  /** An event as an endpoint of `apiVersion` receives it (the shapes Redraft reads changed in 2025-03-31). */
  function renderEvent(e: Stripe.Event, apiVersion: string): Stripe.Event {
    if (e.api_version === apiVersion) return e;
    const out = structuredClone(e) as unknown as Obj & { data: { object: Obj; previous_attributes?: Obj } };
    out.api_version = apiVersion;
    if (apiVersion < OLD_SHAPES_BEFORE) {
      const o = out.data.object;
      if (o.object === 'subscription') {
        const items = (o.items as { data: Obj[] }).data;
        o.current_period_start = items[0]?.current_period_start;
        o.current_period_end = items[0]?.current_period_end;
        for (const item of items) {
          delete item.current_period_start;
          delete item.current_period_end;
        }
        delete out.data.previous_attributes?.items;
      }
      if (o.object === 'invoice') {
        o.subscription = ((o.parent as Obj | null)?.subscription_details as Obj | undefined)?.subscription ?? null;
        delete o.parent;
      }
    }
    return out as unknown as Stripe.Event;
  }

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
    // Eventually consistent: an event shows in summaries `summaryLagMs` after it was received.
    const settled = now() - summaryLagMs;
    const events = (meterEventsByCustomer.get(customer) ?? []).filter((e) => e.eventName === meter.event_name && e.timestamp >= start && e.timestamp < end && e.receivedAt <= settled);
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
    if (!eventName) {
      stats.meterEvents.rejected++;
      throw new ApiError(400, 'Missing required param: event_name.', 'parameter_missing', 'event_name');
    }
    const payload = (p.payload ?? {}) as Record<string, string>;
    if (typeof payload !== 'object' || Object.keys(payload).length === 0) {
      stats.meterEvents.rejected++;
      throw new ApiError(400, 'Missing required param: payload.', 'parameter_missing', 'payload');
    }
    const identifier = str(p.identifier) ?? id('mev');
    if (identifier.length > 100) {
      stats.meterEvents.rejected++;
      throw new ApiError(400, 'Invalid string: identifier must be at most 100 characters.', 'parameter_invalid_string', 'identifier');
    }
    const t = p.timestamp !== undefined ? Number(p.timestamp) : sec(now());
    if (!Number.isInteger(t) || t < sec(now()) - 35 * 86_400 || t > sec(now()) + 300) {
      stats.meterEvents.rejected++;
      throw new ApiError(400, 'Timestamp must be within the past 35 calendar days or up to 5 minutes in the future.', 'parameter_invalid_integer', 'timestamp');
    }
    const meter = [...meters.values()].find((x) => x.event_name === eventName && x.status === 'active');
    const custKey = meter ? ((meter.customer_mapping as Obj).event_payload_key as string) : 'stripe_customer_id';
    const valueKey = meter ? ((meter.value_settings as Obj).event_payload_key as string) : 'value';
    const rawValue = payload[valueKey];
    if (typeof rawValue === 'string' && significantDigits(rawValue) > 15) {
      stats.meterEvents.rejected++;
      throw new ApiError(400, `The value in the event payload can have at most 15 digits. Received ${rawValue}.`, 'parameter_invalid', `payload[${valueKey}]`);
    }
    // Identifiers are unique only within a rolling window: after it, the same identifier is a new event.
    const seen = identifierSeen.get(identifier);
    if (seen !== undefined && now() - seen < identifierWindowMs) {
      stats.meterEvents.duplicates++;
      const answer = duplicateAnswer;
      throw new ApiError(400, answer ? answer.message(identifier) : `An event already exists with identifier ${identifier}.`, answer?.code, 'identifier', { 'Stripe-Should-Retry': 'false' });
    }
    if (seen !== undefined) stats.identifierReuses++;
    identifierSeen.set(identifier, now());
    const accepted = { object: 'billing.meter_event', created: sec(now()), event_name: eventName, identifier, livemode: false, payload, timestamp: t };

    // Validated after acceptance, as Stripe does: the caller got its 200 either way.
    const customer = payload[custKey];
    const cust = customer ? customers.get(customer) : undefined;
    let error: Pick<MeterEventError, 'code' | 'message'> | undefined;
    if (!meter) error = { code: 'no_meter', message: `No active meter was found that matches the event_name \`${eventName}\`.` };
    else if (!customer) error = { code: 'meter_event_no_customer_defined', message: `The event payload has no \`${custKey}\`.` };
    else if (!cust || cust.deleted) error = { code: 'meter_event_customer_not_found', message: `No customer with id \`${customer}\` was found.` };
    else if (typeof rawValue !== 'string' || !/^\d+$/.test(rawValue)) error = { code: 'meter_event_invalid_value', message: `The value \`${rawValue ?? ''}\` in the event payload is not a whole number.` };
    stats.meterEvents.accepted++; // answered 200 (counted below unless it fails validation)
    if (error) {
      meterErrors.push({ identifier, eventName, ...error, meterId: meter ? String(meter.id) : undefined, receivedAt: now() });
      stats.meterEventErrors++;
      return accepted;
    }
    const rec: MeterEventRecord = { identifier, eventName, customer: customer!, value: Number(rawValue), timestamp: t, created: sec(now()), receivedAt: now() };
    meterEventLog.push(rec);
    let list = meterEventsByCustomer.get(rec.customer);
    if (!list) meterEventsByCustomer.set(rec.customer, (list = []));
    list.push(rec);
    return accepted;
  });

  route('POST', '/v1/customers', (_m, p) => {
    const cust = { id: id('cus'), object: 'customer', email: str(p.email) ?? null, name: str(p.name) ?? null, metadata: meta(p.metadata), created: sec(now()), livemode: false };
    customers.set(cust.id, cust);
    return cust;
  });
  route('GET', '/v1/customers/:id', (m) => {
    const cust = customers.get(m[1]!);
    if (!cust) throw new ApiError(404, `No such customer: '${m[1]}'`, 'resource_missing', 'id');
    return cust.deleted ? { id: cust.id, object: 'customer', deleted: true } : cust;
  });
  route('DELETE', '/v1/customers/:id', (m) => {
    const cust = customers.get(m[1]!);
    if (!cust || cust.deleted) throw new ApiError(404, `No such customer: '${m[1]}'`, 'resource_missing', 'id');
    cust.deleted = true;
    return { id: cust.id, object: 'customer', deleted: true };
  });
  const liveCustomer = (cid: string | undefined, param: string) => {
    const cust = cid ? customers.get(cid) : undefined;
    if (!cust || cust.deleted) throw new ApiError(400, `No such customer: '${cid}'`, 'resource_missing', param);
    return cust;
  };

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
    if (customer) liveCustomer(customer, 'customer');
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
    liveCustomer(customer, 'customer');
    const configuration = str(p.configuration);
    if (configuration && portalConfigurations.get(configuration)?.active !== true) throw new ApiError(400, `No such configuration: '${configuration}'`, 'resource_missing', 'configuration');
    if (!configuration && !portalConfigured) {
      // Stripe's answer on an account whose customer portal settings were never saved.
      throw new ApiError(
        400,
        'No configuration provided and your test mode default configuration has not been created. Provide a configuration or create your default by saving your customer portal settings in test mode at https://dashboard.stripe.com/test/settings/billing/portal.',
      );
    }
    const pid = id('bps');
    const portal = { id: pid, object: 'billing_portal.session', customer, return_url: str(p.return_url) ?? null, url: `${base}/portal/${pid}`, created: sec(now()), livemode: false };
    portals.set(pid, portal);
    return portal;
  });

  route('GET', '/v1/billing_portal/configurations', (_m, _p, q) => {
    const all = [...portalConfigurations.values()];
    if (portalConfigured) all.unshift(defaultPortalConfiguration());
    const data = all.filter((c) => (q.is_default === undefined || String(c.is_default) === q.is_default) && (q.active === undefined || String(c.active) === q.active));
    return listOf(data, q, '/v1/billing_portal/configurations');
  });
  route('POST', '/v1/billing_portal/configurations', (_m, p) => {
    const cfg = { id: id('bpc'), object: 'billing_portal.configuration', active: true, is_default: false, features: p.features ?? {}, metadata: meta(p.metadata), created: sec(now()), livemode: false };
    portalConfigurations.set(cfg.id, cfg);
    return cfg;
  });

  // Invoices (read-only: Stripe creates them at period ends) and invoice items.
  route('GET', '/v1/invoices', (_m, _p, q) => {
    const created = (q.created ?? {}) as Obj;
    const data = [...invoices.values()]
      .filter((inv) => (!q.customer || inv.customer === q.customer) && (!q.subscription || inv.subscription === q.subscription))
      .filter((inv) => (created.gte === undefined || inv.created >= Number(created.gte)) && (created.lte === undefined || inv.created <= Number(created.lte)))
      .sort((a, b) => b.created - a.created || (b.id < a.id ? -1 : 1))
      .map(renderInvoice)
      .filter((inv) => !q.status || inv.status === q.status);
    return listOf(data as unknown as Obj[], q, '/v1/invoices');
  });
  route('GET', '/v1/invoices/:id', (m) => {
    const inv = invoices.get(m[1]!);
    if (!inv) throw new ApiError(404, `No such invoice: '${m[1]}'`, 'resource_missing', 'id');
    return renderInvoice(inv) as unknown as Obj;
  });
  route('POST', '/v1/invoiceitems', (_m, p) => {
    const customer = str(p.customer);
    if (!customer) throw new ApiError(400, 'Missing required param: customer.', 'parameter_missing', 'customer');
    liveCustomer(customer, 'customer');
    const subscription = str(p.subscription);
    if (subscription && subscriptions.get(subscription)?.customer !== customer) throw new ApiError(400, `No such subscription: '${subscription}'`, 'resource_missing', 'subscription');
    const currency = str(p.currency);
    if (!currency) throw new ApiError(400, 'Missing required param: currency.', 'parameter_missing', 'currency');
    const qd = str(p.quantity_decimal);
    if (qd !== undefined && !/^\d+(\.\d{1,12})?$/.test(qd)) throw new ApiError(400, `Invalid decimal: ${qd}`, 'parameter_invalid', 'quantity_decimal');
    const quantity = qd !== undefined ? Number(qd) : p.quantity !== undefined ? Number(p.quantity) : 1;
    if (qd === undefined && (!Number.isInteger(quantity) || quantity < 0)) throw new ApiError(400, 'Invalid integer: quantity must be a whole number of at least 0.', 'parameter_invalid_integer', 'quantity');
    const unit = str(p.unit_amount_decimal);
    if (unit !== undefined && !/^\d+(\.\d{1,12})?$/.test(unit)) throw new ApiError(400, `Invalid decimal: ${unit}`, 'parameter_invalid', 'unit_amount_decimal');
    if (unit === undefined && p.amount === undefined) throw new ApiError(400, 'You must specify either `amount`, `unit_amount_decimal` or a price.', 'parameter_missing', 'amount');
    const target = str(p.invoice);
    if (target && invoices.get(target) && renderInvoice(invoices.get(target)!).status !== 'draft') throw new ApiError(400, 'You can only add invoice items to draft invoices.', undefined, 'invoice');
    const period = p.period as Obj | undefined;
    const item = {
      id: id('ii'),
      object: 'invoiceitem',
      customer,
      subscription: subscription ?? null,
      currency,
      quantity: Math.trunc(quantity),
      quantity_decimal: qd ?? String(quantity),
      unit_amount_decimal: unit ?? null,
      amount: p.amount !== undefined ? Number(p.amount) : Math.round(quantity * Number(unit)),
      description: str(p.description) ?? null,
      period: { start: period ? Number(period.start) : sec(now()), end: period ? Number(period.end) : sec(now()) },
      metadata: meta(p.metadata),
      invoice: target ?? null,
      date: sec(now()),
      discountable: true,
      proration: false,
      livemode: false,
    };
    invoiceItems.set(item.id, item);
    if (target && invoices.get(target)) invoices.get(target)!.items.push(item.id);
    return item;
  });
  route('GET', '/v1/invoiceitems', (_m, _p, q) => {
    const data = [...invoiceItems.values()]
      .filter((it) => (!q.customer || it.customer === q.customer) && (q.pending === undefined || (it.invoice === null) === (q.pending === 'true')))
      .reverse();
    return listOf(data, q, '/v1/invoiceitems');
  });

  // Webhook endpoints: events are rendered in the endpoint's API version; the secret is shown once, on creation.
  const endpointObject = (e: WebhookEndpointRecord & { created: number; description: string | null; metadata: Record<string, string> }, withSecret = false) => ({
    id: e.id,
    object: 'webhook_endpoint',
    api_version: e.api_version,
    application: null,
    created: e.created,
    description: e.description,
    enabled_events: e.enabled_events,
    livemode: false,
    metadata: e.metadata,
    status: e.status,
    url: e.url,
    ...(withSecret ? { secret: e.secret } : {}),
  });
  route('POST', '/v1/webhook_endpoints', (_m, p) => {
    const url = str(p.url);
    if (!url || !/^https?:\/\//.test(url)) throw new ApiError(400, 'Invalid URL: url must be an http(s) URL.', 'url_invalid', 'url');
    const enabled = Array.isArray(p.enabled_events) ? (p.enabled_events as string[]) : [];
    if (enabled.length === 0) throw new ApiError(400, 'Missing required param: enabled_events.', 'parameter_missing', 'enabled_events');
    const e = { id: id('we'), url, api_version: str(p.api_version) ?? opts.accountApiVersion ?? '2025-02-24.acacia', enabled_events: enabled, secret: `whsec_${randomBytes(24).toString('hex')}`, status: 'enabled' as const, created: sec(now()), description: str(p.description) ?? null, metadata: meta(p.metadata) };
    endpoints.set(e.id, e);
    return endpointObject(e, true);
  });
  route('GET', '/v1/webhook_endpoints', (_m, _p, q) => listOf([...endpoints.values()].reverse().map((e) => endpointObject(e)), q, '/v1/webhook_endpoints'));
  route('POST', '/v1/webhook_endpoints/:id', (m, p) => {
    const e = endpoints.get(m[1]!);
    if (!e) throw new ApiError(404, `No such webhook endpoint: '${m[1]}'`, 'resource_missing', 'id');
    if (p.api_version !== undefined) throw new ApiError(400, 'Received unknown parameter: api_version', 'parameter_unknown', 'api_version');
    if (Array.isArray(p.enabled_events)) e.enabled_events = p.enabled_events as string[];
    if (str(p.url)) e.url = str(p.url)!;
    if (p.disabled !== undefined) e.status = p.disabled === 'true' ? 'disabled' : 'enabled';
    if (p.description !== undefined) e.description = str(p.description) ?? null;
    return endpointObject(e);
  });
  route('DELETE', '/v1/webhook_endpoints/:id', (m) => {
    if (!endpoints.delete(m[1]!)) throw new ApiError(404, `No such webhook endpoint: '${m[1]}'`, 'resource_missing', 'id');
    return { id: m[1], object: 'webhook_endpoint', deleted: true };
  });

  // v2 event destinations (thin events) and events.
  const destinationObject = (d: EventDestinationRecord & { created: string; description: string }, include: string[]) => ({
    id: d.id,
    object: 'v2.core.event_destination',
    created: d.created,
    updated: d.created,
    description: d.description,
    name: d.name,
    type: 'webhook_endpoint',
    event_payload: d.event_payload,
    enabled_events: d.enabled_events,
    livemode: false,
    status: d.status,
    webhook_endpoint: { ...(include.includes('webhook_endpoint.url') ? { url: d.url } : {}), ...(include.includes('webhook_endpoint.signing_secret') ? { signing_secret: d.secret } : {}) },
  });
  const includes = (v: unknown) => (Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : []);
  route('POST', '/v2/core/event_destinations', (_m, p) => {
    const url = str((p.webhook_endpoint as Obj | undefined)?.url);
    if (p.type !== 'webhook_endpoint' || !url) throw new ApiError(400, 'This stand-in supports type=webhook_endpoint with webhook_endpoint.url only.', 'invalid_request', 'type');
    const enabled = Array.isArray(p.enabled_events) ? (p.enabled_events as string[]) : [];
    if (enabled.length === 0 || !str(p.name)) throw new ApiError(400, 'name and enabled_events are required.', 'parameter_missing', 'enabled_events');
    const d = { id: id('ed'), name: str(p.name)!, url, enabled_events: enabled, event_payload: p.event_payload === 'snapshot' ? ('snapshot' as const) : ('thin' as const), secret: `whsec_${randomBytes(24).toString('hex')}`, status: 'enabled' as const, created: iso(now()), description: str(p.description) ?? '' };
    destinations.set(d.id, d);
    return destinationObject(d, includes(p.include));
  });
  route('GET', '/v2/core/event_destinations', (_m, _p, q) => ({ data: [...destinations.values()].map((d) => destinationObject(d, includes(q.include))), next_page_url: null, previous_page_url: null }));
  route('POST', '/v2/core/event_destinations/:id', (m, p) => {
    const d = destinations.get(m[1]!);
    if (!d) throw new ApiError(404, `No such event destination: '${m[1]}'`, 'not_found', 'id');
    if (Array.isArray(p.enabled_events)) d.enabled_events = p.enabled_events as string[];
    const url = str((p.webhook_endpoint as Obj | undefined)?.url);
    if (url) d.url = url;
    return destinationObject(d, includes(p.include));
  });
  route('DELETE', '/v2/core/event_destinations/:id', (m) => {
    if (!destinations.delete(m[1]!)) throw new ApiError(404, `No such event destination: '${m[1]}'`, 'not_found', 'id');
    return { id: m[1], object: 'v2.core.event_destination', deleted: true };
  });
  route('GET', '/v2/core/events/:id', (m) => {
    const e = v2Events.get(m[1]!);
    if (!e) throw new ApiError(404, `No such event: '${m[1]}'`, 'not_found', 'id');
    return e;
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
    // The first invoice: the first period's base price, paid at once (metered usage is billed in arrears).
    const first: InvoiceRecord = { id: id('in'), customer, subscription: subId, subscriptionMetadata: { ...sub.metadata }, billingReason: 'subscription_create', created: start, finalizesAt: start, periodStart: start, periodEnd: start, lines: [], items: [] };
    for (const item of sub.items.data) if ((item.price as unknown as Obj).recurring && ((item.price as unknown as Obj).recurring as Obj).usage_type !== 'metered') first.lines.push(licensedLine(first.id, subId, item, start, end));
    invoices.set(first.id, first);
    events.push(event('customer.subscription.created', sub));
    events.push(event('checkout.session.completed', session));
    events.push(event('invoice.paid', renderInvoice(first)));
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
    // The ended period's invoice: a draft now, finalized after the grace period (invoice.created is sent now).
    const inv = periodEndInvoice(sub, prev.current_period_start, start, { start, end });
    for (const item of sub.items.data) Object.assign(item, { current_period_start: start, current_period_end: end });
    if (sub.status === 'past_due') sub.status = 'active';
    return [event('customer.subscription.updated', sub, previous), event('invoice.created', renderInvoice(inv))];
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
    const item = sub.items.data[0]!;
    Object.assign(sub, { status: 'canceled', ended_at: sec(at), canceled_at: sub.canceled_at ?? sec(at) });
    // Ending at its period end, the subscription's last invoice bills that period's usage. (Cancelled
    // before the end, Stripe by default invoices no metered usage: `invoice_now` is false.)
    if (sec(at) >= item.current_period_end) {
      const inv = periodEndInvoice(sub, item.current_period_start, item.current_period_end);
      return [event('customer.subscription.deleted', sub), event('invoice.created', renderInvoice(inv))];
    }
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

  async function post(url: string, secret: string, body: unknown, logged: WebhookDelivery): Promise<number> {
    const payload = JSON.stringify(body, null, 2);
    const header = Stripe.webhooks.generateTestHeaderString({ payload, secret });
    deliveryLog.push(logged);
    // No answer (an unreachable URL) is status 0, as Stripe's delivery log shows a failed attempt.
    const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Stripe-Signature': header }, body: payload }).catch(() => undefined);
    await res?.arrayBuffer();
    logged.status = res?.status ?? 0;
    return logged.status;
  }

  async function deliver(events: Stripe.Event[], to?: { url: string; secret: string; apiVersion?: string }): Promise<number[]> {
    type Target = { url: string; secret: string; apiVersion: string; types?: string[] };
    const targets: Target[] = to
      ? [{ url: to.url, secret: to.secret, apiVersion: to.apiVersion ?? Stripe.API_VERSION }]
      : [
          ...(webhookTarget ? [{ ...webhookTarget, apiVersion: Stripe.API_VERSION }] : []),
          ...[...endpoints.values()].filter((e) => e.status === 'enabled').map((e) => ({ url: e.url, secret: e.secret, apiVersion: e.api_version, types: e.enabled_events })),
        ];
    if (targets.length === 0) throw new Error('stand-in: no webhook URL to deliver to');
    const statuses: number[] = [];
    for (const e of events) {
      for (const t of targets) {
        if (t.types && !t.types.includes('*') && !t.types.includes(e.type)) continue;
        statuses.push(await post(t.url, t.secret, renderEvent(e, t.apiVersion), { eventId: e.id, type: e.type, url: t.url, status: 0 }));
      }
    }
    return statuses;
  }

  /**
   * Stripe's asynchronous meter validation reports: one `v1.billing.meter.error_report_triggered` per meter
   * (and one `v1.billing.meter.no_meter_found`) for the errors since the last report, with the count per
   * error code and a few samples (identifier and message) each — not every failed event is named. Thin
   * payloads go to the event destinations; the full event is at GET /v2/core/events/:id.
   */
  async function flushMeterErrors(): Promise<number[]> {
    const pending = meterErrors.filter((e) => !e.reportedIn);
    const groups = new Map<string, MeterEventError[]>();
    for (const e of pending) {
      const k = e.code === 'no_meter' ? 'no_meter' : `meter:${e.meterId}`;
      groups.set(k, [...(groups.get(k) ?? []), e]);
    }
    const statuses: number[] = [];
    for (const [k, list] of groups) {
      const type = k === 'no_meter' ? 'v1.billing.meter.no_meter_found' : 'v1.billing.meter.error_report_triggered';
      const byCode = new Map<string, MeterEventError[]>();
      for (const e of list) byCode.set(e.code, [...(byCode.get(e.code) ?? []), e]);
      const evtId = id('evt_test');
      const meterId = list[0]!.meterId;
      const thin = {
        id: evtId,
        object: 'v2.core.event',
        type,
        created: iso(now()),
        livemode: false,
        ...(meterId ? { related_object: { id: meterId, type: 'billing.meter', url: `/v1/billing/meters/${meterId}` } } : {}),
      };
      v2Events.set(evtId, {
        ...thin,
        data: {
          developer_message_summary: `There were ${list.length} invalid meter event(s) between ${iso(Math.min(...list.map((e) => e.receivedAt)))} and ${iso(now())}.`,
          reason: {
            error_count: list.length,
            error_types: [...byCode].map(([code, errs]) => ({ code, error_count: errs.length, sample_errors: errs.slice(0, METER_ERROR_SAMPLES).map((e) => ({ error_message: e.message, request: { identifier: e.identifier } })) })),
          },
          validation_start: iso(Math.min(...list.map((e) => e.receivedAt))),
          validation_end: iso(now()),
        },
      });
      for (const e of list) e.reportedIn = evtId;
      const targets = [
        ...(thinTarget ? [thinTarget] : []),
        ...[...destinations.values()].filter((d) => d.status === 'enabled' && d.event_payload === 'thin' && d.enabled_events.includes(type)).map((d) => ({ url: d.url, secret: d.secret })),
      ];
      for (const t of targets) statuses.push(await post(t.url, t.secret, thin, { eventId: evtId, type, url: t.url, status: 0 }));
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
        if (webhookTarget || endpoints.size > 0) await deliver(events).catch(() => []);
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
          if (webhookTarget || endpoints.size > 0) await deliver(events).catch(() => []);
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
    if (path === '/_standin/flush-meter-errors' && req.method === 'POST') return send(res, 200, JSON.stringify({ statuses: await flushMeterErrors() })), true;
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
    if (!path.startsWith('/v1/') && !path.startsWith('/v2/')) {
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
    // Keys are pruned after 24 h: a replay after that runs the request again.
    const kept = idemId ? idempotent.get(idemId) : undefined;
    const cached = kept && now() - kept.at < idempotencyTtlMs ? kept : undefined;
    if (cached) {
      status = cached.status;
      out = cached.body;
      headers = { 'Idempotent-Replayed': 'true' };
    } else {
      try {
        // v1 bodies are form-encoded, v2 bodies JSON.
        const params = req.method !== 'POST' ? {} : path.startsWith('/v2/') ? ((body ? JSON.parse(body) : {}) as Obj) : parseForm(body);
        out = JSON.stringify(handler.run(path.match(handler.pattern)!, params, parseForm(query)));
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        status = err.status;
        out = errorBody(err);
        headers = err.headers;
      }
      // Stripe saves the result of a POST under its idempotency key (errors from validation included).
      if (idemId && status < 500) idempotent.set(idemId, { status, body: out, at: now() });
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
  const flushTimer = opts.meterErrorFlushMs ? setInterval(() => void flushMeterErrors().catch(() => {}), opts.meterErrorFlushMs) : undefined;
  flushTimer?.unref?.();

  const server: StripeServer = {
    url: base,
    port,
    env: (extra = {}) => ({
      STRIPE_SECRET_KEY: opts.apiKey ?? 'sk_test_standin',
      STRIPE_API_BASE: base,
      STRIPE_STAND_IN: '1',
      STRIPE_WEBHOOK_SECRET: extra.webhookSecret ?? webhookTarget?.secret ?? 'whsec_standin',
      ...(extra.thinWebhookSecret ? { STRIPE_THIN_WEBHOOK_SECRET: extra.thinWebhookSecret } : {}),
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
    meterEvents: (customer) => (customer ? [...(meterEventsByCustomer.get(customer) ?? [])] : [...meterEventLog]),
    totals,
    meterEventErrors: () => meterErrors.map((e) => ({ ...e })),
    flushMeterErrors,
    invoices: (customer) =>
      [...invoices.values()]
        .filter((i) => !customer || i.customer === customer)
        .sort((a, b) => a.created - b.created)
        .map(renderInvoice),
    invoiceItems: (customer) => [...invoiceItems.values()].filter((i) => !customer || i.customer === customer).map((i) => structuredClone(i) as unknown as Stripe.InvoiceItem),
    webhookEndpoints: () => [...endpoints.values()].map((e) => ({ id: e.id, url: e.url, api_version: e.api_version, enabled_events: [...e.enabled_events], secret: e.secret, status: e.status })),
    eventDestinations: () => [...destinations.values()].map((d) => ({ id: d.id, name: d.name, url: d.url, enabled_events: [...d.enabled_events], event_payload: d.event_payload, secret: d.secret, status: d.status })),
    renderEvent,
    subscription: (sid) => subscriptions.get(sid),
    checkoutSession: (sid) => sessions.get(sid),
    customer: (cid) => customers.get(cid),
    deleteCustomer(cid) {
      const cust = customers.get(cid);
      if (!cust) throw new Error(`stand-in: no customer ${cid}`);
      cust.deleted = true;
    },
    setPortalConfigured(configured) {
      portalConfigured = configured;
    },
    setDuplicateAnswer(answer) {
      duplicateAnswer = answer;
    },
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
    setThinWebhook(to) {
      thinTarget = to;
    },
    deliveries: () => deliveryLog.map((d) => ({ ...d })),
    async close() {
      if (flushTimer) clearInterval(flushTimer);
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
  const server = await startStripeServer({ port: Number(values.port), meterErrorFlushMs: 10_000, ...(webhook ? { webhook } : {}) });
  console.log(JSON.stringify({ url: server.url }));
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
