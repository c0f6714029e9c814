/**
 * The toolbar badge for a usage balance, by the popup's own rule (usage-view.ts). Pure.
 * - Free: amber "NN%" from 80 % of the allowance, red "!" once nothing is left.
 * - Pro: nothing while within the included tokens or in normal (billed) overage; red "NN%" (the popup bar's
 *   percentage) when the spending cap is near (≥ 90 % of the hard cap); red "!" once it is reached.
 */
import { usageLevel, type Balance } from './usage-view';

export interface Badge {
  text: string;
  color: string;
  title: string;
}

export const BADGE_AMBER = '#b45309';
export const BADGE_RED = '#dc2626';

export function badgeFor(u: Balance | null): Badge {
  if (!u) return { text: '', color: BADGE_AMBER, title: 'Redraft: sign in to see your balance' };
  const fmt = (n: number) => n.toLocaleString('en-US');
  const level = usageLevel(u);
  const base =
    level.phase === 'overage'
      ? `Redraft (${u.plan}): ${fmt(u.overageTokens)} tokens over the included ${fmt(u.includedTokens)}, ${fmt(u.remainingTokens)} left before your spending cap`
      : level.phase === 'included'
        ? `Redraft (${u.plan}): ${fmt(u.usedTokens)} of ${fmt(u.includedTokens)} included tokens used, ${fmt(u.includedTokens - u.usedTokens)} included left`
        : `Redraft (${u.plan}): ${fmt(u.usedTokens)} of ${fmt(u.hardCapTokens)} tokens used, ${fmt(u.remainingTokens)} left`;
  if (u.hardCapTokens <= 0) return { text: '', color: BADGE_AMBER, title: `${base}.` };
  if (level.blocked)
    return {
      text: '!',
      color: BADGE_RED,
      title: `${base}. ${level.hasOverage ? 'The spending cap is reached.' : 'Nothing left this period.'}`,
    };
  if (level.capNear)
    return { text: `${level.bar.pct}%`, color: BADGE_RED, title: `${base}. The spending cap is near.` };
  if (level.tone === 'warn') return { text: `${level.bar.pct}%`, color: BADGE_AMBER, title: `${base}.` };
  return { text: '', color: BADGE_AMBER, title: `${base}.` };
}
