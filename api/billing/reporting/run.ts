/**
 * One report run's state, shared by the delivery of each batch (./deliver.ts) and the pass over the users
 * (./reporter.ts): the options with their defaults, the progress counted so far, and the two semaphores
 * that bound Stripe calls and users in progress.
 */
import { overageCentsPerToken, PLANS } from '../../config/plans';
import { sleep as sleepReal } from '../../lib/retry';
import type { PeriodInvoice, StripeGateway } from '../stripe/gateway';
import { BLIND_RESEND_MS, INVOICE_MARGIN_MS } from './batches';
import { semaphore } from './semaphore';
import type { ReportStore } from './store';

export interface ReportOptions {
  /** Stripe calls in flight at once (each user's batches are sent one after the other). */
  concurrency: number;
  /** A paid period is flushed this long after it ends. */
  periodEndFlushDelayMs: number;
  /** 'due': only users whose period ended (the period-end pass); 'full': every paid user (due ones first). */
  mode: 'due' | 'full';
  /** Attempts per Stripe call within one run before the batch is left pending for the next run. */
  maxAttempts?: number;
  /** Batches per user per run (a user with a huge backlog does not starve the others). */
  maxBatchesPerUser?: number;
  /** Users claimed together: their Redis calls share one auto-pipelined round trip. */
  chunkSize?: number;
  /** Stop taking new users after this time (epoch ms): serverless time limits. Unfinished users wait for the next run. */
  deadline?: number;
  /** A pending batch claimed longer ago than this is re-sent only after Stripe's record says it did not land (default 20 h, under Stripe's 24 h identifier window). */
  blindResendMs?: number;
  /** Meter events stop this long before a period's draft invoice finalizes (default 15 min). */
  invoiceMarginMs?: number;
  /** Called about every `progressEvery` users and at the end. */
  onProgress?: (p: ReportProgress) => void;
  progressEvery?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  log?: (line: Record<string, unknown>) => void;
}

export interface ReportProgress {
  users: number;
  /** Batches committed (meter events and invoice items), their ledger events and tokens. */
  batches: number;
  events: number;
  tokens: number;
  duplicates: number;
  resumed: number;
  /** Pending batches committed from Stripe's own record (meter summary or final invoice) without sending them again. */
  confirmed: number;
  /** Batches billed as invoice items (their period's invoice was final), and their tokens. */
  items: number;
  itemTokens: number;
  /** Pending batches left for a later run on purpose (their period's invoice is about to finalize). */
  waiting: number;
  late: number;
  retries: number;
  failures: number;
  stripeCalls: number;
}

export interface ReportSummary extends ReportProgress {
  mode: 'due' | 'full';
  startedAt: string;
  durationMs: number;
  /** False when the deadline stopped the run before every user was visited. */
  complete: boolean;
  /** Users whose batch could not be delivered in this run (left pending; retried next run). */
  failed: { userId: string; error: string }[];
}

/** A report run in progress. */
export interface Run {
  store: ReportStore;
  gateway: StripeGateway;
  opts: ReportOptions;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  maxAttempts: number;
  maxBatches: number;
  chunkSize: number;
  blindResendMs: number;
  invoiceMarginMs: number;
  startedAt: number;
  callsBefore: number;
  p: ReportProgress;
  failed: ReportSummary['failed'];
  /** Users visited in this run (a due user is not visited again by the full pass). */
  seen: Set<string>;
  /** Stripe calls in flight (`concurrency`) and users being worked on (a few times that), so Redis round trips
   * overlap Stripe calls instead of holding their slots. */
  calls: ReturnType<typeof semaphore>;
  slots: ReturnType<typeof semaphore>;
  /** False once the deadline stopped the run before every user was visited. */
  complete: boolean;
  /** A period's invoice, asked for once per run (customer and period end). */
  invoices: Map<string, Promise<PeriodInvoice | undefined>>;
  centsPerToken: string;
  /** Users whose batches are being delivered. */
  inflight: Set<Promise<void>>;
}

export function startRun(store: ReportStore, gateway: StripeGateway, opts: ReportOptions): Run {
  const now = opts.now ?? Date.now;
  return {
    store,
    gateway,
    opts,
    now,
    sleep: opts.sleep ?? sleepReal,
    maxAttempts: opts.maxAttempts ?? 6,
    maxBatches: opts.maxBatchesPerUser ?? 20,
    chunkSize: opts.chunkSize ?? 100,
    blindResendMs: opts.blindResendMs ?? BLIND_RESEND_MS,
    invoiceMarginMs: opts.invoiceMarginMs ?? INVOICE_MARGIN_MS,
    startedAt: now(),
    callsBefore: gateway.calls,
    p: {
      users: 0,
      batches: 0,
      events: 0,
      tokens: 0,
      duplicates: 0,
      resumed: 0,
      confirmed: 0,
      items: 0,
      itemTokens: 0,
      waiting: 0,
      late: 0,
      retries: 0,
      failures: 0,
      stripeCalls: 0,
    },
    failed: [],
    seen: new Set(),
    calls: semaphore(opts.concurrency),
    slots: semaphore(opts.concurrency * 4),
    complete: true,
    invoices: new Map(),
    centsPerToken: overageCentsPerToken(PLANS.pro.overageUsdPer1k),
    inflight: new Set(),
  };
}

export const progressOf = (r: Run): ReportProgress => ({ ...r.p, stripeCalls: r.gateway.calls - r.callsBefore });
export const pastDeadline = (r: Run) => r.opts.deadline !== undefined && r.now() >= r.opts.deadline;
