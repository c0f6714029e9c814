/**
 * The Stripe stand-in's state: the stores Stripe keeps for what Redraft uses, its clock and settings, the meter
 * event identifier window, kept Idempotency-Key answers, stats and the fault plan. One StripeState per stand-in;
 * the route, scenario, webhook and page modules all work on it.
 */
import { randomBytes } from 'node:crypto';
import type Stripe from 'stripe';
import { Faults } from './faults';
import type {
  DuplicateAnswer,
  EventDestinationRecord,
  MeterEventError,
  MeterEventRecord,
  Obj,
  StripeServerOptions,
  StripeServerStats,
  WebhookDelivery,
  WebhookEndpointRecord,
  WebhookTarget,
} from './types';
import { sec } from './values';

/** One invoice the stand-in keeps; rendered (status, metered quantity) as of the stand-in's clock. */
export interface InvoiceRecord {
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

export type StoredEndpoint = WebhookEndpointRecord & {
  created: number;
  description: string | null;
  metadata: Record<string, string>;
};

export type StoredDestination = EventDestinationRecord & { created: string; description: string };

const DAY_MS = 24 * 3_600_000;

export class StripeState {
  /** The stand-in's clock (ms); tests may travel in time. */
  readonly now: () => number;
  readonly identifierWindowMs: number;
  readonly summaryLagMs: number;
  readonly invoiceGraceSec: number;
  readonly idempotencyTtlMs: number;
  /** The API key callers must present; undefined: any sk_test_/rk_test_ key. */
  readonly apiKey: string | undefined;
  /** The API version a webhook endpoint created without one gets. */
  readonly accountApiVersion: string | undefined;

  portalConfigured: boolean;
  duplicateAnswer: DuplicateAnswer | undefined;
  /** Where `deliver` (and the pages' buttons) send webhooks without a registered endpoint. */
  webhookTarget: WebhookTarget | undefined;
  /** Where thin events go without a registered event destination. */
  thinTarget: WebhookTarget | undefined;
  /** The stand-in's own origin, once it listens: Checkout and portal URLs point at it. */
  base = '';

  readonly stats: StripeServerStats = {
    requests: 0,
    byRoute: {},
    meterEvents: { accepted: 0, duplicates: 0, rejected: 0 },
    faults: {},
    identifierReuses: 0,
    meterEventErrors: 0,
  };
  readonly faults = new Faults();
  private seq = 0;

  readonly products = new Map<string, Obj>();
  readonly prices = new Map<string, Obj>();
  readonly meters = new Map<string, Obj>();
  readonly customers = new Map<string, Obj>();
  readonly sessions = new Map<string, Obj>();
  readonly portals = new Map<string, Obj>();
  readonly portalConfigurations = new Map<string, Obj>();
  readonly subscriptions = new Map<string, Stripe.Subscription>();
  /** Every meter event counted, in order of receipt. */
  readonly meterEventLog: MeterEventRecord[] = [];
  readonly meterEventsByCustomer = new Map<string, MeterEventRecord[]>();
  readonly meterErrors: MeterEventError[] = [];
  readonly invoices = new Map<string, InvoiceRecord>();
  readonly invoiceItems = new Map<string, Obj>();
  readonly endpoints = new Map<string, StoredEndpoint>();
  readonly destinations = new Map<string, StoredDestination>();
  readonly v2Events = new Map<string, Obj>();
  readonly deliveryLog: WebhookDelivery[] = [];
  /** identifier → when an event with it was last accepted (ms): a repeat inside the window is a duplicate. */
  private readonly identifierSeen = new Map<string, number>();
  private readonly idempotent = new Map<string, { status: number; body: string; at: number }>();

  constructor(opts: StripeServerOptions) {
    const clock = opts.now ?? Date.now;
    this.now = () => clock();
    this.identifierWindowMs = opts.identifierWindowMs ?? DAY_MS;
    this.summaryLagMs = opts.summaryLagMs ?? 60_000;
    this.invoiceGraceSec = Math.round((opts.invoiceGraceMs ?? 3_600_000) / 1000);
    this.idempotencyTtlMs = opts.idempotencyKeyTtlMs ?? DAY_MS;
    this.apiKey = opts.apiKey;
    this.accountApiVersion = opts.accountApiVersion;
    this.portalConfigured = opts.portalConfigured ?? false;
    this.webhookTarget = opts.webhook;
  }

  /** The clock in seconds, as Stripe's timestamps. */
  nowSec(): number {
    return sec(this.now());
  }

  /** A new object id: the prefix, a sequence number and random hex. */
  id(prefix: string): string {
    return `${prefix}_${(++this.seq).toString(36).padStart(6, '0')}${randomBytes(5).toString('hex')}`;
  }

  /**
   * Where a meter event identifier stands: unique only within a rolling window (24 h by default), it is a
   * duplicate inside it, and after it the same identifier is a new event again ('reused').
   */
  identifierStatus(identifier: string): 'new' | 'duplicate' | 'reused' {
    const seen = this.identifierSeen.get(identifier);
    if (seen === undefined) return 'new';
    return this.now() - seen < this.identifierWindowMs ? 'duplicate' : 'reused';
  }

  /** An event with this identifier was accepted now: its window starts again. */
  rememberIdentifier(identifier: string): void {
    this.identifierSeen.set(identifier, this.now());
  }

  /** Count an accepted, valid meter event. */
  recordMeterEvent(rec: MeterEventRecord): void {
    this.meterEventLog.push(rec);
    let list = this.meterEventsByCustomer.get(rec.customer);
    if (!list) this.meterEventsByCustomer.set(rec.customer, (list = []));
    list.push(rec);
  }

  /** Sum of counted meter event values per customer (optionally with timestamps within [start, end)). */
  totals(range?: { start: number; end: number }): Map<string, number> {
    const out = new Map<string, number>();
    for (const [customer, list] of this.meterEventsByCustomer) {
      const inRange = list.filter((e) => !range || (e.timestamp >= range.start && e.timestamp < range.end));
      out.set(
        customer,
        inRange.reduce((s, e) => s + e.value, 0),
      );
    }
    return out;
  }

  /** The answer saved under an Idempotency-Key, unless pruned (keys are kept 24 h by default). */
  savedAnswer(key: string): { status: number; body: string } | undefined {
    const kept = this.idempotent.get(key);
    return kept && this.now() - kept.at < this.idempotencyTtlMs ? kept : undefined;
  }

  saveAnswer(key: string, status: number, body: string): void {
    this.idempotent.set(key, { status, body, at: this.now() });
  }
}
