/**
 * When usage reporting runs, and that only one scheduled run happens at a time (a Redis lock).
 *
 * - In the Node server: a full pass every REPORT_USAGE_INTERVAL_MINUTES (default 60), and every minute a
 *   cheap period-end pass over the users whose paid period ended (rd:billing:due): Stripe finalises a
 *   period's invoice about an hour after the period ends and takes usage for it until then, so the
 *   period's last usage is flushed a few minutes after the end (once every request reserved in it has
 *   settled), well inside that hour, whatever the full-pass interval.
 * - On Vercel Cron / Cloudflare Cron Triggers: POST (or GET) /internal/report-usage with CRON_SECRET.
 * - By hand: npm run report-usage.
 * The lock only avoids wasted work: two reporters at once still bill exactly once (see reporter.ts).
 */
import { luaSource, type Redis } from '../../store/redis';
import { keys } from '../../metering/keys';
import { runReport, type ReportOptions, type ReportSummary } from './reporter';
import type { ReportStore } from './store';
import type { StripeGateway } from '../stripe/gateway';
import type { Metrics } from '../../observe/metrics';

/** The lock is renewed or released only by its holder (the token it was taken with). Exported for the script checks. */
export const RENEW_LUA = luaSource(`local lock = KEYS[1]
local token = ARGV[1]
local ttlMs = ARGV[2]
if redis.call('GET', lock) == token then return redis.call('PEXPIRE', lock, ttlMs) end
return 0`);
export const RELEASE_LUA = luaSource(`local lock = KEYS[1]
local token = ARGV[1]
if redis.call('GET', lock) == token then return redis.call('DEL', lock) end
return 0`);

export interface Lock {
  /** Runs `fn` holding the lock (renewed while it runs); undefined when another holder has it. */
  withLock<T>(fn: () => Promise<T>): Promise<T | undefined>;
}

export function createLock(redis: Redis, key: string, ttlMs = 60_000): Lock {
  return {
    async withLock(fn) {
      const token = crypto.randomUUID();
      const got = await redis.set(key, token, { nx: true, px: ttlMs });
      if (got !== 'OK') return undefined;
      const renew = setInterval(
        () => void redis.eval(RENEW_LUA, [key], [token, String(ttlMs)]).catch(() => {}),
        Math.floor(ttlMs / 3),
      );
      try {
        return await fn();
      } finally {
        clearInterval(renew);
        await redis.eval(RELEASE_LUA, [key], [token]).catch(() => {});
      }
    },
  };
}

export interface ReportRunner {
  /** One run under the lock; `undefined` when another instance is running one. */
  run(mode: 'due' | 'full', extra?: Partial<ReportOptions>): Promise<ReportSummary | undefined>;
  lastRun(): Promise<ReportSummary | undefined>;
}

export function createReportRunner(
  redis: Redis,
  store: ReportStore,
  gateway: StripeGateway,
  opts: {
    concurrency: number;
    periodEndFlushDelayMs: number;
    log: (line: Record<string, unknown>) => void;
    now?: () => number;
    metrics?: Metrics;
  },
): ReportRunner {
  const lock = createLock(redis, keys.reportLock);
  return {
    async run(mode, extra = {}) {
      return lock.withLock(async () => {
        const summary = await runReport(store, gateway, {
          concurrency: opts.concurrency,
          periodEndFlushDelayMs: opts.periodEndFlushDelayMs,
          mode,
          log: opts.log,
          ...(opts.now ? { now: opts.now } : {}),
          ...extra,
        });
        for (const [outcome, n] of [
          ['committed', summary.batches],
          ['invoice_item', summary.items],
          ['confirmed', summary.confirmed],
          ['duplicate', summary.duplicates],
          ['late', summary.late],
          ['failed', summary.failures],
          ['waiting', summary.waiting],
        ] as const) {
          if (n > 0) opts.metrics?.inc('redraft_usage_report_batches_total', { outcome }, n);
        }
        if (mode === 'full' || summary.users > 0) {
          await redis
            .set(keys.reportLastRun, JSON.stringify({ ...summary, failed: summary.failed.slice(0, 20) }))
            .catch(() => {});
          const { failed, ...counts } = summary;
          opts.log({
            level: failed.length > 0 ? 'warn' : 'info',
            msg: 'usage report run',
            ...counts,
            failedUsers: failed.slice(0, 5),
          });
        }
        return summary;
      });
    },
    async lastRun() {
      const raw = (await redis.get(keys.reportLastRun)) as string | null;
      return raw ? (JSON.parse(raw) as ReportSummary) : undefined;
    },
  };
}

/** The in-process schedule of the Node server: period-end pass every minute, full pass every `intervalMinutes`. */
export function startReportSchedule(
  runner: ReportRunner,
  opts: { intervalMinutes: number; log: (line: Record<string, unknown>) => void; tickMs?: number },
): { stop(): Promise<void> } {
  const tickMs = opts.tickMs ?? 60_000;
  const fullEvery = Math.max(1, Math.round((opts.intervalMinutes * 60_000) / tickMs));
  let ticks = 0;
  let running: Promise<unknown> | undefined;
  let stopped = false;
  const tick = () => {
    if (stopped || running) return; // a run still going (a long full pass) skips this tick
    // The first tick runs a full pass (catches up after a restart); then every `fullEvery` ticks.
    const mode = ticks++ % fullEvery === 0 ? 'full' : 'due';
    running = runner
      .run(mode)
      .catch((err) =>
        opts.log({
          level: 'error',
          msg: 'usage report run failed',
          mode,
          error: err instanceof Error ? err.message : String(err),
        }),
      )
      .finally(() => (running = undefined));
  };
  const first = setTimeout(tick, 5_000);
  const timer = setInterval(tick, tickMs);
  first.unref?.();
  timer.unref?.();
  return {
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}
