import { describe, expect, it } from 'vitest';
import { badgeFor, BADGE_AMBER, BADGE_RED } from '../../../extension/lib/badge';
import { alertLine, fmtAgo, fmtUsd, periodDays, share } from '../../../extension/lib/format';
import { billingUrl, fetchUsage, isOpenableBillingUrl, BILLING_ENDPOINTS } from '../../../extension/lib/api';

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

  it('billing: opens the local Stripe stand-in (http on this machine) only when the API is on this machine too', async () => {
    const deps = (apiUrl: string, url: string) => ({ fetch: (async () => Response.json({ url })) as typeof fetch, apiUrl: async () => apiUrl, getToken: async () => 't' });
    const standIn = 'http://127.0.0.1:43121/checkout/cs_test_1';
    expect(await billingUrl(deps('http://127.0.0.1:8787', standIn), 'checkout')).toEqual({ ok: true, url: standIn });
    expect(await billingUrl(deps('https://api.redraft.app', standIn), 'checkout')).toEqual({ ok: false, message: 'The API returned a billing page that is not https (http://127.0.0.1:43121); it was not opened.' });
    expect(await billingUrl(deps('http://localhost:8787', 'http://example.com/portal/bps_1'), 'portal')).toMatchObject({ ok: false });
    expect(await billingUrl(deps('http://localhost:8787', ''), 'portal')).toEqual({ ok: false, message: 'The API did not return a billing page address.' });
  });

  it('billing URL rule: https anywhere; http only for localhost, 127.0.0.1 and [::1] with a local API; nothing else', () => {
    const local = 'http://127.0.0.1:8787';
    const prod = 'https://api.redraft.app';
    // https: always (production Stripe pages).
    expect(isOpenableBillingUrl('https://checkout.stripe.com/c/pay/cs_live_1', prod)).toBe(true);
    expect(isOpenableBillingUrl('https://billing.stripe.com/p/session/bps_1', local)).toBe(true);
    // http on a loopback host, with a loopback API (dev/test stand-in).
    for (const api of [local, 'http://localhost:8787', 'http://[::1]:8787']) {
      for (const url of ['http://127.0.0.1:4242/checkout/cs_1', 'http://localhost:4242/portal/bps_1', 'http://[::1]:4242/checkout/cs_1']) {
        expect(isOpenableBillingUrl(url, api), `${url} via ${api}`).toBe(true);
      }
    }
    // Production (an https API) still requires https, even for a loopback page.
    expect(isOpenableBillingUrl('http://127.0.0.1:4242/checkout/cs_1', prod)).toBe(false);
    expect(isOpenableBillingUrl('http://localhost/portal/bps_1', prod)).toBe(false);
    // http elsewhere, look-alike hosts, credentials, other schemes, garbage: never.
    for (const url of [
      'http://checkout.stripe.com/c/pay/cs_1',
      'http://127.0.0.1.evil.example/checkout',
      'http://localhost.evil.example/checkout',
      'http://evil.example/?next=http://127.0.0.1/',
      'http://127.0.0.1@evil.example/checkout',
      'http://user:pw@127.0.0.1:4242/checkout',
      'https://user:pw@checkout.stripe.com/',
      'javascript:alert(1)',
      'data:text/html,hi',
      'file:///etc/passwd',
      'chrome://settings',
      'ftp://127.0.0.1/',
      '//127.0.0.1/checkout',
      '',
      'not a url',
    ]) {
      expect(isOpenableBillingUrl(url, local), url).toBe(false);
    }
  });
});

describe('usage alert line', () => {
  const at = '2026-11-25T12:00:00.000Z';
  it('shows the latest threshold reached this period, none without alerts', () => {
    expect(alertLine([], 'free')).toBeNull();
    expect(alertLine(undefined, 'free')).toBeNull();
    expect(alertLine([{ threshold: 50, at }], 'free')).toBe("You've used 50% of your included tokens this period.");
    expect(alertLine([{ threshold: 50, at }, { threshold: 80, at }], 'pro')).toBe("You've used 80% of your included tokens this period.");
    expect(alertLine([{ threshold: 50, at }, { threshold: 80, at }, { threshold: 100, at }], 'free')).toBe("You've used all your included tokens this period.");
    expect(alertLine([{ threshold: 100, at }], 'pro')).toBe("You've used all your included tokens this period; more is billed as overage.");
  });
});
