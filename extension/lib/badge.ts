/** The toolbar badge for a usage balance: amber "NN%" from 80% of the included tokens, red "!" from 100%. Pure. */
export interface Badge {
  text: string;
  color: string;
  title: string;
}

export const BADGE_AMBER = '#d97706';
export const BADGE_RED = '#dc2626';

export function badgeFor(u: { usedTokens: number; includedTokens: number; remainingTokens: number; plan: string } | null): Badge {
  if (!u) return { text: '', color: BADGE_AMBER, title: 'Redraft: sign in to see your balance' };
  const fmt = (n: number) => n.toLocaleString('en-US');
  const base = `Redraft (${u.plan}): ${fmt(u.usedTokens)} of ${fmt(u.includedTokens)} included tokens used, ${fmt(u.remainingTokens)} left`;
  if (u.includedTokens <= 0) return { text: '', color: BADGE_AMBER, title: base };
  const ratio = u.usedTokens / u.includedTokens;
  if (ratio >= 1) return { text: '!', color: BADGE_RED, title: `${base}. The included allowance is used up.` };
  if (ratio >= 0.8) return { text: `${Math.floor(ratio * 100)}%`, color: BADGE_AMBER, title: `${base}.` };
  return { text: '', color: BADGE_AMBER, title: `${base}.` };
}
