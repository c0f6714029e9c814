import { describe, expect, it } from 'vitest';
import { badgeFor, BADGE_AMBER, BADGE_RED } from '../../../extension/lib/badge';
import { fmtAgo, fmtUsd, periodDays, share } from '../../../extension/lib/format';
import { billingUrl, fetchUsage, BILLING_ENDPOINTS } from '../../../extension/lib/api';

const u = (used: number, included = 20_000) => ({ usedTokens: used, includedTokens: included, remainingTokens: Math.max(0, included - used), plan: 'free' });

describe('badge', () => {
  it('nothing below 80%, amber percentage from 80%, red ! from 100% of the included tokens', () => {
    expect(badgeFor(u(15_999)).text).toBe('');
    expect(badgeFor(u(16_000))).toMatchObject({ text: '80%', color: BADGE_AMBER });
    expect(badgeFor(u(19_999))).toMatchObject({ text: '99%', color: BADGE_AMBER });
    expect(badgeFor(u(20_000))).toMatchObject({ text: '!', color: BADGE_RED });
    expect(badgeFor({ ...u(600_000, 500_000), plan: 'pro' })).toMatchObject({ text: '!', title: expect.stringContaining('600,000 of 500,000') });
    expect(badgeFor(null).text).toBe('');
  });
});

describe('popup formatting', () => {
  it('pads the daily chart to the whole period, marking future days', () => {
    const days = periodDays({ start: '2026-11-25T10:00:00.000Z', end: '2026-12-25T10:00:00.000Z' }, [
      { date: '2026-11-25', tokens: 10 },
      { date: '2026-11-26', tokens: 0 },
      { date: '2026-11-27', tokens: 30 },
    ]);
    expect(days).toHaveLength(31);
    expect(days[0]).toEqual({ date: '2026-11-25', tokens: 10, future: false });
    expect(days[2]).toEqual({ date: '2026-11-27', tokens: 30, future: false });
    expect(days[3]).toEqual({ date: '2026-11-28', tokens: 0, future: true });
    expect(days.at(-1)!.date).toBe('2026-12-25');
  });

  it('small formatters', () => {
    const now = Date.parse('2026-11-25T12:00:00Z');
    expect(fmtAgo('2026-11-25T11:59:50Z', now)).toBe('just now');
    expect(fmtAgo('2026-11-25T11:55:00Z', now)).toBe('5 min ago');
    expect(fmtAgo('2026-11-25T09:00:00Z', now)).toBe('3 h ago');
    expect(fmtAgo('2026-11-24T12:00:00Z', now)).toBe('1 day ago');
    expect(fmtUsd(0)).toBe('$0.00');
    expect(fmtUsd(0.004)).toBe('$0.0040');
    expect(fmtUsd(12.5)).toBe('$12.50');
    expect(share(5, 0)).toBe(0);
    expect(share(30, 20)).toBe(1);
  });
});

describe('background API client', () => {
  const usage = { plan: 'free', period: { start: 'a', end: 'b' }, usedTokens: 1, includedTokens: 2, remainingTokens: 1, hardCapTokens: 2, overageTokens: 0, estimatedOverageUsd: 0, rateLimit: { limit: 1, remaining: 1, resetAt: 'c' }, daily: [], recent: [] };

  it('fetches usage with the token, retrying a 401 with a fresh one', async () => {
    const seen: string[] = [];
    const fetch = (async (url: string, init: RequestInit) => {
      const auth = (init.headers as Record<string, string>).Authorization!;
      seen.push(`${url} ${auth}`);
      return auth === 'Bearer fresh' ? Response.json(usage) : Response.json({ error: { code: 'unauthenticated', message: 'expired' } }, { status: 401 });
    }) as typeof globalThis.fetch;
    const r = await fetchUsage({ fetch, apiUrl: async () => 'http://api.test', getToken: async (fresh) => (fresh ? 'fresh' : 'stale') }, () => new Date('2026-11-25T00:00:00Z'));
    expect(r).toEqual({ ok: true, usage, fetchedAt: '2026-11-25T00:00:00.000Z' });
    expect(seen).toEqual(['http://api.test/v1/usage Bearer stale', 'http://api.test/v1/usage Bearer fresh']);
  });

  it('reports signed out, API errors and odd shapes', async () => {
    const deps = (res: () => Response, token: string | null = 't') => ({ fetch: (async () => res()) as typeof fetch, apiUrl: async () => 'http://api.test', getToken: async () => token });
    expect(await fetchUsage(deps(() => Response.json(usage), null))).toMatchObject({ ok: false, status: 401, code: 'unauthenticated' });
    expect(await fetchUsage(deps(() => Response.json({ error: { code: 'metering_unavailable', message: 'down' } }, { status: 503 })))).toEqual({ ok: false, status: 503, code: 'metering_unavailable', message: 'down' });
    expect(await fetchUsage(deps(() => Response.json({ hello: 1 })))).toMatchObject({ ok: false, code: 'bad_response' });
  });

  it('billing: POSTs to the endpoint and only ever opens an https URL', async () => {
    const calls: string[] = [];
    const deps = (body: unknown) => ({ fetch: (async (url: string, init: RequestInit) => (calls.push(`${init.method} ${url}`), Response.json(body))) as typeof fetch, apiUrl: async () => 'http://api.test', getToken: async () => 't' });
    expect(await billingUrl(deps({ url: 'https://checkout.stripe.com/c/pay/cs_test' }), 'checkout')).toEqual({ ok: true, url: 'https://checkout.stripe.com/c/pay/cs_test' });
    expect(calls).toEqual([`POST http://api.test${BILLING_ENDPOINTS.checkout}`]);
    expect(await billingUrl(deps({ url: 'javascript:alert(1)' }), 'portal')).toMatchObject({ ok: false });
  });
});
