/**
 * Unit economics (npm run margin): per user and per plan, the tokens billed, what they cost us at the model
 * provider, what we invoice for them, and the gross margin. Pure: ledger events in, rows out; the Redis
 * side is margin-read.ts, the table and CSV margin-report.ts.
 *
 * Attribution — one rule for cost and revenue alike: the report for month M covers every **billing
 * period that started in M (UTC)**, in full, with everything that belongs to it:
 * - cost: every ledger event whose `period` (the billing period it was granted in) started in M — even
 *   when the request ran in M+1 — at the provider cost the ledger recorded for it;
 * - revenue: for each such period of a paid plan, the base price once, plus the overage of that period:
 *   (billable tokens of the period − the included allowance) × the metered price, computed per period
 *   exactly as Stripe's graduated price does, never per event. Free periods have no revenue (acquisition).
 * Billing periods differ per user (Stripe's subscription anchor, or first sight for free users), so a
 * calendar month cannot be cut into them without prorating; attributing whole periods keeps each period's
 * revenue and cost together. A period that is still running is shown as invoiced so far.
 *
 * Money is summed in integer units of 1e-8 USD (the ledger records costs to 8 decimals), so no float
 * drift creeps into totals.
 *
 * Cost by model: the same events, grouped by the model that served each one (`provider/model`, from the
 * ledger's `prov` and `model`; a fallback's request counts under the model that answered), over all plans
 * and per plan × model. Each event's cost is counted once, exactly as in its user's row, so the model rows
 * add up to the report's totals. Events settled before model routing recorded no provider: their provider
 * is left empty (shown as `?`), not guessed — the API then called one OpenAI-compatible endpoint
 * (OPENAI_BASE_URL), which need not have been OpenAI. Their cost is unaffected: prices are per model.
 */
import { PLANS, type Plan, type PlanId } from '../../config/plans';
import { PRICE_LISTS, priceListAt, providerCostUsd, type PriceList } from '../../config/model-prices';
import { modelBreakdown, modelTally, type ModelMargin, type ModelUsage } from './margin-models';

export { modelLabel, type ModelMargin, type ModelUsage } from './margin-models';

/** 1 USD in the integer money unit used here (1e-8 USD). */
export const USD = 100_000_000;

/** One ledger event as far as margins are concerned. */
export interface MarginEvent {
  /** Start of the billing period the event belongs to (epoch ms); null when the event does not say. */
  periodStart: number | null;
  periodEnd: number | null;
  /** The plan it was granted under: events granted under a paid plan are billable ('pro'). */
  plan: PlanId;
  /** Tokens charged to the user's quota (and, when billable, to their Stripe meter). */
  billedTokens: number;
  /** Provider cost the ledger recorded, in 1e-8 USD; null when the event has no cost field. */
  costUsd8: number | null;
  /** The model that served (the price list's key); '' when the event does not say. */
  model: string;
  /** Its provider (`openai`, `anthropic`, an OpenAI-compatible provider's name); '' on events settled before model routing. */
  provider: string;
  inputTokens: number;
  /** Of inputTokens, read from the provider's cache (0 on events recorded before it was). */
  cachedInputTokens: number;
  outputTokens: number;
  startedAt: number;
  endedAt: number;
}

