/**
 * The cost by model of the margin report (npm run margin): each user's requests tallied by plan and serving
 * model (`provider/model`), then grouped over users — per model over all plans, per plan × model, and their
 * total, which equals the report's. Pure; margin.ts calls it.
 */
import type { PlanId } from '../../config/plans';
import type { UserMargin } from './margin';

/** `provider/model` as the report prints it: `?` for what the ledger did not record. */
export const modelLabel = (provider: string, model: string): string => `${provider || '?'}/${model || '?'}`;

/** The usage one model served under one plan (a user's, or everyone's in the report). */
export interface ModelUsage {
  plan: PlanId;
  /** '' when the ledger did not record it (events settled before model routing). */
  provider: string;
  model: string;
  requests: number;
  /** Tokens billed (charged to the quota) for these requests. */
  tokens: number;
  inputTokens: number;
  /** Of inputTokens, read from the provider's prompt cache. */
  cachedInputTokens: number;
  /** Output tokens, reasoning included. */
  outputTokens: number;
  /** Provider cost, in 1e-8 USD: recorded, or priced here (see pricedHere). */
  costUsd8: number;
  pricedHere: number;
  unpriced: number;
}

/**
 * One row of the cost by model: a model over all plans (`plan: 'all'`), one plan's use of a model, or the
 * total of the model rows (`plan: 'all'`, provider and model ''), which equals the report's total.
 */
export interface ModelMargin extends Omit<ModelUsage, 'plan'> {
  plan: PlanId | 'all';
  /** Users with at least one of these requests. */
  users: number;
  /** Share of the requests and of the cost of the row's group — all plans, or the row's plan — in %, one decimal; null when the group has none. */
  requestSharePct: number | null;
  costSharePct: number | null;
}

/** The counts a model row sums. */
const SUMMED = [
  'requests',
  'tokens',
  'inputTokens',
  'cachedInputTokens',
  'outputTokens',
  'costUsd8',
  'pricedHere',
  'unpriced',
] as const;

/** One user's requests by plan and serving model: `add` each event, `rows` in plan order, most cost first. */
export function modelTally() {
  const byModel = new Map<string, ModelUsage>();
  return {
    add(
      e: {
        plan: PlanId;
        provider: string;
        model: string;
        billedTokens: number;
        inputTokens: number;
        cachedInputTokens: number;
        outputTokens: number;
      },
      costUsd8: number,
      priced: 'recorded' | 'here' | 'unpriced',
    ): void {
      // A provider name has no `/` (api/config/models.ts), so this key is unambiguous.
      const key = `${e.plan}|${e.provider}/${e.model}`;
      let m = byModel.get(key);
      if (!m) byModel.set(key, (m = { plan: e.plan, provider: e.provider, model: e.model, ...zeros() }));
      m.requests++;
      m.tokens += e.billedTokens;
      m.inputTokens += e.inputTokens;
      m.cachedInputTokens += e.cachedInputTokens;
      m.outputTokens += e.outputTokens;
      m.costUsd8 += costUsd8;
      if (priced === 'here') m.pricedHere++;
      if (priced === 'unpriced') m.unpriced++;
    },
    rows: (planOrder: string[]): ModelUsage[] => [...byModel.values()].sort(planThenCost(planOrder)),
  };
}

const zeros = () => Object.fromEntries(SUMMED.map((k) => [k, 0])) as Record<(typeof SUMMED)[number], number>;

/** Cost by model over all plans (most cost first), per plan × model (plan order), and the rows' total. */
export function modelBreakdown(users: UserMargin[], planIds: PlanId[]) {
  const ref = (m: ModelUsage) => `${m.provider}/${m.model}`;
  return {
    models: modelRows(users, () => 'all', ref).sort(costlier),
    planModels: modelRows(users, (m) => m.plan, ref).sort(planThenCost(planIds)),
    modelTotal:
      modelRows(
        users,
        () => 'all',
        () => '',
      )[0] ?? emptyModelRow('all', '', ''),
  };
}

type ModelRow = Pick<ModelUsage, 'provider' | 'model' | 'requests' | 'costUsd8'> & { plan: string };

/** Most cost first, then most requests, then by label (stable output). */
const costlier = (a: ModelRow, b: ModelRow) =>
  b.costUsd8 - a.costUsd8 ||
  b.requests - a.requests ||
  modelLabel(a.provider, a.model).localeCompare(modelLabel(b.provider, b.model));

/** Plans in the order of PLANS, then costlier. */
const planThenCost =
  (order: string[]) =>
  (a: ModelRow, b: ModelRow): number =>
    order.indexOf(a.plan) - order.indexOf(b.plan) || costlier(a, b);

const share = (part: number, whole: number): number | null =>
  whole > 0 ? Math.round((part / whole) * 1000) / 10 : null;

const emptyModelRow = (plan: ModelMargin['plan'], provider: string, model: string): ModelMargin => ({
  plan,
  provider,
  model,
  users: 0,
  ...zeros(),
  requestSharePct: null,
  costSharePct: null,
});

/** The users' model usages grouped by `keyOf` (plan 'all': over plans), with shares of their group. */
function modelRows(
  users: UserMargin[],
  plan: (m: ModelUsage) => PlanId | 'all',
  keyOf: (m: ModelUsage) => string,
): ModelMargin[] {
  const rows = new Map<string, ModelMargin & { seen: Set<string> }>();
  for (const u of users)
    for (const m of u.models) {
      const key = `${plan(m)}|${keyOf(m)}`;
      let r = rows.get(key);
      if (!r) {
        const whole = keyOf(m) === '';
        rows.set(
          key,
          (r = { ...emptyModelRow(plan(m), whole ? '' : m.provider, whole ? '' : m.model), seen: new Set() }),
        );
      }
      r.seen.add(u.userId);
      for (const k of SUMMED) r[k] += m[k];
    }
  const out = [...rows.values()].map(({ seen, ...r }) => ({ ...r, users: seen.size }));
  const group = new Map<string, { requests: number; costUsd8: number }>();
  for (const r of out) {
    const g = group.get(r.plan) ?? { requests: 0, costUsd8: 0 };
    g.requests += r.requests;
    g.costUsd8 += r.costUsd8;
    group.set(r.plan, g);
  }
  for (const r of out) {
    const g = group.get(r.plan)!;
    r.requestSharePct = share(r.requests, g.requests);
    r.costSharePct = share(r.costUsd8, g.costUsd8);
  }
  return out;
}
