/**
 * `npm run reconcile`: our ledger against what Stripe holds and bills, per user, customer and period (the
 * meter event summaries while the period's invoice takes usage; the final invoice plus our invoice items
 * after), with Stripe's asynchronous meter errors;
 * lists every difference and exits 1 when there is one, 2 when the only rows not ok are still settling
 * (a batch delivered in the last few minutes that Stripe's summaries may not show yet: run it again later).
 *   --since <ISO date | N days>  periods ending after this (default 40 days: Stripe takes usage 35 days back)
 *   --user <id>                  only this user (repeatable)
 *   --json                       one JSON document instead of the table
 */
import { parseArgs } from 'node:util';
import { loadJobConfig } from '../api/config/env';
import { createRedis } from '../api/store/redis';
import { createStripeGateway } from '../api/billing/stripe/gateway';
import { reconcile } from '../api/billing/operator/reconcile';
import { configOrExit } from './lib/config-or-exit';

const { values } = parseArgs({
  options: {
    since: { type: 'string', default: '40' },
    user: { type: 'string', multiple: true },
    json: { type: 'boolean', default: false },
  },
});

const config = configOrExit(loadJobConfig);
const since = /^\d+$/.test(values.since) ? Date.now() - Number(values.since) * 86_400_000 : Date.parse(values.since);
if (!Number.isFinite(since)) {
  console.error(`--since must be an ISO date or a number of days, not "${values.since}"`);
  process.exit(64);
}

const result = await reconcile(createRedis(config.redis), createStripeGateway(config.billing), {
  since,
  ...(values.user ? { users: values.user } : {}),
});
const iso = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
if (values.json) {
  console.log(JSON.stringify({ ...result, rows: undefined, compared: result.rows.length }, null, 2));
} else {
  console.log(
    `Reconciled ${result.rows.length} periods of ${result.users} users since ${iso(since)} (${result.stripeCalls} Stripe calls).`,
  );
  if (result.settling.length > 0) {
    console.log(
      `${result.settling.length} period(s) settling: delivered in the last few minutes, Stripe's meter summaries may not show it yet — run reconcile again in a few minutes:`,
    );
    for (const d of result.settling)
      console.log(
        `  ${d.userId}\t${d.customerId}\t${iso(d.periodStart)} → ${iso(d.periodEnd)}\tledger ${d.ledgerTokens}\tdelivered ${d.sentTokens}\tstripe ${d.stripeTokens}`,
      );
  }
  if (result.differences.length === 0)
    console.log(
      result.settling.length > 0
        ? 'No differences apart from the settling periods.'
        : 'No differences: Stripe holds exactly our ledger.',
    );
  else {
    console.log(`${result.differences.length} difference(s):`);
    console.log(
      [
        'user',
        'customer',
        'period',
        'ledger',
        'delivered',
        'items',
        'pending',
        'late',
        'refused',
        'meter',
        'invoiced',
        'status',
      ].join('\t'),
    );
    for (const d of result.differences) {
      const invoiced =
        d.invoicedTokens !== undefined
          ? `${d.invoicedTokens} (${d.invoice!.id})`
          : d.invoice
            ? `draft ${d.invoice.id}`
            : '-';
      console.log(
        [
          d.userId,
          d.customerId,
          `${iso(d.periodStart)} → ${iso(d.periodEnd)}`,
          d.ledgerTokens,
          d.sentTokens,
          d.itemTokens,
          d.pendingTokens,
          d.lateTokens,
          d.errorTokens,
          d.stripeTokens,
          invoiced,
          d.status,
        ].join('\t'),
      );
      for (const e of d.errors)
        console.log(
          `    Stripe refused ${e.identifier} (${e.tokens} tokens): ${e.code} — ${e.message} [event ${e.event}]`,
        );
    }
  }
}
process.exit(result.differences.length > 0 ? 1 : result.settling.length > 0 ? 2 : 0);
