/** The Stripe stand-in's public types: its options, what it records, and the handle tests and dev use. */
import type Stripe from 'stripe';
import type { FaultPlan, FaultKind } from './faults';

/** A decoded v1 form body or query, or a v2 JSON body; also the loose shape of most stored objects. */
export type Obj = Record<string, unknown>;

export interface StripeServerOptions {
  port?: number;
  /** The API key callers must present (Bearer). Default: any sk_test_/rk_test_ key. */
  apiKey?: string;
  /** Where `deliver` posts webhook events by default, and with which signing secret. */
  webhook?: { url: string; secret: string };
  /** Clock (ms) for created/period times and the 35-day window; tests may travel in time. */
  now?: () => number;
  /**
   * How long a meter event identifier is remembered (Stripe: a rolling window of at least 24 h). Default 24 h.
   */
  identifierWindowMs?: number;
  /**
   * How long after it was received a meter event shows in event summaries (Stripe: eventually consistent).
   * Default 60 s.
   */
  summaryLagMs?: number;
  /**
   * How long after a period ends its invoice is finalized (Stripe's default finalization grace period: 1 h; up
   * to 72 h).
   */
  invoiceGraceMs?: number;
  /**
   * The account has a default billing portal configuration (saved once in the Dashboard). Default false, as a
   * new account.
   */
  portalConfigured?: boolean;
  /** Send asynchronous meter error reports on their own every this many ms (default: only on `flushMeterErrors()`). */
  meterErrorFlushMs?: number;
  /**
   * The account's default API version: a webhook endpoint created without `api_version` gets it. Default an
   * older one.
   */
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
  /**
   * accepted: answered 200 (a few may fail validation afterwards: meterEventErrors); rejected: answered 400
   * (duplicates apart).
   */
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

/** Where webhooks go: a URL and the secret their signatures are made with. */
export interface WebhookTarget {
  url: string;
  secret: string;
}

/** How a duplicate identifier is answered, when not with Stripe's usual 400. */
export interface DuplicateAnswer {
  message: (identifier: string) => string;
  code?: string;
}

export interface StripeServer {
  url: string;
  port: number;
  /** `STRIPE_API_BASE` and friends for a config pointing at this stand-in. */
  env(extra?: {
    webhookSecret?: string;
    thinWebhookSecret?: string;
    priceBase?: string;
    priceMetered?: string;
  }): Record<string, string>;
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
  setDuplicateAnswer(answer: DuplicateAnswer | undefined): void;
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
  deliver(events: Stripe.Event[], to?: WebhookTarget & { apiVersion?: string }): Promise<number[]>;
  /**
   * Where the Checkout/portal pages' buttons (and `deliver` without a target) send webhooks. Set after the
   * API has started when its port was not known when the stand-in started.
   */
  setWebhook(to: WebhookTarget | undefined): void;
  /** Where thin events go without a registered event destination (tests wire it like setWebhook). */
  setThinWebhook(to: WebhookTarget | undefined): void;
  /**
   * Every webhook delivery made so far (by `deliver` or the pages' buttons), in order, with the status answered
   * (0: no answer).
   */
  deliveries(): WebhookDelivery[];
  close(): Promise<void>;
}
