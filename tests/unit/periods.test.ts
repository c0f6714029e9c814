import { describe, expect, it } from 'vitest';
import { addMonths, daysOfPeriod, monthlyPeriodAt, utcDay } from '../../api/metering/periods';

const t = (iso: string) => Date.parse(iso);

describe('billing periods', () => {
  it('adds calendar months and clamps the day to the target month', () => {
    expect(new Date(addMonths(t('2026-01-31T10:00:00Z'), 1)).toISOString()).toBe('2026-02-28T10:00:00.000Z');
    expect(new Date(addMonths(t('2028-01-31T10:00:00Z'), 1)).toISOString()).toBe('2028-02-29T10:00:00.000Z');
    expect(new Date(addMonths(t('2026-11-15T00:00:00Z'), 2)).toISOString()).toBe('2027-01-15T00:00:00.000Z');
    expect(new Date(addMonths(t('2026-03-31T00:00:00Z'), -1)).toISOString()).toBe('2026-02-28T00:00:00.000Z');
  });

  it('finds the period anchored at sign-up that contains now', () => {
    const anchor = t('2026-01-31T12:00:00Z');
    expect(monthlyPeriodAt(anchor, anchor)).toEqual({ start: anchor, end: t('2026-02-28T12:00:00Z') });
    expect(monthlyPeriodAt(anchor, t('2026-03-01T00:00:00Z'))).toEqual({
      start: t('2026-02-28T12:00:00Z'),
      end: t('2026-03-31T12:00:00Z'),
    });
    expect(monthlyPeriodAt(anchor, t('2026-03-31T11:59:59.999Z')).start).toBe(t('2026-02-28T12:00:00Z'));
    expect(monthlyPeriodAt(anchor, t('2026-03-31T12:00:00Z')).start).toBe(t('2026-03-31T12:00:00Z'));
    expect(monthlyPeriodAt(anchor, t('2027-02-10T00:00:00Z'))).toEqual({
      start: t('2027-01-31T12:00:00Z'),
      end: t('2027-02-28T12:00:00Z'),
    });
  });

  it('every period contains now and periods tile without gaps', () => {
    const anchor = t('2025-05-31T23:30:00Z');
    let prevEnd: number | undefined;
    for (let now = anchor; now < anchor + 3 * 365 * 86_400_000; now += 86_400_000 / 3) {
      const p = monthlyPeriodAt(anchor, now);
      expect(p.start).toBeLessThanOrEqual(now);
      expect(p.end).toBeGreaterThan(now);
      if (prevEnd !== undefined && p.start !== monthlyPeriodAt(anchor, now - 86_400_000 / 3).start)
        expect(p.start).toBe(prevEnd);
      prevEnd = p.end;
    }
  });

  it('lists the days of a period up to now', () => {
    const p = { start: t('2026-11-29T18:00:00Z'), end: t('2026-12-29T18:00:00Z') };
    expect(daysOfPeriod(p, t('2026-12-02T01:00:00Z'))).toEqual([
      '2026-11-29',
      '2026-11-30',
      '2026-12-01',
      '2026-12-02',
    ]);
    expect(daysOfPeriod(p, t('2027-05-01T00:00:00Z'))).toHaveLength(31);
    expect(utcDay(t('2026-12-31T23:59:59Z'))).toBe('2026-12-31');
  });
});
