/** Small pure formatters shared by the popup and options page. */
import type { UsageAlert } from '../../shared/contract';

export const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');

export const fmtUsd = (n: number) => `$${n.toFixed(n > 0 && n < 0.01 ? 4 : 2)}`;

export const fmtDate = (iso: string) =>
  new Date(iso).toLocaleDateString('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' });

export function fmtAgo(iso: string, now: number = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 45) return 'just now';
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} h ago`;
  const d = Math.round(h / 24);
  return `${d} day${d === 1 ? '' : 's'} ago`;
}

/** Share of a bar, clamped to [0, 1]. */
export const share = (part: number, whole: number) => (whole > 0 ? Math.max(0, Math.min(1, part / whole)) : 0);

export interface ChartDay {
  date: string;
  tokens: number;
  /** Not reached yet in this period. */
  future: boolean;
}

/** Every UTC day of the period (start … end), with the API's daily totals; days after the last reported one are future. */
export function periodDays(
  period: { start: string; end: string },
  daily: { date: string; tokens: number }[],
): ChartDay[] {
  const byDate = new Map(daily.map((d) => [d.date, d.tokens]));
  const lastReported = daily.length > 0 ? daily[daily.length - 1]!.date : '';
  const start = new Date(period.start);
  const end = Date.parse(period.end);
  const days: ChartDay[] = [];
  for (
    let t = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate());
    t < end && days.length < 400;
    t += 86_400_000
  ) {
    const date = new Date(t).toISOString().slice(0, 10);
    days.push({ date, tokens: byDate.get(date) ?? 0, future: date > lastReported });
  }
  return days.length > 0 ? days : daily.map((d) => ({ ...d, future: false }));
}

/**
 * The popup's line for the latest usage alert of the period (the API lists thresholds of the included
 * allowance reached, oldest first), or null when none was reached.
 */
export function alertLine(alerts: readonly UsageAlert[] | undefined, plan: string): string | null {
  const latest = alerts?.at(-1);
  if (!latest) return null;
  if (latest.threshold < 100) return `You've used ${latest.threshold}% of your included tokens this period.`;
  return plan === 'pro'
    ? "You've used all your included tokens this period; more is billed as overage."
    : "You've used all your included tokens this period.";
}
