/**
 * Delivering one claimed batch: a meter event while its period's invoice takes usage, an invoice item once
 * that invoice is final (or about to be), Stripe's own record (meter summary, final invoice, invoice items)
 * when the batch may have landed before; then the commit. Every Stripe call goes through withRetries.
 */
import { PLANS } from '../../config/plans';
import { retry } from '../../lib/retry';
import { StripeCallError, type PeriodInvoice } from '../stripe/gateway';
import {
  backoffMs,
  landedFromSummary,
  meterEventIdentifier,
  overageTokens,
  periodState,
  periodWindowSec,
  placeBatch,
} from './batches';
import type { Run } from './run';
import type { Claim, ClaimedBatch, CommitHow } from './store';

/** What delivering one batch did: committed, or left pending on purpose for a later run. */
export type Delivered = 'committed' | 'waiting';

/**
 * One Stripe call, retried with backoff while the failure is retryable; holds a Stripe slot only while
 * calling. `ambiguous()` is told when a failed attempt may have taken effect (a timeout, a 5xx, a dropped
 * connection: Stripe may have done it without our hearing so).
 */
export async function withRetries<T>(r: Run, call: () => Promise<T>, onAmbiguous?: () => void): Promise<T> {
  return retry(
    async () => {
      await r.calls.acquire();
      try {
        return await call();
      } finally {
        r.calls.release();
      }
    },
    {
      attempts: r.maxAttempts,
      shouldRetry: (err) => err instanceof StripeCallError && err.kind === 'retry',
      onRetry: (err) => {
        if ((err as StripeCallError).statusCode !== 429) onAmbiguous?.();
        r.p.retries++;
      },
      backoff: (attempt, err) => (err as StripeCallError).retryAfterMs ?? backoffMs(attempt),
      sleep: r.sleep,
    },
  );
}

/** Whether a pending batch reached Stripe, from the meter summary of its period (see landedFromSummary). */
async function landed(
  r: Run,
  batch: ClaimedBatch,
): Promise<{ verdict: 'yes' | 'no' | 'unclear'; total: number; delivered: number }> {
  const meterId = await withRetries(r, () => r.gateway.meterId());
  const w = periodWindowSec(batch.periodStart, batch.periodEnd);
  const total = await withRetries(r, () => r.gateway.meterTotal(meterId, batch.customerId, w.start, w.end));
  const delivered = batch.sentTokens - batch.errorTokens;
  return { verdict: landedFromSummary(total, delivered, batch.value), total, delivered };
}

/**
 * The meter event of a batch. A 400 we cannot classify, for a batch that may have landed (resumed, or an
 * earlier attempt may have taken effect), is not left to stall the user: the period's summary decides.
 */
