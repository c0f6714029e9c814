/**
 * `npm run report-usage`: one usage report run by hand (the same run the server schedules).
 *   --due             only the period-end pass (users whose paid period ended)
 *   --no-lock         do not take the scheduler's Redis lock (safe — batches are exactly-once either
 *                     way — only wasteful if another run is going)
 *   --progress-every N  print a progress line every N users (default 100)
 * Prints JSON lines: {"progress": …} while running, then {"summary": …}. Exit code 0 when every batch
 * was delivered, 1 when some stay pending (they are retried on the next run), 2 when the lock is held.
 */
import { parseArgs } from 'node:util';
import { loadJobConfig } from '../api/config/env';
import { createRedis } from '../api/store/redis';
import { createStripeGateway } from '../api/billing/stripe/gateway';
import { runReport, type ReportSummary } from '../api/billing/reporting/reporter';
import { createReportStore } from '../api/billing/reporting/store';
import { createReportRunner } from '../api/billing/reporting/schedule';
import { configOrExit } from './lib/config-or-exit';

const { values } = parseArgs({
  options: {
    due: { type: 'boolean', default: false },
    'no-lock': { type: 'boolean', default: false },
    'progress-every': { type: 'string', default: '100' },
  },
});

const config = configOrExit(loadJobConfig);

const redis = createRedis(config.redis);
const gateway = createStripeGateway(config.billing);
const store = await createReportStore(redis);
const log = (line: Record<string, unknown>) =>
  console.error(JSON.stringify({ time: new Date().toISOString(), ...line }));
const opts = {
  concurrency: config.reporter.concurrency,
  periodEndFlushDelayMs: config.reporter.periodEndFlushDelayMs,
  mode: values.due ? ('due' as const) : ('full' as const),
  progressEvery: Math.max(1, Number(values['progress-every']) || 100),
  onProgress: (p: object) => console.log(JSON.stringify({ progress: p })),
  log,
};

let summary: ReportSummary | undefined;
if (values['no-lock']) summary = await runReport(store, gateway, opts);
else
  summary = await createReportRunner(redis, store, gateway, {
    concurrency: opts.concurrency,
    periodEndFlushDelayMs: opts.periodEndFlushDelayMs,
    log,
  }).run(opts.mode, opts);

if (!summary) {
  console.error(
    'Another usage report run holds the lock; nothing done. (Use --no-lock to run anyway: still exactly-once.)',
  );
  process.exit(2);
}
console.log(JSON.stringify({ summary }));
process.exit(summary.failures > 0 ? 1 : 0);
