/**
 * The usage reporter: sends each paid user's unreported usage to the Stripe meter, exactly once.
 *
 * Per user: claim a batch (write-ahead, in Redis: consecutive billable ledger events of one period and one
 * customer) → send one meter event with a deterministic identifier → commit (advance the cursor, clear the
 * batch) only after Stripe accepted it or rejected it as a duplicate. A crash anywhere leaves either
 * nothing claimed or the same pending batch, which the next run (or a concurrent reporter) sends again
 * with the same identifier; Stripe rejects the repeat as a duplicate, which counts as delivered.
 * Stripe only dedups identifiers over a rolling ≥ 24 h window: the write-ahead batch in Redis is the real
 * guarantee, the identifier covers the gap between Stripe's answer and our commit.
 */
import type { Redis } from '../store/redis';
import { defineScript } from '../store/redis';
import { keys } from '../metering/keys';
import { backoffMs, meterEventIdentifier, placeBatch, type Batch } from './batches';
import { CLAIM_LUA, COMMIT_LUA } from './reporter.lua';
import { StripeCallError, type StripeGateway } from './stripe';

export type Claim =
  | { kind: 'batch'; batch: Batch; resumed: boolean; /** More ledger may follow this batch. */ more: boolean; plan: string; periodEnd: number }
  | { kind: 'skipped'; scanned: number; plan: string; periodEnd: number }
  | { kind: 'none'; plan: string; periodEnd: number };

export interface ReportStore {
  claim(userId: string, now: number): Promise<Claim>;
  commit(userId: string, lastId: string, outcome: 'sent' | 'late', identifier: string, now: number): Promise<boolean>;
  /** Users to report: every user who ever had a subscription, in pages (SSCAN). */
  users(): AsyncIterable<string[]>;
  /** Users whose paid period ended and must be flushed now. */
  dueUsers(now: number, limit: number): Promise<string[]>;
  /** After reporting a user: when their current paid period must be flushed (or never, when not paid). */
  scheduleFlush(userId: string, at: number | undefined, mode: 'set' | 'earlier'): Promise<void>;
}

export interface ReportStoreOptions {
  /** Billable ledger events per meter event (one batch). */
  maxEventsPerBatch?: number;
  /** Ledger entries one claim may scan (bounds the Lua's running time). */
  scanLimit?: number;
}

export async function createReportStore(redis: Redis, opts: ReportStoreOptions = {}): Promise<ReportStore> {
  const [claimScript, commitScript] = await Promise.all([defineScript<unknown[]>(redis, CLAIM_LUA), defineScript<number>(redis, COMMIT_LUA)]);
  const maxEvents = opts.maxEventsPerBatch ?? 1000;
  const scanLimit = opts.scanLimit ?? 2000;
  let commits: (() => void)[] = [];
  const flushCommits = () => {
    const now = commits;
    commits = [];
    for (const c of now) c();
  };

  return {
    async claim(userId, now) {
      const r = (await claimScript.run([keys.report(userId), keys.ledger(userId), keys.quota(userId)], [maxEvents, scanLimit, now])).map(String);
      const [plan = '', end = '', kind, ...f] = r;
      const head = { plan, periodEnd: Number(end || 0) };
      if (kind === 'NONE') return { kind: 'none', ...head };
      if (kind === 'SKIPPED') return { kind: 'skipped', scanned: Number(f[0]), ...head };
      if (kind === 'PENDING' || kind === 'CLAIMED') {
        const [lastId, period, pend, cust, value, count, ended, more] = f as [string, string, string, string, string, string, string, string];
        return {
          kind: 'batch',
          resumed: kind === 'PENDING',
          more: more !== '0',
          ...head,
          batch: { userId, lastId, periodStart: Number(period), periodEnd: Number(pend), customerId: cust, value: Number(value), events: Number(count), lastEndedAt: Number(ended) },
        };
      }
      throw new Error(`unexpected claim reply: ${JSON.stringify(r)}`);
    },

    commit(userId, lastId, outcome, identifier, now) {
      // Commits finishing close together (many users' Stripe calls returning) are issued in the same
      // tick, so they share one auto-pipelined round trip; each is still its own atomic script.
      return new Promise<boolean>((resolve, reject) => {
        commits.push(() => commitScript.run([keys.report(userId), keys.reportLate(userId)], [lastId, outcome, now, identifier]).then((r) => resolve(r === 1), reject));
        if (commits.length === 1) setTimeout(flushCommits, 0); // (setTimeout: also on Workers)
      });
    },

    async *users() {
      let cursor = '0';
      do {
        const [next, members] = (await redis.sscan(keys.billingUsers, cursor, { count: 500 })) as [string | number, string[]];
        cursor = String(next);
        if (members.length > 0) yield members.map(String);
      } while (cursor !== '0');
    },

    async dueUsers(now, limit) {
      return ((await redis.zrange(keys.reportDue, '-inf', now, { byScore: true, offset: 0, count: limit })) as string[]).map(String);
    },

    async scheduleFlush(userId, at, mode) {
      if (at === undefined) {
        await redis.zrem(keys.reportDue, userId);
        return;
      }
      if (mode === 'earlier') await redis.zadd(keys.reportDue, { lt: true }, { score: at, member: userId });
      else await redis.zadd(keys.reportDue, { score: at, member: userId });
    },
  };
}

