/**
 * Plans: the one place that says how many tokens each plan gets per billing period.
 * Free users have a hard cap. Pro users have an included allowance and may go over it,
 * billed as overage, up to a spending cap (a user-level override may lower or raise it).
 */
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
}

export type PlanId = 'free' | 'pro';

const PRO_OVERAGE_USD_PER_1K = 0.002;
/** Default spending cap on overage for a Pro user, in USD per period. */
export const PRO_DEFAULT_OVERAGE_CAP_USD = 50;

export const PLANS: Record<PlanId, Plan> = {
  free: { id: 'free', includedTokens: 20_000, hardCapTokens: 20_000, overageUsdPer1k: 0, baseUsdPerMonth: 0 },
  pro: {
    id: 'pro',
    includedTokens: 500_000,
    hardCapTokens: 500_000 + Math.floor((PRO_DEFAULT_OVERAGE_CAP_USD / PRO_OVERAGE_USD_PER_1K) * 1000),
    overageUsdPer1k: PRO_OVERAGE_USD_PER_1K,
    baseUsdPerMonth: 20,
  },
};

export function planOf(id: string | undefined | null): Plan {
  return id === 'pro' ? PLANS.pro : PLANS.free;
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
export function unprofitableOverage(model: { inputUsdPer1k: number; outputUsdPer1k: number }, plans: Plan[] = Object.values(PLANS)): Plan[] {
  const costPer1k = Math.max(model.inputUsdPer1k, model.outputUsdPer1k);
  return plans.filter((p) => p.overageUsdPer1k > 0 && p.overageUsdPer1k < costPer1k);
}
