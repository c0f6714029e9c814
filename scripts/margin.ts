/**
 * `npm run margin`: unit economics per plan and per user — tokens, provider cost, revenue, gross margin,
 * the cost by model (per provider/model, and per plan × model), the heaviest users, and the paying users
 * who cost more than they pay (cross-subsidised).
 *
 * Period definition: `--period YYYY-MM` (default: the current month, UTC) covers every **billing period
 * that started in that month**, in full — its ledger events (even requests that ran in the next month),
 * its base price, and its overage, computed over the whole period (billable tokens above the included
 * allowance × the metered price), as Stripe invoices it. Billing periods differ per user (Stripe's
 * billing-cycle anchor; first sight for free users), so whole periods are attributed rather than cutting
 * them at calendar month ends. Periods still running are shown as invoiced so far.
 *
 *   --period YYYY-MM   the month (UTC) whose billing periods to report (default: the current month)
 *   --top N            heaviest users listed (default 10)
 *   --csv              CSV on stdout instead of the table (a row per user, heaviest first, then per plan, total)
 *   --by-model         the CSV (--csv, --out) is the cost by model instead: a row per provider/model, per
 *                      plan × model, and their total (columns: BY_MODEL_CSV_COLUMNS in margin-report.ts);
 *                      the table always shows it
 *   --out FILE         also write the CSV to FILE (the table still goes to stdout)
 *
 * Reads Redis only (UPSTASH_REDIS_REST_URL / UPSTASH_REDIS_REST_TOKEN): every user with a ledger
 * (SCAN rd:{*}:ledger) or a subscription (rd:billing:users). Exit code 0; 64 on bad arguments; 78 on bad
 * configuration.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadRedisJobConfig } from '../api/config/env';
import { createRedis } from '../api/store/redis';
import { marginReport, monthOf, type Month } from '../api/billing/operator/margin';
import { readMargins } from '../api/billing/operator/margin-read';
import { marginByModelCsv, marginCsv, marginTable } from '../api/billing/operator/margin-report';
import { configOrExit } from './lib/config-or-exit';

let values: {
  period?: string | undefined;
  top?: string | undefined;
  csv?: boolean | undefined;
  'by-model'?: boolean | undefined;
  out?: string | undefined;
};
try {
  ({ values } = parseArgs({
    options: {
      period: { type: 'string' },
      top: { type: 'string', default: '10' },
      csv: { type: 'boolean', default: false },
      'by-model': { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  }));
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(64);
}

let month: Month;
try {
  month = monthOf(values.period, Date.now());
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(64);
}
const top = Number(values.top);
if (!Number.isInteger(top) || top < 0) {
  console.error(`--top must be a whole number, not "${values.top}"`);
  process.exit(64);
}

const config = configOrExit(loadRedisJobConfig);

const report = marginReport(month, await readMargins(createRedis(config.redis), month), { top });
const csv = values['by-model'] ? marginByModelCsv : marginCsv;
if (values.out) writeFileSync(values.out, csv(report));
process.stdout.write(values.csv ? csv(report) : marginTable(report));
