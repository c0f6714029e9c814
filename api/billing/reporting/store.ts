/**
 * The reporter's state in Redis (write-ahead batches): claim a user's batch, commit it once Stripe has it,
 * route it to an invoice item, and the work lists (every paid user; users whose period ended). The Lua is
 * beside it (reporter.lua.ts).
 */
import type { Redis } from '../../store/redis';
import { defineNamedScript } from '../../store/redis';
import { keys } from '../../metering/keys';
import { parseIdentifier, type Batch, type BatchState } from './batches';
import { CLAIM, COMMIT, ROUTE } from './reporter.lua';

export type ClaimedBatch = Batch & BatchState;

export type Claim =
  | {
      kind: 'batch';
      batch: ClaimedBatch;
      resumed: boolean /** More ledger may follow this batch. */;
      more: boolean;
      plan: string;
      periodEnd: number;
    }
  | { kind: 'skipped'; scanned: number; plan: string; periodEnd: number }
  | { kind: 'none'; plan: string; periodEnd: number };

/** How a committed batch reached Stripe. */
export type CommitHow = 'accepted' | 'duplicate' | 'summary' | 'invoice' | 'item' | 'late';

export interface ReportStore {
  claim(userId: string, now: number): Promise<Claim>;
  commit(
    userId: string,
    lastId: string,
    outcome: 'sent' | 'item' | 'late',
    identifier: string,
    now: number,
    detail?: { how: CommitHow; item?: string; overageTokens?: number },
  ): Promise<boolean>;
  /** The pending batch ending at `lastId` is billed as an invoice item from now on; false when it is no longer pending. */
  setRoute(userId: string, lastId: string, route: 'item'): Promise<boolean>;
  /** Remember whose identifier a hashed one is (Stripe's asynchronous meter errors name identifiers only). */
  rememberIdentifier(identifier: string, userId: string): Promise<void>;
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
  const [claimScript, commitScript, routeScript] = await Promise.all([
    defineNamedScript(redis, CLAIM),
    defineNamedScript(redis, COMMIT),
    defineNamedScript(redis, ROUTE),
  ]);
  const maxEvents = opts.maxEventsPerBatch ?? 1000;
  const scanLimit = opts.scanLimit ?? 2000;
  const remembered = new Set<string>();
  let commits: (() => void)[] = [];
  const flushCommits = () => {
    const now = commits;
    commits = [];
    for (const c of now) c();
  };

  return {
    async claim(userId, now) {
      const r = await claimScript.run(
        {
          reportKey: keys.report(userId),
          ledgerKey: keys.ledger(userId),
          quotaKey: keys.quota(userId),
          billingKey: keys.billing(userId),
        },
        { maxEventsArg: maxEvents, scanLimitArg: scanLimit, nowArg: now },
      );
      const head = { plan: r.qplan ?? '', periodEnd: Number(r.qend || 0) };
      if (r.kind === 'NONE') return { kind: 'none', ...head };
      if (r.kind === 'SKIPPED') return { kind: 'skipped', scanned: Number(r.scanned), ...head };
      if (r.kind === 'PENDING' || r.kind === 'CLAIMED') {
        return {
          kind: 'batch',
          resumed: r.kind === 'PENDING',
          more: r.more !== '0',
          ...head,
          batch: {
            userId,
            lastId: r.plast!,
            periodStart: Number(r.pperiod),
            periodEnd: Number(r.ppend),
            customerId: r.pcust!,
            value: Number(r.pvalue),
            events: Number(r.pcount),
            lastEndedAt: Number(r.pended),
            // A batch pending from before claim times were kept: as old as can be (checked against Stripe's record).
            claimedAt: Number(r.pclaimed) || 0,
            route: r.proute === 'item' ? 'item' : 'meter',
            sentTokens: Number(r.sent),
            itemTokens: Number(r.item),
            errorTokens: Number(r.err),
            subscriptionId: r.sub || undefined,
          },
        };
      }
      throw new Error(`unexpected claim reply: ${JSON.stringify(r)}`);
    },

    commit(userId, lastId, outcome, identifier, now, detail) {
      // Commits finishing close together (many users' Stripe calls returning) are issued in the same
      // tick, so they share one auto-pipelined round trip; each is still its own atomic script.
      const how = detail?.how ?? (outcome === 'late' ? 'late' : outcome === 'item' ? 'item' : 'accepted');
      return new Promise<boolean>((resolve, reject) => {
        commits.push(() =>
          commitScript
            .run(
              { reportKey: keys.report(userId), lateKey: keys.reportLate(userId), logKey: keys.reportLog(userId) },
              {
                lastId,
                outcome,
                nowArg: now,
                identifier,
                how,
                item: detail?.item ?? '',
                overage: detail?.overageTokens ?? 0,
              },
            )
            .then((r) => resolve(r.committed === '1'), reject),
        );
        if (commits.length === 1) setTimeout(flushCommits, 0); // (setTimeout: also on Workers)
      });
    },

    async setRoute(userId, lastId, route) {
      return (await routeScript.run({ reportKey: keys.report(userId) }, { lastId, route })).set === '1';
    },

    async rememberIdentifier(identifier, userId) {
      const hash = parseIdentifier(identifier)?.hash;
      if (!hash || hash === userId.slice(1) || remembered.has(hash)) return;
      await redis.set(keys.identifierUser(hash), userId);
      remembered.add(hash);
    },

    async *users() {
      let cursor = '0';
      do {
        const [next, members] = (await redis.sscan(keys.billingUsers, cursor, { count: 500 })) as [
          string | number,
          string[],
        ];
        cursor = String(next);
        if (members.length > 0) yield members.map(String);
      } while (cursor !== '0');
    },

    async dueUsers(now, limit) {
      return (
        (await redis.zrange(keys.reportDue, '-inf', now, { byScore: true, offset: 0, count: limit })) as string[]
      ).map(String);
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
