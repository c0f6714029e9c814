/**
 * The usage reporter: sends each paid user's unreported usage to Stripe, exactly once, onto the right invoice.
 *
 * Per user: claim a batch (write-ahead, in Redis: consecutive billable ledger events of one period and one
 * customer) → deliver it → commit (advance the cursor, clear the batch) only once Stripe has it. Delivery:
 * - while the period's invoice still takes usage: one meter event with a deterministic identifier, retried
 *   with backoff; Stripe's duplicate rejection counts as delivered;
 * - once that invoice is final (or about to be): one invoice item for the batch, onto the customer's next
 *   invoice (its idempotency key and metadata come from the identifier) — never a meter event that would
 *   be counted in summaries but billed on no invoice.
 * A crash anywhere leaves either nothing claimed or the same pending batch, which the next run (or a
 * concurrent reporter) delivers again under the same identifier. Stripe only remembers identifiers (and
 * idempotency keys) for a rolling ≥ 24 h window, so a batch pending for longer is not re-sent blind: Stripe's
 * own record decides — the period's meter summary (or final invoice) for a meter event, the customer's
 * invoice items for an item — whether it landed: committed if it did, delivered if it did not.
 */
import { PLANS } from '../../config/plans';
import {
  backoffMs,
  BLIND_RESEND_MS,
  INVOICE_MARGIN_MS,
  landedFromSummary,
  meterEventIdentifier,
  overageTokens,
  periodState,
  periodWindowSec,
  placeBatch,
} from './batches';
import { retry, sleep as sleepReal } from '../../lib/retry';
import { semaphore } from './semaphore';
import type { Claim, ClaimedBatch, CommitHow, ReportStore } from './store';
import { overageCentsPerToken } from '../operator/setup';
import { StripeCallError, type PeriodInvoice, type StripeGateway } from '../stripe/gateway';

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

/** A user whose batch waits for its period's invoice to finalize is due again this much later. */
const WAIT_RETRY_MS = 5 * 60_000;

/** What delivering one batch did: committed, or left pending on purpose for a later run. */
type Delivered = 'committed' | 'waiting';

/**
 * One report run. Users are taken in chunks whose claims go out together (one Redis round trip per
 * chunk); users with a batch then drain through a pool of `concurrency` Stripe calls, each user's
 * batches in order (claim → send → commit), while the next chunk is claimed.
 */
