/**
 * Settling one rewrite: charge what it used, once (retried so a Redis blip does not lose usage), then the
 * metrics and the request's log line, which carries its tokens and cost.
 */
import type { RewriteRequest } from '../../shared/contract';
import { providerCostUsd } from '../config/model-prices';
import { exponential, retry, type RetryOptions } from '../lib/retry';
import type { Period } from '../metering/periods';
import type { LedgerEvent, QuotaStore, Settlement } from '../metering/quota';
import type { PriceBook, PriceQuote } from '../metering/prices';
import { tokenDetails, usageToCharge, type StreamOutcome } from '../metering/settlement';
import { PROMPT_VERSION } from '../../shared/prompts';
import type { Log } from '../observe/log';
import type { Metrics } from '../observe/metrics';

export interface SettleDeps {
  quota: Pick<QuotaStore, 'settle'>;
  metrics: Pick<Metrics, 'inc' | 'observe'>;
  log: Log;
  now: () => number;
  /** The price lists in force (the repository's and those published to Redis). */
  prices: Pick<PriceBook, 'quote'>;
  sleep?: RetryOptions['sleep'];
}

export interface Served {
  userId: string;
  requestId: string;
  req: RewriteRequest;
  period: Period;
  startedAt: number;
  outcome: StreamOutcome;
  /** The model that served: its id (the price list's key and the ledger's `model`) and provider. */
  model: { modelId: string; provider: string };
}

/** Settlement attempts (about 6 s of backoff in all) before the reservation is left to the abandoned sweep. */
const SETTLE_ATTEMPTS = 6;

/**
 * The ledger event of a served request: the user is charged input + output tokens (cache or not); the
 * provider cost prices the cached part of the input at the cached price, with the list quoted for its start.
 */
export function ledgerEventOf(a: Served, endedAt: number, quote: PriceQuote | undefined): LedgerEvent {
  const usage = usageToCharge(a.outcome);
  const details = tokenDetails(a.outcome, usage);
  const costUsd = quote
    ? providerCostUsd(quote.price, {
        inputTokens: usage.inputTokens,
        cachedInputTokens: details.cachedInputTokens,
        outputTokens: usage.outputTokens,
      })
    : 0;
  return {
    requestId: a.requestId,
    userId: a.userId,
    action: a.req.action,
    model: a.model.modelId,
    provider: a.model.provider,
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    cachedInputTokens: details.cachedInputTokens,
    reasoningTokens: details.reasoningTokens,
    usageAnomalies: details.anomalies,
    costUsd,
    priceVersion: quote?.version ?? '',
    status: a.outcome.status,
    source: usage.source,
    startedAt: a.startedAt,
    endedAt,
    promptVersion: PROMPT_VERSION,
  };
}

/** Charge what the request used, once. Never throws: a settlement given up is logged and counted. */
export async function settleRewrite(d: SettleDeps, a: Served): Promise<void> {
  const event = ledgerEventOf(a, d.now(), await d.prices.quote(a.startedAt, a.model.modelId));
  if (event.usageAnomalies.length > 0) {
    for (const kind of event.usageAnomalies) d.metrics.inc('redraft_usage_anomalies_total', { kind });
    d.log({
      level: 'warn',
      msg: 'provider usage details not trusted as reported',
      requestId: a.requestId,
      anomalies: event.usageAnomalies,
      providerUsage: a.outcome.providerUsage,
    });
  }
  let result: Settlement;
  try {
    result = await retry(() => d.quota.settle(a.userId, a.period, event), {
      attempts: SETTLE_ATTEMPTS,
      backoff: exponential(200),
      sleep: d.sleep,
    });
  } catch (err) {
    d.metrics.inc('redraft_settle_failures_total');
    d.log({
      level: 'error',
      msg: 'settle failed; the reservation will be released as abandoned',
      requestId: a.requestId,
      user: a.userId,
      error: String(err),
    });
    return;
  }
  recordSettled(d, a, event, result);
}

function recordSettled(d: SettleDeps, a: Served, event: LedgerEvent, result: Settlement): void {
  const billed = result.ok ? result.billed : 0;
  d.metrics.inc('redraft_rewrites_total', { action: event.action, outcome: event.status });
  d.metrics.inc('redraft_tokens_billed_total', { action: event.action }, billed);
  d.metrics.inc('redraft_provider_cost_usd_total', { model: event.model, provider: event.provider }, event.costUsd);
  d.metrics.observe('redraft_rewrite_duration_seconds', {}, (event.endedAt - a.startedAt) / 1000);
  d.log({
    msg: 'request',
    requestId: a.requestId,
    method: 'POST',
    route: '/v1/rewrite',
    status: 200,
    user: a.userId,
    action: event.action,
    model: `${event.provider}/${event.model}`,
    outcome: event.status,
    usageSource: event.source,
    inputTokens: event.inputTokens,
    outputTokens: event.outputTokens,
    cachedInputTokens: event.cachedInputTokens,
    reasoningTokens: event.reasoningTokens,
    billedTokens: result.ok ? result.billed : null,
    costUsd: event.costUsd,
    priceVersion: event.priceVersion,
    latencyMs: event.endedAt - a.startedAt,
  });
  if (result.ok && result.alerts.length > 0)
    d.log({ msg: 'usage alert', user: a.userId, thresholds: result.alerts, usedTokens: result.usedAfter });
}