export interface ReportOptions {
  /** Stripe calls in flight at once (each user's batches are sent one after the other). */
  concurrency: number;
  /** A paid period is flushed this long after it ends. */
  periodEndFlushDelayMs: number;
  /** 'due': only users whose period ended (the period-end pass); 'full': every paid user (due ones first). */
  mode: 'due' | 'full';
  /** Attempts per batch within one run before it is left pending for the next run. */
  maxAttempts?: number;
  /** Batches per user per run (a user with a huge backlog does not starve the others). */
  maxBatchesPerUser?: number;
  /** Users claimed together: their Redis calls share one auto-pipelined round trip. */
  chunkSize?: number;
  /** Stop taking new users after this time (epoch ms): serverless time limits. Unfinished users wait for the next run. */
  deadline?: number;
  /** Called about every `progressEvery` users and at the end. */
  onProgress?: (p: ReportProgress) => void;
  progressEvery?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  log?: (line: Record<string, unknown>) => void;
}

export interface ReportProgress {
  users: number;
  batches: number;
  events: number;
  tokens: number;
  duplicates: number;
  resumed: number;
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

const sleepReal = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A counting semaphore: at most `n` holders at once. */
function semaphore(n: number) {
  let free = Math.max(1, n);
  const waiting: (() => void)[] = [];
  return {
    async acquire(): Promise<void> {
      if (free > 0) {
        free--;
        return;
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    },
    release(): void {
      const next = waiting.shift();
      if (next) next();
      else free++;
    },
  };
}

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
  const t0 = now();
  const callsBefore = gateway.calls;
  const p: ReportProgress = { users: 0, batches: 0, events: 0, tokens: 0, duplicates: 0, resumed: 0, late: 0, retries: 0, failures: 0, stripeCalls: 0 };
  const failed: ReportSummary['failed'] = [];
  const seen = new Set<string>();
  // Stripe calls in flight are bounded by `concurrency`; users being worked on (claim → send → commit)
  // by a few times that, so Redis round trips overlap Stripe calls instead of holding their slots.
  const calls = semaphore(opts.concurrency);
  const slots = semaphore(opts.concurrency * 4);
  let complete = true;
  const progress = () => opts.onProgress?.({ ...p, stripeCalls: gateway.calls - callsBefore });
  const pastDeadline = () => opts.deadline !== undefined && now() >= opts.deadline;

  /** One meter event, retried with backoff while the failure is retryable; holds a Stripe slot only while calling. */
  async function send(batch: Batch, identifier: string, timestamp: number): Promise<'accepted' | 'duplicate'> {
    for (let attempt = 0; ; attempt++) {
      let failure: unknown;
      await calls.acquire();
      try {
        return await gateway.sendMeterEvent({ identifier, customerId: batch.customerId, value: batch.value, timestamp });
      } catch (err) {
        failure = err;
      } finally {
        calls.release();
      }
      if (!(failure instanceof StripeCallError) || failure.kind !== 'retry' || attempt + 1 >= maxAttempts) throw failure;
      p.retries++;
      await sleep(failure.retryAfterMs ?? backoffMs(attempt));
    }
  }

  /** Deliver one claimed batch and commit it. Throws when it stays pending. */
  async function deliver(userId: string, claim: Extract<Claim, { kind: 'batch' }>): Promise<void> {
    const { batch } = claim;
    if (claim.resumed) p.resumed++;
    if (!batch.customerId) throw new Error(`billable usage without a Stripe customer (ledger up to ${batch.lastId})`);
    const identifier = await meterEventIdentifier(batch);
    const placed = placeBatch(batch, now());
    if (!placed.ok) {
      // Stripe no longer accepts this period (older than ~35 days): set it aside, listed by reconcile.
      if (await store.commit(userId, batch.lastId, 'late', identifier, now())) p.late++;
      opts.log?.({ level: 'error', msg: 'usage too old for Stripe: set aside', user: userId, identifier, tokens: batch.value, periodStart: new Date(batch.periodStart).toISOString() });
      return;
    }
    const outcome = await send(batch, identifier, placed.timestamp);
    if (outcome === 'duplicate') p.duplicates++;
    if (await store.commit(userId, batch.lastId, 'sent', identifier, now())) {
      p.batches++;
      p.events += batch.events;
      p.tokens += batch.value;
    }
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
    try {
      for (let n = 0; n < maxBatches; n++) {
        if (claim.kind === 'none') break;
        if (claim.kind === 'batch') {
          await deliver(userId, claim);
          if (!claim.more) break;
        }
        claim = await store.claim(userId, now());
      }
      if (due) await reschedule(userId, claim, true);
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
