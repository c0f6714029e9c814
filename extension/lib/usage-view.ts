/**
 * What the popup and the toolbar badge say about a balance, decided in one place (pure, unit-tested), so the
 * headline, the bar, its percentage, the colour and the badge always agree.
 *
 * - Free (no overage): the headline is the tokens left; the bar is the share used; amber from 80 %, red once
 *   nothing is left.
 * - Pro, within the included allowance: the headline is what is left *of the included* tokens (not of the
 *   spending cap), the bar is the share of the included tokens used. Calm: running into overage is normal.
 * - Pro, in overage: the headline is the overage so far and its cost ("12,400 tokens over the included 500,000 ·
 *   $0.0248 so far"), the bar the share of the overage the spending cap allows. Calm too.
 * - Red only when the spending cap is near (≥ 90 % of the hard cap) or reached (nothing left).
 */
import { fmtInt, fmtUsd, share } from './format';
import type { UsageResponse } from '../../shared/contract';

/** The balance fields of GET /v1/usage the view reads (the contract's own type, not a copy that could drift). */
export type Balance = Pick<
  UsageResponse,
  | 'plan'
  | 'usedTokens'
  | 'includedTokens'
  | 'remainingTokens'
  | 'hardCapTokens'
  | 'overageTokens'
  | 'estimatedOverageUsd'
>;

/** ok: calm (the brand colour); warn: amber (free allowance nearly used); danger: red (blocked, or the cap is near). */
export type Tone = 'ok' | 'warn' | 'danger';

/** Used ≥ this share of the hard cap: the spending cap is near. */
export const CAP_NEAR = 0.9;
/** Free: amber from this share of the allowance. */
export const FREE_WARN = 0.8;

export interface UsageLevel {
  /** The plan allows overage (the hard cap is above the included allowance). */
  hasOverage: boolean;
  /** 'allowance': no overage possible; 'included': overage possible, not reached; 'overage': past the included tokens. */
  phase: 'allowance' | 'included' | 'overage';
  /** Nothing left: requests are refused until the period resets (or the cap is raised). */
  blocked: boolean;
  /** Overage plan, not blocked, used ≥ 90 % of the hard cap. */
  capNear: boolean;
  tone: Tone;
  /** What the bar shows, and its percentage (floored, 0–100): the same number everywhere. */
  bar: { value: number; max: number; share: number; pct: number };
}

export function usageLevel(u: Balance): UsageLevel {
  const hasOverage = u.hardCapTokens > u.includedTokens;
  const blocked = u.remainingTokens <= 0;
  const capNear = hasOverage && !blocked && u.usedTokens >= CAP_NEAR * u.hardCapTokens;
  const phase = !hasOverage ? 'allowance' : u.usedTokens < u.includedTokens ? 'included' : 'overage';
  const bar =
    phase === 'allowance'
      ? { value: u.usedTokens, max: u.hardCapTokens }
      : phase === 'included'
        ? { value: u.usedTokens, max: u.includedTokens }
        : { value: Math.max(0, u.usedTokens - u.includedTokens), max: u.hardCapTokens - u.includedTokens };
  const s = blocked ? 1 : share(bar.value, bar.max);
  const tone: Tone = blocked || capNear ? 'danger' : phase === 'allowance' && s >= FREE_WARN ? 'warn' : 'ok';
  return { hasOverage, phase, blocked, capNear, tone, bar: { ...bar, share: s, pct: Math.floor(s * 100) } };
}

export interface UsageView extends UsageLevel {
  /** The big number and the words after it. */
  headline: { value: number; text: string };
  /** Overage phase: "$0.25 so far". */
  cost: string | null;
  /** The bar's caption (its percentage is `bar.pct`). */
  barLabel: string;
  /** Accessible name of the bar. */
  barName: string;
  /** What comes after the included tokens (Pro, within them), or null. */
  then: string | null;
  /** A warning when the cap is near or reached, or null. */
  note: string | null;
}

/**
 * The popup's words for a balance. `overageUsdPer1k` is the plan's overage price as the API states it
 * (`proPlan` for a Pro user), or null when unknown: then no price is shown.
 */
export function usageView(u: Balance, opts: { overageUsdPer1k?: number | null; resetsOn?: string } = {}): UsageView {
  const level = usageLevel(u);
  const { phase, bar } = level;
  const inc = fmtInt(u.includedTokens);
  const left = fmtInt(u.remainingTokens);
  const reset = opts.resetsOn ? ` on ${opts.resetsOn}` : '';
  const rate = opts.overageUsdPer1k != null && opts.overageUsdPer1k > 0 ? fmtRate(opts.overageUsdPer1k) : null;

  if (phase === 'allowance') {
    return {
      ...level,
      headline: { value: u.remainingTokens, text: `tokens left of ${fmtInt(u.hardCapTokens)}` },
      cost: null,
      barLabel: `${fmtInt(u.usedTokens)} of ${fmtInt(u.hardCapTokens)} used (${bar.pct}%)`,
      barName: 'Tokens used this period',
      then: null,
      note: level.blocked ? `No tokens left this period: rewrites resume when it resets${reset}.` : null,
    };
  }

  const capRoom = fmtInt(u.hardCapTokens - u.includedTokens);
  const near = level.capNear
    ? `Close to your spending cap: ${left} tokens left this period, then rewrites stop until it resets${reset}.`
    : null;
  const reached = level.blocked
    ? `Spending cap reached: rewrites stop until the period resets${reset}, or raise your cap.`
    : null;

  if (phase === 'included') {
    return {
      ...level,
      headline: { value: Math.max(0, u.includedTokens - u.usedTokens), text: `tokens left of the included ${inc}` },
      cost: null,
      barLabel: `${fmtInt(u.usedTokens)} of ${inc} included used (${bar.pct}%)`,
      barName: 'Included tokens used this period',
      then: `Then ${rate ? `${rate} per 1,000 tokens` : 'billed as overage'}, up to ${capRoom} more (your spending cap).`,
      note: reached ?? near,
    };
  }

  return {
    ...level,
    headline: { value: u.overageTokens, text: `tokens over the included ${inc}` },
    cost: `${fmtUsd(u.estimatedOverageUsd)} so far`,
    barLabel: `${bar.pct}% of your spending cap used · ${left} tokens left`,
    barName: 'Spending cap used this period',
    then: null,
    note: reached ?? near,
  };
}

/** A per-unit price: "$0.002" (no padding), "$20", "$12.50". */
export function fmtRate(usd: number): string {
  if (Number.isInteger(usd)) return `$${usd}`;
  return usd >= 0.01 ? `$${usd.toFixed(2)}` : `$${Number(usd.toPrecision(6))}`;
}
