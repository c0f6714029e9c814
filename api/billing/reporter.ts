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
  | { kind: 'batch'; batch: Batch; resumed: boolean; plan: string; periodEnd: number }
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

  return {
    async claim(userId, now) {
      const r = (await claimScript.run([keys.report(userId), keys.ledger(userId), keys.quota(userId)], [maxEvents, scanLimit, now])).map(String);
      const [plan = '', end = '', kind, ...f] = r;
      const head = { plan, periodEnd: Number(end || 0) };
      if (kind === 'NONE') return { kind: 'none', ...head };
      if (kind === 'SKIPPED') return { kind: 'skipped', scanned: Number(f[0]), ...head };
      if (kind === 'PENDING' || kind === 'CLAIMED') {
        const [lastId, period, pend, cust, value, count, ended] = f as [string, string, string, string, string, string, string];
        return {
          kind: 'batch',
          resumed: kind === 'PENDING',
          ...head,
          batch: { userId, lastId, periodStart: Number(period), periodEnd: Number(pend), customerId: cust, value: Number(value), events: Number(count), lastEndedAt: Number(ended) },
        };
      }
      throw new Error(`unexpected claim reply: ${JSON.stringify(r)}`);
    },

    async commit(userId, lastId, outcome, identifier, now) {
      return (await commitScript.run([keys.report(userId), keys.reportLate(userId)], [lastId, outcome, now, identifier])) === 1;
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
  concurrency: number;
  /** A paid period is flushed this long after it ends. */
  periodEndFlushDelayMs: number;
  /** 'due': only users whose period ended (the period-end pass); 'full': every paid user (due ones first). */
  mode: 'due' | 'full';
  /** Attempts per batch within one run before it is left pending for the next run. */
  maxAttempts?: number;
  /** Batches per user per run (a user with a huge backlog does not starve the others). */
  maxBatchesPerUser?: number;
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

export async function runReport(store: ReportStore, gateway: StripeGateway, opts: ReportOptions): Promise<ReportSummary> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? sleepReal;
  const maxAttempts = opts.maxAttempts ?? 6;
  const maxBatches = opts.maxBatchesPerUser ?? 20;
  const t0 = now();
  const callsBefore = gateway.calls;
  const p: ReportProgress = { users: 0, batches: 0, events: 0, tokens: 0, duplicates: 0, resumed: 0, late: 0, retries: 0, failures: 0, stripeCalls: 0 };
  const failed: ReportSummary['failed'] = [];
  const seen = new Set<string>();
  let complete = true;
  const progress = () => opts.onProgress?.({ ...p, stripeCalls: gateway.calls - callsBefore });

  async function send(batch: Batch, identifier: string, timestamp: number): Promise<'accepted' | 'duplicate'> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await gateway.sendMeterEvent({ identifier, customerId: batch.customerId, value: batch.value, timestamp });
      } catch (err) {
        const retryable = err instanceof StripeCallError ? err.kind === 'retry' : false;
        if (!retryable || attempt + 1 >= maxAttempts) throw err;
        p.retries++;
        const wait = err instanceof StripeCallError && err.retryAfterMs !== undefined ? err.retryAfterMs : backoffMs(attempt);
        await sleep(wait);
      }
    }
  }

  async function reportUser(userId: string, due: boolean): Promise<void> {
    let claim: Claim | undefined;
    for (let n = 0; n < maxBatches; n++) {
      claim = await store.claim(userId, now());
      if (claim.kind === 'none') break;
      if (claim.kind === 'skipped') continue;
      const { batch } = claim;
      if (claim.resumed) p.resumed++;
      const identifier = await meterEventIdentifier(batch);
      const placed = placeBatch(batch, now());
      if (!batch.customerId) throw new Error(`billable usage without a Stripe customer (ledger up to ${batch.lastId})`);
      if (!placed.ok) {
        // Stripe no longer accepts this period (older than ~35 days): set it aside, listed by reconcile.
        if (await store.commit(userId, batch.lastId, 'late', identifier, now())) p.late++;
        opts.log?.({ level: 'error', msg: 'usage too old for Stripe: set aside', user: userId, identifier, tokens: batch.value, periodStart: new Date(batch.periodStart).toISOString() });
        continue;
      }
      const outcome = await send(batch, identifier, placed.timestamp);
      if (outcome === 'duplicate') p.duplicates++;
      if (await store.commit(userId, batch.lastId, 'sent', identifier, now())) {
        p.batches++;
        p.events += batch.events;
        p.tokens += batch.value;
      }
    }
    // Keep the period-end flush scheduled for paid users: after a due flush, the next period's end;
    // in a full pass only ever earlier (a missing entry is repaired, a due one is never postponed).
    if (claim) {
      const next = claim.plan === 'pro' && claim.periodEnd > 0 ? claim.periodEnd + opts.periodEndFlushDelayMs : undefined;
      if (due) await store.scheduleFlush(userId, next !== undefined && next > now() ? next : undefined, 'set');
      else if (next !== undefined) await store.scheduleFlush(userId, next, 'earlier');
    }
  }

  async function visit(userId: string, due: boolean): Promise<void> {
    if (seen.has(userId)) return;
    seen.add(userId);
    try {
      await reportUser(userId, due);
    } catch (err) {
      p.failures++;
      const error = err instanceof Error ? err.message : String(err);
      failed.push({ userId, error });
      opts.log?.({ level: 'warn', msg: 'usage report failed for user; the batch stays pending for the next run', user: userId, error });
    }
    p.users++;
    if (p.users % (opts.progressEvery ?? 100) === 0) progress();
  }

  /** A bounded pool over pages of user ids. */
  async function pool(pages: AsyncIterable<string[]>, due: boolean): Promise<void> {
    const queue: string[] = [];
    const it = pages[Symbol.asyncIterator]();
    let exhausted = false;
    const next = async (): Promise<string | undefined> => {
      while (queue.length === 0 && !exhausted) {
        const r = await it.next();
        if (r.done) exhausted = true;
        else queue.push(...r.value);
      }
      return queue.shift();
    };
    let pulling: Promise<unknown> = Promise.resolve();
    const take = () => {
      const t = pulling.then(next);
      pulling = t.catch(() => undefined);
      return t;
    };
    await Promise.all(
      Array.from({ length: Math.max(1, opts.concurrency) }, async () => {
        for (;;) {
          if (opts.deadline !== undefined && now() >= opts.deadline) {
            complete = false;
            return;
          }
          const userId = await take();
          if (userId === undefined) return;
          await visit(userId, due);
        }
      }),
    );
  }

  async function* duePages(): AsyncIterable<string[]> {
    const users = await store.dueUsers(now(), 10_000);
    if (users.length > 0) yield users;
  }

  await pool(duePages(), true);
  if (opts.mode === 'full') await pool(store.users(), false);

  progress();
  return { ...p, stripeCalls: gateway.calls - callsBefore, mode: opts.mode, startedAt: new Date(t0).toISOString(), durationMs: now() - t0, complete, failed };
}
