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
import type { StripeGateway } from '../stripe/gateway';
import { deliver } from './deliver';
import { pastDeadline, progressOf, startRun, type ReportOptions, type ReportSummary, type Run } from './run';
import type { Claim, ReportStore } from './store';

export type { ReportOptions, ReportProgress, ReportSummary } from './run';

/** A user whose batch waits for its period's invoice to finalize is due again this much later. */
const WAIT_RETRY_MS = 5 * 60_000;

/**
 * One report run. Users are taken in chunks whose claims go out together (one Redis round trip per
 * chunk); users with a batch then drain through a pool of `concurrency` Stripe calls, each user's
 * batches in order (claim → send → commit), while the next chunk is claimed.
 */
export async function runReport(
  store: ReportStore,
  gateway: StripeGateway,
  opts: ReportOptions,
): Promise<ReportSummary> {
  const r = startRun(store, gateway, opts);
  await over(r, duePages(r), true);
  if (opts.mode === 'full' && r.complete) await over(r, store.users(), false);
  while (r.inflight.size > 0) await Promise.all([...r.inflight]);
  opts.onProgress?.(progressOf(r));
  return {
    ...progressOf(r),
    mode: opts.mode,
    startedAt: new Date(r.startedAt).toISOString(),
    durationMs: r.now() - r.startedAt,
    complete: r.complete,
    failed: r.failed,
  };
}

function failedUser(r: Run, userId: string, err: unknown): void {
  r.p.failures++;
  const error = err instanceof Error ? err.message : String(err);
  r.failed.push({ userId, error });
  r.opts.log?.({
    level: 'warn',
    msg: 'usage report failed for user; the batch stays pending for the next run',
    user: userId,
    error,
  });
}

function done(r: Run): void {
  r.p.users++;
  if (r.p.users % (r.opts.progressEvery ?? 100) === 0) r.opts.onProgress?.(progressOf(r));
}

/**
 * Flush schedule after a user: a due user moves on to the end of the period their quota is in now (or
 * leaves the schedule when it is not paid, or has not rolled yet — the renewal event schedules it); a
 * full pass only ever brings an entry earlier (repairs a missing one, never postpones a due one).
 */
function reschedule(r: Run, userId: string, claim: Claim, due: boolean): Promise<void> {
  const end = claim.plan === 'pro' && claim.periodEnd > 0 ? claim.periodEnd + r.opts.periodEndFlushDelayMs : undefined;
  const next = end !== undefined && end > r.now() ? end : undefined;
  if (due) return r.store.scheduleFlush(userId, next, 'set');
  return next !== undefined ? r.store.scheduleFlush(userId, next, 'earlier') : Promise.resolve();
}

/** A user with something claimed: deliver their batches in order (one user slot; Stripe slots per call). */
async function drain(r: Run, userId: string, first: Claim, due: boolean): Promise<void> {
  let claim = first;
  let waiting = false;
  try {
    for (let n = 0; n < r.maxBatches; n++) {
      if (claim.kind === 'none') break;
      if (claim.kind === 'batch') {
        if ((await deliver(r, userId, claim)) === 'waiting') {
          waiting = true;
          break;
        }
        if (!claim.more) break;
      }
      claim = await r.store.claim(userId, r.now());
    }
    // A batch left waiting (its period's invoice about to finalize) keeps the user due a few minutes on.
    if (due)
      await (waiting
        ? r.store.scheduleFlush(userId, r.now() + WAIT_RETRY_MS, 'set')
        : reschedule(r, userId, claim, true));
  } catch (err) {
    failedUser(r, userId, err);
  } finally {
    r.slots.release();
    done(r);
  }
}

async function chunk(r: Run, userIds: string[], due: boolean): Promise<void> {
  const fresh = userIds.filter((u) => !r.seen.has(u));
  for (const u of fresh) r.seen.add(u);
  // Claims issued in the same tick share one auto-pipelined round trip.
  const claims = await Promise.all(
    fresh.map((u) =>
      r.store.claim(u, r.now()).then(
        (c) => ({ u, c }),
        (err: unknown) => ({ u, err }),
      ),
    ),
  );
  const quick: Promise<unknown>[] = [];
  const work: { u: string; c: Claim }[] = [];
  for (const x of claims) {
    if ('err' in x) {
      failedUser(r, x.u, x.err);
      done(r);
    } else if (x.c.kind === 'none') {
      // Nothing to send: just keep the flush schedule right (one round trip for the whole chunk).
      quick.push(
        reschedule(r, x.u, x.c, due)
          .catch((err: unknown) => failedUser(r, x.u, err))
          .finally(() => done(r)),
      );
    } else {
      work.push({ u: x.u, c: x.c });
      if (!due) quick.push(reschedule(r, x.u, x.c, false).catch(() => {}));
    }
  }
  await Promise.all(quick);
  for (const w of work) {
    await r.slots.acquire();
    if (pastDeadline(r)) {
      // Claimed but not sent: the batch stays pending (write-ahead) and the next run sends it.
      r.slots.release();
      r.complete = false;
      return;
    }
    const run = drain(r, w.u, w.c, due);
    r.inflight.add(run);
    void run.finally(() => r.inflight.delete(run));
  }
}

async function over(r: Run, pages: AsyncIterable<string[]>, due: boolean): Promise<void> {
  for await (const page of pages) {
    for (let i = 0; i < page.length; i += r.chunkSize) {
      if (pastDeadline(r)) {
        r.complete = false;
        return;
      }
      await chunk(r, page.slice(i, i + r.chunkSize), due);
      if (!r.complete) return;
    }
  }
}

async function* duePages(r: Run): AsyncIterable<string[]> {
  const users = await r.store.dueUsers(r.now(), 10_000);
  if (users.length > 0) yield users;
}