export async function runReport(store: ReportStore, gateway: StripeGateway, opts: ReportOptions): Promise<ReportSummary> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? sleepReal;
  const maxAttempts = opts.maxAttempts ?? 6;
  const maxBatches = opts.maxBatchesPerUser ?? 20;
  const chunkSize = opts.chunkSize ?? 100;
  const blindResendMs = opts.blindResendMs ?? BLIND_RESEND_MS;
  const invoiceMarginMs = opts.invoiceMarginMs ?? INVOICE_MARGIN_MS;
  const t0 = now();
  const callsBefore = gateway.calls;
  const p: ReportProgress = { users: 0, batches: 0, events: 0, tokens: 0, duplicates: 0, resumed: 0, confirmed: 0, items: 0, itemTokens: 0, waiting: 0, late: 0, retries: 0, failures: 0, stripeCalls: 0 };
  const failed: ReportSummary['failed'] = [];
  const seen = new Set<string>();
  // Stripe calls in flight are bounded by `concurrency`; users being worked on (claim → send → commit)
  // by a few times that, so Redis round trips overlap Stripe calls instead of holding their slots.
  const calls = semaphore(opts.concurrency);
  const slots = semaphore(opts.concurrency * 4);
  let complete = true;
  const progress = () => opts.onProgress?.({ ...p, stripeCalls: gateway.calls - callsBefore });
  const pastDeadline = () => opts.deadline !== undefined && now() >= opts.deadline;
  /** A period's invoice, asked for once per run (customer and period end). */
  const invoices = new Map<string, Promise<PeriodInvoice | undefined>>();
  const centsPerToken = overageCentsPerToken(PLANS.pro.overageUsdPer1k);

  /**
   * One Stripe call, retried with backoff while the failure is retryable; holds a Stripe slot only while
   * calling. `ambiguous()` is told when a failed attempt may have taken effect (a timeout, a 5xx, a dropped
   * connection: Stripe may have done it without our hearing so).
   */
  async function withRetries<T>(call: () => Promise<T>, onAmbiguous?: () => void): Promise<T> {
    return retry(
      async () => {
        await calls.acquire();
        try {
          return await call();
        } finally {
          calls.release();
        }
      },
      {
        attempts: maxAttempts,
        shouldRetry: (err) => err instanceof StripeCallError && err.kind === 'retry',
        onRetry: (err) => {
          if ((err as StripeCallError).statusCode !== 429) onAmbiguous?.();
          p.retries++;
        },
        backoff: (attempt, err) => (err as StripeCallError).retryAfterMs ?? backoffMs(attempt),
        sleep,
      },
    );
  }

  /** Whether a pending batch reached Stripe, from the meter summary of its period (see landedFromSummary). */
  async function landed(batch: ClaimedBatch): Promise<{ verdict: 'yes' | 'no' | 'unclear'; total: number; delivered: number }> {
    const meterId = await withRetries(() => gateway.meterId());
    const w = periodWindowSec(batch.periodStart, batch.periodEnd);
    const total = await withRetries(() => gateway.meterTotal(meterId, batch.customerId, w.start, w.end));
    const delivered = batch.sentTokens - batch.errorTokens;
    return { verdict: landedFromSummary(total, delivered, batch.value), total, delivered };
  }

  /**
   * The meter event of a batch. A 400 we cannot classify, for a batch that may have landed (resumed, or an
   * earlier attempt may have taken effect), is not left to stall the user: the period's summary decides.
   */
  async function sendMeterEvent(batch: ClaimedBatch, identifier: string, timestamp: number, mayHaveLanded: boolean): Promise<'accepted' | 'duplicate' | 'summary'> {
    let ambiguous = mayHaveLanded;
    try {
      return await withRetries(
        () => gateway.sendMeterEvent({ identifier, customerId: batch.customerId, value: batch.value, timestamp }),
        () => (ambiguous = true),
      );
    } catch (err) {
      if (!(err instanceof StripeCallError) || err.kind !== 'permanent' || err.statusCode !== 400 || !ambiguous) throw err;
      const l = await landed(batch);
      if (l.verdict === 'yes') return 'summary';
      throw new StripeCallError(
        `${err.message} — the batch may have reached Stripe before, but the period's meter summary (${l.total}, delivered before it ${l.delivered}) does not show it${l.verdict === 'unclear' ? ' clearly' : ' yet (summaries lag minutes)'}: left pending, checked again next run`,
        err.kind,
        err.statusCode,
        err.retryAfterMs,
      );
    }
  }

  /** The invoice of a batch's period, once it ended (cached for the run). */
  function invoiceOf(batch: ClaimedBatch): Promise<PeriodInvoice | undefined> {
    const key = `${batch.customerId}|${batch.periodStart}|${batch.periodEnd}`;
    let inv = invoices.get(key);
    if (!inv) {
      inv = withRetries(() => gateway.periodInvoice(batch.customerId, batch.periodStart, batch.periodEnd));
      invoices.set(key, inv);
      inv.catch(() => invoices.delete(key));
    }
    return inv;
  }

  /**
   * Bill a batch whose period's invoice is final (or about to be) as an invoice item on the customer's next
   * invoice. The route is written first (a resumed batch then never sends a meter event); a resumed item
   * batch is looked for in Stripe's invoice items before creating one (idempotency keys last 24 h only).
   */
  async function billAsItem(userId: string, batch: ClaimedBatch, identifier: string, invoice: PeriodInvoice | undefined): Promise<Delivered> {
    const resumedItem = batch.route === 'item';
    if (!resumedItem && !(await store.setRoute(userId, batch.lastId, 'item'))) return 'committed'; // another reporter took it
    let item = resumedItem ? (await withRetries(() => gateway.usageItems(batch.customerId, identifier)))[0] : undefined;
    if (item) p.confirmed++;
    else {
      // Charged at the graduated price after what the period has been billed: its invoice, then earlier items.
      const invoiced = (invoice?.meteredQuantity ?? 0) + batch.itemTokens;
      const overage = overageTokens(invoiced, batch.value, PLANS.pro.includedTokens);
      item = await withRetries(() =>
        gateway.createUsageItem({ identifier, userId, customerId: batch.customerId, subscriptionId: batch.subscriptionId, period: { start: batch.periodStart, end: batch.periodEnd }, tokens: batch.value, overageTokens: overage, centsPerToken }),
      );
    }
    if (await store.commit(userId, batch.lastId, 'item', identifier, now(), { how: 'item', item: item.id, overageTokens: item.overageTokens })) {
      p.batches++;
      p.events += batch.events;
      p.tokens += batch.value;
      p.items++;
      p.itemTokens += batch.value;
      opts.log?.({ level: 'warn', msg: 'usage after its period’s invoice was final: billed as an invoice item on the next invoice', user: userId, identifier, tokens: batch.value, overageTokens: item.overageTokens, amountCents: item.amount, invoiceItem: item.id, periodStart: new Date(batch.periodStart).toISOString() });
    }
    return 'committed';
  }

  async function commitSent(userId: string, batch: ClaimedBatch, identifier: string, how: CommitHow): Promise<Delivered> {
    if (how === 'duplicate') p.duplicates++;
    if (how === 'summary' || how === 'invoice') p.confirmed++;
    if (await store.commit(userId, batch.lastId, 'sent', identifier, now(), { how })) {
      p.batches++;
      p.events += batch.events;
      p.tokens += batch.value;
    }
    return 'committed';
  }

  /** Deliver one claimed batch and commit it. Throws when it stays pending (the run reports it). */
  async function deliver(userId: string, claim: Extract<Claim, { kind: 'batch' }>): Promise<Delivered> {
    const { batch } = claim;
    if (claim.resumed) p.resumed++;
    if (!batch.customerId) throw new Error(`billable usage without a Stripe customer (ledger up to ${batch.lastId})`);
    const identifier = await meterEventIdentifier(batch);
    await store.rememberIdentifier(identifier, userId);
    const placed = placeBatch(batch, now());
    if (!placed.ok && placed.reason === 'too_early') {
      p.waiting++;
      return 'waiting';
    }
    if (!placed.ok) {
      // Stripe no longer accepts this period (older than ~35 days): set it aside, listed by reconcile.
      if (await store.commit(userId, batch.lastId, 'late', identifier, now())) p.late++;
      opts.log?.({ level: 'error', msg: 'usage too old for Stripe: set aside', user: userId, identifier, tokens: batch.value, periodStart: new Date(batch.periodStart).toISOString() });
      return 'committed';
    }
    // Which invoice takes it? Only periods that ended need asking Stripe.
    const invoice = now() >= batch.periodEnd ? await invoiceOf(batch) : undefined;
    if (batch.route === 'item') return billAsItem(userId, batch, identifier, invoice);
    const state = periodState(batch.periodEnd, invoice, now(), invoiceMarginMs);
    // A resumed batch may have been sent as a meter event by an earlier run.
    const mayHaveLanded = claim.resumed;
    if (state === 'closed') {
      // The final invoice tells whether an earlier attempt made it: on the invoice → delivered; if not, the
      // usage missed the invoice (a meter event that landed late is counted, but billed nowhere) → an item.
      if (mayHaveLanded && invoice && invoice.meteredQuantity >= batch.sentTokens - batch.errorTokens + batch.value) return commitSent(userId, batch, identifier, 'invoice');
      return billAsItem(userId, batch, identifier, invoice);
    }
    if (state === 'closing') {
      if (mayHaveLanded) {
        // It may still be aggregated onto the draft: decide once the invoice is final.
        p.waiting++;
        return 'waiting';
      }
      return billAsItem(userId, batch, identifier, invoice);
    }
    // The period's invoice still takes usage. A batch pending for longer than Stripe may remember its
    // identifier is first looked for in the period's meter summary.
    if (mayHaveLanded && now() - batch.claimedAt >= blindResendMs) {
      const l = await landed(batch);
      if (l.verdict === 'yes') return commitSent(userId, batch, identifier, 'summary');
      if (l.verdict === 'unclear') {
        throw new Error(
          `batch ${identifier} has been pending since ${new Date(batch.claimedAt).toISOString()}, longer than Stripe remembers identifiers, and the period's meter summary (${l.total}) is neither what was delivered before it (${l.delivered}) nor that plus the batch (${batch.value}): not re-sent (it could be counted twice); see npm run reconcile`,
        );
      }
    }
    return commitSent(userId, batch, identifier, await sendMeterEvent(batch, identifier, placed.timestamp, mayHaveLanded));
  }

  function failedUser(userId: string, err: unknown): void {
    p.failures++;
    const error = err instanceof Error ? err.message : String(err);
    failed.push({ userId, error });
    opts.log?.({ level: 'warn', msg: 'usage report failed for user; the batch stays pending for the next run', user: userId, error });
  }

  function done(): void {
    p.users++;
    if (p.users % (opts.progressEvery ?? 100) === 0) progress();
  }

  /**
   * Flush schedule after a user: a due user moves on to the end of the period their quota is in now (or
   * leaves the schedule when it is not paid, or has not rolled yet — the renewal event schedules it); a
   * full pass only ever brings an entry earlier (repairs a missing one, never postpones a due one).
   */
  function reschedule(userId: string, claim: Claim, due: boolean): Promise<void> {
    const end = claim.plan === 'pro' && claim.periodEnd > 0 ? claim.periodEnd + opts.periodEndFlushDelayMs : undefined;
    const next = end !== undefined && end > now() ? end : undefined;
    if (due) return store.scheduleFlush(userId, next, 'set');
    return next !== undefined ? store.scheduleFlush(userId, next, 'earlier') : Promise.resolve();
  }

  /** A user with something claimed: deliver their batches in order (one user slot; Stripe slots per call). */
  async function drain(userId: string, first: Claim, due: boolean): Promise<void> {
    let claim = first;
    let waiting = false;
    try {
      for (let n = 0; n < maxBatches; n++) {
        if (claim.kind === 'none') break;
        if (claim.kind === 'batch') {
          if ((await deliver(userId, claim)) === 'waiting') {
            waiting = true;
            break;
          }
          if (!claim.more) break;
        }
        claim = await store.claim(userId, now());
      }
      // A batch left waiting (its period's invoice about to finalize) keeps the user due a few minutes on.
      if (due) await (waiting ? store.scheduleFlush(userId, now() + WAIT_RETRY_MS, 'set') : reschedule(userId, claim, true));
    } catch (err) {
      failedUser(userId, err);
    } finally {
      slots.release();
      done();
    }
  }

  const inflight = new Set<Promise<void>>();

  async function chunk(userIds: string[], due: boolean): Promise<void> {
    const fresh = userIds.filter((u) => !seen.has(u));
    for (const u of fresh) seen.add(u);
    // Claims issued in the same tick share one auto-pipelined round trip.
    const claims = await Promise.all(fresh.map((u) => store.claim(u, now()).then((c) => ({ u, c }), (err: unknown) => ({ u, err }))));
    const quick: Promise<unknown>[] = [];
    const work: { u: string; c: Claim }[] = [];
    for (const x of claims) {
      if ('err' in x) {
        failedUser(x.u, x.err);
        done();
      } else if (x.c.kind === 'none') {
        // Nothing to send: just keep the flush schedule right (one round trip for the whole chunk).
        quick.push(reschedule(x.u, x.c, due).catch((err: unknown) => failedUser(x.u, err)).finally(done));
      } else {
        work.push({ u: x.u, c: x.c });
        if (!due) quick.push(reschedule(x.u, x.c, false).catch(() => {}));
      }
    }
    await Promise.all(quick);
    for (const w of work) {
      await slots.acquire();
      if (pastDeadline()) {
        // Claimed but not sent: the batch stays pending (write-ahead) and the next run sends it.
        slots.release();
        complete = false;
        return;
      }
      const run = drain(w.u, w.c, due);
      inflight.add(run);
      void run.finally(() => inflight.delete(run));
    }
  }

  async function over(pages: AsyncIterable<string[]>, due: boolean): Promise<void> {
    for await (const page of pages) {
      for (let i = 0; i < page.length; i += chunkSize) {
        if (pastDeadline()) {
          complete = false;
          return;
        }
        await chunk(page.slice(i, i + chunkSize), due);
        if (!complete) return;
      }
    }
  }

  async function* duePages(): AsyncIterable<string[]> {
    const users = await store.dueUsers(now(), 10_000);
    if (users.length > 0) yield users;
  }

  await over(duePages(), true);
  if (opts.mode === 'full' && complete) await over(store.users(), false);
  while (inflight.size > 0) await Promise.all([...inflight]);

  progress();
  return { ...p, stripeCalls: gateway.calls - callsBefore, mode: opts.mode, startedAt: new Date(t0).toISOString(), durationMs: now() - t0, complete, failed };
}
