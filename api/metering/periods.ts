/**
 * Billing periods. Paid users follow their Stripe subscription item's current period; free users get
 * a monthly period anchored at the moment they were first seen (their sign-up, as far as we know).
 * Pure date arithmetic in UTC, no I/O.
 */
export interface Period {
  /** Inclusive start, epoch ms. */
  start: number;
  /** Exclusive end, epoch ms. */
  end: number;
}

/** `anchor` plus `months` calendar months, clamping the day to the target month's length (Jan 31 + 1 month = Feb 28/29). */
export function addMonths(anchor: number, months: number): number {
  const d = new Date(anchor);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + months;
  const targetYear = y + Math.floor(m / 12);
  const targetMonth = ((m % 12) + 12) % 12;
  const daysInTarget = new Date(Date.UTC(targetYear, targetMonth + 1, 0)).getUTCDate();
  const day = Math.min(d.getUTCDate(), daysInTarget);
  return Date.UTC(
    targetYear,
    targetMonth,
    day,
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
    d.getUTCMilliseconds(),
  );
}

/** The monthly period anchored at `anchor` that contains `now` (now ≥ anchor; earlier times get the first period). */
export function monthlyPeriodAt(anchor: number, now: number): Period {
  if (now < anchor) return { start: anchor, end: addMonths(anchor, 1) };
  const a = new Date(anchor);
  const n = new Date(now);
  let k = (n.getUTCFullYear() - a.getUTCFullYear()) * 12 + (n.getUTCMonth() - a.getUTCMonth());
  // Step back or forward so that start(k) <= now < start(k+1); at most one step each way.
  while (k > 0 && addMonths(anchor, k) > now) k--;
  while (addMonths(anchor, k + 1) <= now) k++;
  return { start: addMonths(anchor, k), end: addMonths(anchor, k + 1) };
}

/** UTC calendar date (YYYY-MM-DD) used for the daily usage chart. */
export function utcDay(at: number): string {
  return new Date(at).toISOString().slice(0, 10);
}

/** Every UTC date from the period's start up to `until` (inclusive), for a chart with no gaps. */
export function daysOfPeriod(period: Period, until: number): string[] {
  const days: string[] = [];
  const last = Math.min(until, period.end - 1);
  for (
    let t = Date.UTC(
      new Date(period.start).getUTCFullYear(),
      new Date(period.start).getUTCMonth(),
      new Date(period.start).getUTCDate(),
    );
    t <= last;
    t += 86_400_000
  ) {
    days.push(utcDay(t));
  }
  return days;
}

/** What the quota hash knows when a period has ended and no webhook has moved it on yet. */
export interface EndedPeriod {
  plan: 'free' | 'pro';
  /** The monthly anchor: first sight for free users, the Stripe billing cycle anchor for paid ones. */
  anchor: number;
  end: number;
  /** The subscription is set to cancel when this period ends. */
  cancelAtEnd: boolean;
  /** A Stripe webhook confirmed this (paid) period. */
  confirmed: boolean;
}

/**
 * The period (and plan) that follows an ended one, when no webhook has said otherwise yet.
 * - Paid users roll monthly from their Stripe billing cycle anchor: the same calendar arithmetic Stripe
 *   uses for a monthly price, so the guess matches the renewal the webhook will confirm.
 * - A subscription set to cancel at period end becomes free, in a monthly period anchored at that end.
 * - A paid period that Stripe never confirmed (its renewal event never came) is not guessed again: the
 *   user becomes free, so a lost cancellation event grants at most one unconfirmed month.
 * - Free users roll monthly from first sight.
 */
export function periodAfter(ended: EndedPeriod, now: number): { plan: 'free' | 'pro'; period: Period; anchor: number } {
  if (ended.plan === 'pro' && (ended.cancelAtEnd || !ended.confirmed))
    return { plan: 'free', period: monthlyPeriodAt(ended.end, now), anchor: ended.end };
  return { plan: ended.plan, period: monthlyPeriodAt(ended.anchor, now), anchor: ended.anchor };
}
