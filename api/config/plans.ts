/**
 * Plans: the one place that says how many tokens each plan gets per billing period.
 * Free users have a hard cap. Pro users have an included allowance and may go over it,
 * billed as overage, up to a spending cap (a user-level override may lower or raise it).
 */
import type { ModelRoutes } from './models';

export interface Plan {
  id: PlanId;
  /** Tokens included in the base price per period. */
  includedTokens: number;
  /** Tokens after which requests are refused (402). */
  hardCapTokens: number;
  /** USD per 1,000 tokens above the included allowance; 0 when overage is not allowed. */
  overageUsdPer1k: number;
  /** Base price in USD per month. */
  baseUsdPerMonth: number;
  /** The highest overage spending cap a user of this plan may set, in USD per period (also the default); 0 = no overage. */
  maxOverageCapUsd: number;
}

export type PlanId = 'free' | 'pro';

const PRO_OVERAGE_USD_PER_1K = 0.002;
/** Default spending cap on overage for a Pro user, in USD per period. */
export const PRO_DEFAULT_OVERAGE_CAP_USD = 50;

export const PLANS: Record<PlanId, Plan> = {
  free: {
    id: 'free',
    includedTokens: 20_000,
    hardCapTokens: 20_000,
    overageUsdPer1k: 0,
    baseUsdPerMonth: 0,
    maxOverageCapUsd: 0,
  },
  pro: {
    id: 'pro',
    includedTokens: 500_000,
    hardCapTokens: 500_000 + Math.floor((PRO_DEFAULT_OVERAGE_CAP_USD / PRO_OVERAGE_USD_PER_1K) * 1000),
    overageUsdPer1k: PRO_OVERAGE_USD_PER_1K,
    baseUsdPerMonth: 20,
    maxOverageCapUsd: PRO_DEFAULT_OVERAGE_CAP_USD,
  },
};

/**
 * The models each plan runs, tried in order (the next one serves when the one before fails before its first
 * token), optionally per action. MODEL_ROUTES replaces these (api/config/sections.ts); every model named must
 * have a price (api/config/model-prices.ts) and its provider configured, checked at start-up.
 */
export const PLAN_MODELS: ModelRoutes = {
  free: { default: ['openai/gpt-4o-mini', 'openai/gpt-4.1-nano'] },
  pro: { default: ['openai/gpt-4.1-mini', 'openai/gpt-4o-mini'] },
};

export function planOf(id: string | undefined | null): Plan {
  return id === 'pro' ? PLANS.pro : PLANS.free;
}

/**
 * Overage tokens one US cent buys on a plan (0 without overage). Integral for our prices ($0.002 per 1K →
 * 5,000), so a cap in cents converts to tokens exactly, in Lua as here (tests/unit/plans-prices.test.ts).
 */
export function overageTokensPerCent(plan: Plan): number {
  return plan.overageUsdPer1k > 0 ? Math.round(10 / plan.overageUsdPer1k) : 0;
}

/** What the quota hash says about a user's cap (see api/metering/quota.lua.ts). */
export interface CapFields {
  /** Operator's override of the hard cap, in tokens. */
  capOverride: number | null;
  /** The user's own overage spending cap, in US cents (PUT /v1/settings); applies only on plans with overage. */
  overageCapCents: number | null;
  /** A payment failed: no overage until it is paid. */
  pastDue: boolean;
}

/**
 * The hard cap in tokens: the plan's (or the operator's override), lowered to the included allowance plus
 * the user's spending cap when they set one, and to the included allowance while past due.
 * The same rule as capOf in api/metering/quota.lua.ts, which enforces it.
 */
export function hardCapOf(plan: Plan, f: CapFields): number {
  let cap = f.capOverride ?? plan.hardCapTokens;
  const perCent = overageTokensPerCent(plan);
  if (f.overageCapCents != null && perCent > 0) cap = Math.min(cap, plan.includedTokens + f.overageCapCents * perCent);
  if (f.pastDue) cap = Math.min(cap, plan.includedTokens);
  return cap;
}

/** Overage in tokens and its estimated price for a plan at a given usage. */
export function overage(plan: Plan, usedTokens: number): { tokens: number; usd: number } {
  const tokens = plan.overageUsdPer1k > 0 ? Math.max(0, usedTokens - plan.includedTokens) : 0;
  return { tokens, usd: Math.round((tokens / 1000) * plan.overageUsdPer1k * 1e6) / 1e6 };
}

/**
 * Plans whose overage price does not cover what the model costs us per token (its dearer, output price):
 * a heavy user of such a plan is served at a loss — the cross-subsidy the product promises to avoid.
 */
export function unprofitableOverage(
  model: { inputUsdPer1k: number; outputUsdPer1k: number },
  plans: Plan[] = Object.values(PLANS),
): Plan[] {
  const costPer1k = Math.max(model.inputUsdPer1k, model.outputUsdPer1k);
  return plans.filter((p) => p.overageUsdPer1k > 0 && p.overageUsdPer1k < costPer1k);
}

/** Overage per token in cents, as an exact decimal string: $0.002 per 1,000 tokens → "0.0002". */
export function overageCentsPerToken(usdPer1k: number): string {
  return String(Number(((usdPer1k * 100) / 1000).toPrecision(12)));
}