async function sendMeterEvent(
  r: Run,
  batch: ClaimedBatch,
  identifier: string,
  timestamp: number,
  mayHaveLanded: boolean,
): Promise<'accepted' | 'duplicate' | 'summary'> {
  let ambiguous = mayHaveLanded;
  try {
    return await withRetries(
      r,
      () => r.gateway.sendMeterEvent({ identifier, customerId: batch.customerId, value: batch.value, timestamp }),
      () => (ambiguous = true),
    );
  } catch (err) {
    if (!(err instanceof StripeCallError) || err.kind !== 'permanent' || err.statusCode !== 400 || !ambiguous)
      throw err;
    const l = await landed(r, batch);
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
function invoiceOf(r: Run, batch: ClaimedBatch): Promise<PeriodInvoice | undefined> {
  const key = `${batch.customerId}|${batch.periodStart}|${batch.periodEnd}`;
  let inv = r.invoices.get(key);
  if (!inv) {
    inv = withRetries(r, () => r.gateway.periodInvoice(batch.customerId, batch.periodStart, batch.periodEnd));
    r.invoices.set(key, inv);
    inv.catch(() => r.invoices.delete(key));
  }
  return inv;
}

/**
 * Bill a batch whose period's invoice is final (or about to be) as an invoice item on the customer's next
 * invoice. The route is written first (a resumed batch then never sends a meter event); a resumed item
 * batch is looked for in Stripe's invoice items before creating one (idempotency keys last 24 h only).
 */
async function billAsItem(
  r: Run,
  userId: string,
  batch: ClaimedBatch,
  identifier: string,
  invoice: PeriodInvoice | undefined,
): Promise<Delivered> {
  const resumedItem = batch.route === 'item';
  if (!resumedItem && !(await r.store.setRoute(userId, batch.lastId, 'item'))) return 'committed'; // another reporter took it
  let item = resumedItem
    ? (await withRetries(r, () => r.gateway.usageItems(batch.customerId, identifier)))[0]
    : undefined;
  if (item) r.p.confirmed++;
  else {
    // Charged at the graduated price after what the period has been billed: its invoice, then earlier items.
    const invoiced = (invoice?.meteredQuantity ?? 0) + batch.itemTokens;
    const overage = overageTokens(invoiced, batch.value, PLANS.pro.includedTokens);
    item = await withRetries(r, () =>
      r.gateway.createUsageItem({
        identifier,
        userId,
        customerId: batch.customerId,
        subscriptionId: batch.subscriptionId,
        period: { start: batch.periodStart, end: batch.periodEnd },
        tokens: batch.value,
        overageTokens: overage,
        centsPerToken: r.centsPerToken,
      }),
    );
  }
  if (
    await r.store.commit(userId, batch.lastId, 'item', identifier, r.now(), {
      how: 'item',
      item: item.id,
      overageTokens: item.overageTokens,
    })
  ) {
    r.p.batches++;
    r.p.events += batch.events;
    r.p.tokens += batch.value;
    r.p.items++;
    r.p.itemTokens += batch.value;
    r.opts.log?.({
      level: 'warn',
      msg: 'usage after its period’s invoice was final: billed as an invoice item on the next invoice',
      user: userId,
      identifier,
      tokens: batch.value,
      overageTokens: item.overageTokens,
      amountCents: item.amount,
      invoiceItem: item.id,
      periodStart: new Date(batch.periodStart).toISOString(),
    });
  }
  return 'committed';
}

async function commitSent(
  r: Run,
  userId: string,
  batch: ClaimedBatch,
  identifier: string,
  how: CommitHow,
): Promise<Delivered> {
  if (how === 'duplicate') r.p.duplicates++;
  if (how === 'summary' || how === 'invoice') r.p.confirmed++;
  if (await r.store.commit(userId, batch.lastId, 'sent', identifier, r.now(), { how })) {
    r.p.batches++;
    r.p.events += batch.events;
    r.p.tokens += batch.value;
  }
  return 'committed';
}

/** Deliver one claimed batch and commit it. Throws when it stays pending (the run reports it). */
export async function deliver(r: Run, userId: string, claim: Extract<Claim, { kind: 'batch' }>): Promise<Delivered> {
  const { batch } = claim;
  if (claim.resumed) r.p.resumed++;
  if (!batch.customerId) throw new Error(`billable usage without a Stripe customer (ledger up to ${batch.lastId})`);
  const identifier = await meterEventIdentifier(batch);
  await r.store.rememberIdentifier(identifier, userId);
  const placed = placeBatch(batch, r.now());
  if (!placed.ok && placed.reason === 'too_early') {
    r.p.waiting++;
    return 'waiting';
  }
  if (!placed.ok) {
    // Stripe no longer accepts this period (older than ~35 days): set it aside, listed by reconcile.
    if (await r.store.commit(userId, batch.lastId, 'late', identifier, r.now())) r.p.late++;
    r.opts.log?.({
      level: 'error',
      msg: 'usage too old for Stripe: set aside',
      user: userId,
      identifier,
      tokens: batch.value,
      periodStart: new Date(batch.periodStart).toISOString(),
    });
    return 'committed';
  }
  // Which invoice takes it? Only periods that ended need asking Stripe.
  const invoice = r.now() >= batch.periodEnd ? await invoiceOf(r, batch) : undefined;
  if (batch.route === 'item') return billAsItem(r, userId, batch, identifier, invoice);
  const state = periodState(batch.periodEnd, invoice, r.now(), r.invoiceMarginMs);
  // A resumed batch may have been sent as a meter event by an earlier run.
  const mayHaveLanded = claim.resumed;
  if (state === 'closed') {
    // The final invoice tells whether an earlier attempt made it: on the invoice → delivered; if not, the
    // usage missed the invoice (a meter event that landed late is counted, but billed nowhere) → an item.
    if (mayHaveLanded && invoice && invoice.meteredQuantity >= batch.sentTokens - batch.errorTokens + batch.value)
      return commitSent(r, userId, batch, identifier, 'invoice');
    return billAsItem(r, userId, batch, identifier, invoice);
  }
  if (state === 'closing') {
    if (mayHaveLanded) {
      // It may still be aggregated onto the draft: decide once the invoice is final.
      r.p.waiting++;
      return 'waiting';
    }
    return billAsItem(r, userId, batch, identifier, invoice);
  }
  // The period's invoice still takes usage. A batch pending for longer than Stripe may remember its
  // identifier is first looked for in the period's meter summary.
  if (mayHaveLanded && r.now() - batch.claimedAt >= r.blindResendMs) {
    const l = await landed(r, batch);
    if (l.verdict === 'yes') return commitSent(r, userId, batch, identifier, 'summary');
    if (l.verdict === 'unclear') {
      throw new Error(
        `batch ${identifier} has been pending since ${new Date(batch.claimedAt).toISOString()}, longer than Stripe remembers identifiers, and the period's meter summary (${l.total}) is neither what was delivered before it (${l.delivered}) nor that plus the batch (${batch.value}): not re-sent (it could be counted twice); see npm run reconcile`,
      );
    }
  }
  return commitSent(
    r,
    userId,
    batch,
    identifier,
    await sendMeterEvent(r, batch, identifier, placed.timestamp, mayHaveLanded),
  );
}
