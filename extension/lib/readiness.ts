/**
 * What blocks a rewrite, known before the click: signed out, no tokens left this period, or a selection
 * longer than the API takes. The toolbar says so in place of a Try again that cannot succeed. Pure: the
 * last usage answer and the selection's length in, a sentence and the next step out. A usage answer that
 * could not be fetched blocks nothing (the API still decides, and explains).
 */
import { fmtDate, fmtInt } from './format';
import type { UsageResult } from './protocol';

export type Block =
  | { kind: 'signed_out'; sentence: string; next: 'sign_in' }
  | { kind: 'no_tokens'; sentence: string; next: 'upgrade' | 'popup'; upgradeLabel: string | null }
  | { kind: 'too_long'; sentence: string; next: null };

/** "Upgrade · $20/month for 500,000 tokens" from the usage answer's offer. */
export const upgradeLabel = (usage: Extract<UsageResult, { ok: true }>['usage']): string | null =>
  usage.proPlan
    ? `Upgrade · $${usage.proPlan.monthlyPriceUsd}/month for ${fmtInt(usage.proPlan.includedTokens)} tokens`
    : null;

export function blockFor(usage: UsageResult | null, textChars: number): Block | null {
  if (!usage) return null;
  if (!usage.ok)
    return usage.status === 401
      ? { kind: 'signed_out', sentence: 'Sign in to Redraft to rewrite text.', next: 'sign_in' }
      : null;
  const u = usage.usage;
  const max = u.limits?.maxTextChars;
  if (max !== undefined && textChars > max) {
    return {
      kind: 'too_long',
      sentence: `This selection is ${fmtInt(textChars)} characters; Redraft takes up to ${fmtInt(max)}. Select a shorter passage.`,
      next: null,
    };
  }
  if (u.remainingTokens <= 0) {
    const canUpgrade = u.billing?.canUpgrade === true;
    return {
      kind: 'no_tokens',
      sentence: `You have used all your tokens for this period; they come back on ${fmtDate(u.period.end)}.`,
      next: canUpgrade ? 'upgrade' : 'popup',
      upgradeLabel: canUpgrade ? upgradeLabel(u) : null,
    };
  }
  return null;
}