const num = (v: string | undefined): number | null => {
  if (v === undefined || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
};

/** A ledger stream entry (fields as Redis returns them: strings) → MarginEvent. Field names: see SETTLE in quota.lua.ts. */
export function parseMarginEvent(f: Record<string, string>, streamId: string): MarginEvent {
  const endedAt = num(f.ended) ?? Number(streamId.split('-')[0]);
  const cost = num(f.cost);
  return {
    periodStart: num(f.period),
    periodEnd: num(f.pend),
    plan: f.billable === '1' ? 'pro' : 'free',
    billedTokens: num(f.billed) ?? 0,
    costUsd8: cost === null ? null : Math.round(cost * USD),
    model: f.model ?? '',
    provider: f.prov ?? '',
    inputTokens: num(f.in) ?? 0,
    cachedInputTokens: num(f.cached) ?? 0,
    outputTokens: num(f.out) ?? 0,
    startedAt: num(f.started) ?? endedAt,
    endedAt,
  };
}

/** A calendar month in UTC: [start, end). */
export interface Month {
  label: string;
  start: number;
  end: number;
}

/** `YYYY-MM` → the month; without a label, the month (UTC) containing `now`. Throws on anything else. */
export function monthOf(label: string | undefined, now: number): Month {
  let y: number;
  let m: number;
  if (label === undefined) {
    const d = new Date(now);
    y = d.getUTCFullYear();
    m = d.getUTCMonth() + 1;
  } else {
    const match = /^(\d{4})-(\d{2})$/.exec(label);
    if (!match || Number(match[2]) < 1 || Number(match[2]) > 12)
      throw new Error(`--period must be a month as YYYY-MM, not "${label}"`);
    y = Number(match[1]);
    m = Number(match[2]);
  }
  return { label: `${y}-${String(m).padStart(2, '0')}`, start: Date.UTC(y, m - 1, 1), end: Date.UTC(y, m, 1) };
}

/**
 * Whether an event counts in the month: its billing period started in it. An event that names no period
 * (none should: every settlement records it) counts by when it ended.
 */
export function inMonth(e: MarginEvent, month: Month): boolean {
  const at = e.periodStart ?? e.endedAt;
  return at >= month.start && at < month.end;
}

/** One billing period of one user, under one plan. */
export interface PeriodMargin {
  plan: PlanId;
  /** null: events that named no period (grouped together, no base price). */
  periodStart: number | null;
  periodEnd: number | null;
  requests: number;
  tokens: number;
  /** Tokens on the Stripe meter for this period (billed tokens of events granted under a paid plan). */
  billableTokens: number;
  overageTokens: number;
  costUsd8: number;
  baseUsd8: number;
  overageUsd8: number;
}

/** The counts of a period that add up into a user's month and a plan's totals. */
const PERIOD_SUMS = [
  'requests',
  'tokens',
  'billableTokens',
  'overageTokens',
  'costUsd8',
  'baseUsd8',
  'overageUsd8',
] as const;
type PeriodSum = (typeof PERIOD_SUMS)[number];
const periodZeros = () => Object.fromEntries(PERIOD_SUMS.map((k) => [k, 0])) as Record<PeriodSum, number>;

export interface UserMargin {
  userId: string;
  /** Plans of the user's periods in the month, in period order (an upgrade reads ['free', 'pro']). */
  plans: PlanId[];
  periods: PeriodMargin[];
  requests: number;
  tokens: number;
  billableTokens: number;
  overageTokens: number;
  costUsd8: number;
  baseUsd8: number;
  overageUsd8: number;
  revenueUsd8: number;
  marginUsd8: number;
  /** Margin as a percentage of revenue (one decimal); null without revenue. */
  marginPct: number | null;
  /** A paying user whose usage cost more than they are invoiced. */
  crossSubsidised: boolean;
  /** Events without a recorded cost, priced here from the model price list in force when they started. */
  pricedHere: number;
  /** Events with neither a recorded cost nor a price for their model (counted at 0). */
  unpriced: number;
  /** The user's requests by plan and serving model (plan order, then most cost first); their costs sum to costUsd8. */
  models: ModelUsage[];
}

export interface MarginOptions {
  plans?: Record<PlanId, Plan>;
  priceLists?: PriceList[];
}

/** The period the user's quota is in now (quota hash: plan, start, end). */
export interface CurrentPeriod {
  plan: PlanId;
  start: number;
  end: number;
}

/** Base price of one period of a plan and the overage of `billableTokens` in it, in 1e-8 USD. */
export function periodRevenue(
  plan: Plan,
  billableTokens: number,
): { baseUsd8: number; overageTokens: number; overageUsd8: number } {
  const overageTokens = plan.overageUsdPer1k > 0 ? Math.max(0, billableTokens - plan.includedTokens) : 0;
  return {
    baseUsd8: Math.round(plan.baseUsdPerMonth * USD),
    overageTokens,
    // USD per 1K tokens × tokens / 1000 × 1e8 = tokens × price × 1e5.
    overageUsd8: Math.round(overageTokens * plan.overageUsdPer1k * 100_000),
  };
}

export const marginPct = (marginUsd8: number, revenueUsd8: number): number | null =>
  revenueUsd8 > 0 ? Math.round((marginUsd8 / revenueUsd8) * 1000) / 10 : null;

/**
 * One user's month: their events (any order; those outside the month are ignored) and the period their
 * quota is in now. A paid current period that started in the month and has no usage yet still counts (its
 * base price is invoiced). Undefined when nothing of the user belongs to the month.
 */
export function userMargin(
  userId: string,
  events: Iterable<MarginEvent>,
  current: CurrentPeriod | undefined,
  month: Month,
  opts: MarginOptions = {},
): UserMargin | undefined {
  const plans = opts.plans ?? PLANS;
  const lists = opts.priceLists ?? PRICE_LISTS;
  const byPeriod = new Map<string, PeriodMargin>();
  let pricedHere = 0;
  let unpriced = 0;
  const models = modelTally();
  const periodOf = (plan: PlanId, start: number | null, end: number | null): PeriodMargin => {
    const key = `${plan}|${start ?? ''}`;
    let p = byPeriod.get(key);
    if (!p)
      byPeriod.set(
        key,
        (p = {
          plan,
          periodStart: start,
          periodEnd: end,
          ...periodZeros(),
        }),
      );
    return p;
  };

  for (const e of events) {
    if (!inMonth(e, month)) continue;
    const p = periodOf(e.plan, e.periodStart, e.periodEnd);
    p.requests++;
    p.tokens += e.billedTokens;
    if (e.plan !== 'free') p.billableTokens += e.billedTokens;
    let cost = e.costUsd8;
    let priced: 'recorded' | 'here' | 'unpriced' = 'recorded';
    if (cost === null) {
      const price = priceListAt(new Date(e.startedAt), lists).models[e.model];
      priced = price ? 'here' : 'unpriced';
      cost = price ? Math.round(providerCostUsd(price, e) * USD) : 0;
      if (price) pricedHere++;
      else unpriced++;
    }
    p.costUsd8 += cost;
    models.add(e, cost, priced);
  }
  if (current && current.plan !== 'free' && current.start >= month.start && current.start < month.end)
    periodOf(current.plan, current.start, current.end);
  if (byPeriod.size === 0) return undefined;

  const periods = [...byPeriod.values()].sort(
    (a, b) => (a.periodStart ?? -1) - (b.periodStart ?? -1) || a.plan.localeCompare(b.plan),
  );
  for (const p of periods) {
    const r = periodRevenue(plans[p.plan], p.billableTokens);
    // The base price is per billing period; events that named no period add no base price.
    p.baseUsd8 = p.periodStart === null ? 0 : r.baseUsd8;
    p.overageTokens = r.overageTokens;
    p.overageUsd8 = r.overageUsd8;
  }
  const sum = (k: PeriodSum) => periods.reduce((s, p) => s + p[k], 0);
  const baseUsd8 = sum('baseUsd8');
  const overageUsd8 = sum('overageUsd8');
  const revenueUsd8 = baseUsd8 + overageUsd8;
  const costUsd8 = sum('costUsd8');
  const marginUsd8 = revenueUsd8 - costUsd8;
  return {
    userId,
    plans: periods.map((p) => p.plan).filter((plan, i, all) => all.indexOf(plan) === i),
    periods,
    requests: sum('requests'),
    tokens: sum('tokens'),
    billableTokens: sum('billableTokens'),
    overageTokens: sum('overageTokens'),
    costUsd8,
    baseUsd8,
    overageUsd8,
    revenueUsd8,
    marginUsd8,
    marginPct: marginPct(marginUsd8, revenueUsd8),
    crossSubsidised: revenueUsd8 > 0 && marginUsd8 < 0,
    pricedHere,
    unpriced,
    models: models.rows(Object.keys(plans)),
  };
}

/** Totals of one plan (its users' periods under that plan), or of everything. */
export interface PlanMargin {
  plan: PlanId | 'total';
  /** Users with at least one period of this plan in the month (an upgrader counts under both plans, once in the total). */
  users: number;
  periods: number;
  requests: number;
  tokens: number;
  billableTokens: number;
  overageTokens: number;
  costUsd8: number;
  baseUsd8: number;
  overageUsd8: number;
  revenueUsd8: number;
  marginUsd8: number;
  marginPct: number | null;
  /** Cross-subsidised users among them. */
  crossSubsidised: number;
}

export interface MarginReport {
  month: Month;
  /** Every user with something in the month, heaviest (most tokens) first. */
  users: UserMargin[];
  /** One row per plan that occurs, in the order of PLANS. */
  plans: PlanMargin[];
  total: PlanMargin;
  heaviest: UserMargin[];
  crossSubsidised: UserMargin[];
  pricedHere: number;
  unpriced: number;
  /** Cost by model over all plans: a row per provider/model, most cost first. */
  models: ModelMargin[];
  /** Per plan (in the order of PLANS) × model, most cost first within a plan. */
  planModels: ModelMargin[];
  /** The model rows summed: requests, tokens and cost equal `total`'s. */
  modelTotal: ModelMargin;
}

function planTotals(
  plan: PlanMargin['plan'],
  users: UserMargin[],
  periodsOf: (u: UserMargin) => PeriodMargin[],
): PlanMargin {
  const t: PlanMargin = {
    plan,
    users: 0,
    periods: 0,
    ...periodZeros(),
    revenueUsd8: 0,
    marginUsd8: 0,
    marginPct: null,
    crossSubsidised: 0,
  };
  for (const u of users) {
    const ps = periodsOf(u);
    if (ps.length === 0) continue;
    t.users++;
    if (u.crossSubsidised) t.crossSubsidised++;
    for (const p of ps) {
      t.periods++;
      for (const k of PERIOD_SUMS) t[k] += p[k];
    }
  }
  t.revenueUsd8 = t.baseUsd8 + t.overageUsd8;
  t.marginUsd8 = t.revenueUsd8 - t.costUsd8;
  t.marginPct = marginPct(t.marginUsd8, t.revenueUsd8);
  return t;
}

/** Heaviest first: most tokens, then most cost, then by user id (stable output). */
const heavier = (a: UserMargin, b: UserMargin) =>
  b.tokens - a.tokens || b.costUsd8 - a.costUsd8 || a.userId.localeCompare(b.userId);

export function marginReport(
  month: Month,
  users: UserMargin[],
  opts: { top?: number; plans?: Record<PlanId, Plan> } = {},
): MarginReport {
  const sorted = [...users].sort(heavier);
  const planIds = Object.keys(opts.plans ?? PLANS) as PlanId[];
  return {
    month,
    users: sorted,
    plans: planIds
      .map((id) => planTotals(id, sorted, (u) => u.periods.filter((p) => p.plan === id)))
      .filter((p) => p.users > 0),
    total: planTotals('total', sorted, (u) => u.periods),
    heaviest: sorted.slice(0, Math.max(0, opts.top ?? 10)),
    crossSubsidised: sorted
      .filter((u) => u.crossSubsidised)
      .sort((a, b) => a.marginUsd8 - b.marginUsd8 || a.userId.localeCompare(b.userId)),
    pricedHere: sorted.reduce((s, u) => s + u.pricedHere, 0),
    unpriced: sorted.reduce((s, u) => s + u.unpriced, 0),
    ...modelBreakdown(sorted, planIds),
  };
}
