import { describe, expect, it } from 'vitest';
import { badgeFor, BADGE_AMBER, BADGE_RED } from '../../../extension/lib/badge';
import { alertLine, fmtAgo, fmtUsd, periodDays, share } from '../../../extension/lib/format';
import {
  billingUrl,
  fetchSettings,
  fetchUsage,
  isOpenableBillingUrl,
  parseCapInput,
  saveOverageCap,
  BILLING_ENDPOINTS,
  SETTINGS_ENDPOINT,
} from '../../../extension/lib/api';
import { fmtRate, usageLevel, usageView } from '../../../extension/lib/usage-view';

const PRO = { plan: 'pro', includedTokens: 500_000, hardCapTokens: 25_500_000 };
/** A balance as GET /v1/usage states it (free: cap = included, no overage price). */
const bal = (
  used: number,
  p: { plan: string; includedTokens: number; hardCapTokens: number; usdPer1k?: number } = {
    plan: 'free',
    includedTokens: 20_000,
    hardCapTokens: 20_000,
  },
) => {
  const overageTokens = p.hardCapTokens > p.includedTokens ? Math.max(0, used - p.includedTokens) : 0;
  return {
    plan: p.plan,
    usedTokens: used,
    includedTokens: p.includedTokens,
    hardCapTokens: p.hardCapTokens,
    remainingTokens: Math.max(0, p.hardCapTokens - used),
    overageTokens,
    estimatedOverageUsd: (overageTokens / 1000) * (p.usdPer1k ?? 0.002),
  };
};
const u = (used: number, included = 20_000) =>
  bal(used, { plan: 'free', includedTokens: included, hardCapTokens: included });

describe('badge', () => {
  it('free: nothing below 80%, amber percentage from 80%, red ! once nothing is left', () => {
    expect(badgeFor(u(15_999)).text).toBe('');
    expect(badgeFor(u(16_000))).toMatchObject({ text: '80%', color: BADGE_AMBER });
    expect(badgeFor(u(19_999))).toMatchObject({ text: '99%', color: BADGE_AMBER });
    expect(badgeFor(u(20_000))).toMatchObject({
      text: '!',
      color: BADGE_RED,
      title: expect.stringContaining('20,000 of 20,000 tokens used, 0 left'),
    });
    expect(badgeFor(null).text).toBe('');
  });

  it('pro: nothing near the end of the included tokens nor in normal paid overage; red only when the spending cap is near or reached', () => {
    expect(badgeFor(bal(450_000, PRO))).toMatchObject({
      text: '',
      title: expect.stringContaining('450,000 of 500,000 included tokens used, 50,000 included left'),
    });
    expect(badgeFor(bal(500_000, PRO)).text).toBe('');
    // 600,000 used: 100,000 over the included tokens, billed as usual — no alarm (it used to be a red "!").
    expect(badgeFor(bal(600_000, PRO))).toMatchObject({
      text: '',
      title: expect.stringContaining('100,000 tokens over the included 500,000'),
    });
    expect(badgeFor(bal(22_949_999, PRO)).text).toBe('');
    // ≥ 90% of the hard cap: red, with the popup bar's percentage (share of the overage the cap allows).
    expect(badgeFor(bal(22_950_000, PRO))).toMatchObject({
      text: '89%',
      color: BADGE_RED,
      title: expect.stringContaining('spending cap is near'),
    });
    expect(badgeFor(bal(25_499_999, PRO))).toMatchObject({ text: '99%', color: BADGE_RED });
    expect(badgeFor(bal(25_500_000, PRO))).toMatchObject({
      text: '!',
      color: BADGE_RED,
      title: expect.stringContaining('spending cap is reached'),
    });
  });

  it('pro with a low cap of their own, or capped at the included tokens (past due): the same rule on that cap', () => {
    const lowCap = { plan: 'pro', includedTokens: 500_000, hardCapTokens: 1_000_000 }; // $1 of overage
    expect(badgeFor(bal(899_999, lowCap)).text).toBe('');
    expect(badgeFor(bal(900_000, lowCap))).toMatchObject({ text: '80%', color: BADGE_RED });
    const pastDue = { plan: 'pro', includedTokens: 500_000, hardCapTokens: 500_000 };
    expect(badgeFor(bal(400_000, pastDue))).toMatchObject({ text: '80%', color: BADGE_AMBER });
    expect(badgeFor(bal(500_000, pastDue))).toMatchObject({ text: '!', color: BADGE_RED });
  });
});

describe('usage view (popup headline, bar, colour)', () => {
  it('free: tokens left is the headline, the bar the share used, no overage or cost anywhere', () => {
    const v = usageView(bal(16_400), { resetsOn: 'Dec 25' });
    expect(v).toMatchObject({
      phase: 'allowance',
      tone: 'warn',
      headline: { value: 3_600, text: 'tokens left of 20,000' },
      cost: null,
      then: null,
      note: null,
    });
    expect(v.bar).toEqual({ value: 16_400, max: 20_000, share: 0.82, pct: 82 });
    expect(v.barLabel).toBe('16,400 of 20,000 used (82%)');
    expect([v.headline.text, v.barLabel, v.barName].join(' ')).not.toMatch(/overage|\$/i);
    expect(usageView(bal(1_000)).tone).toBe('ok');
    const out = usageView(bal(20_000), { resetsOn: 'Dec 25' });
    expect(out).toMatchObject({
      tone: 'danger',
      blocked: true,
      note: 'No tokens left this period: rewrites resume when it resets on Dec 25.',
    });
    expect(out.bar.pct).toBe(100);
  });

  it('pro within the included tokens: the headline is the included tokens left (not the 25.5 M cap), calm, with what comes after', () => {
    const v = usageView(bal(120_000, PRO), { overageUsdPer1k: 0.002 });
    expect(v).toMatchObject({
      phase: 'included',
      tone: 'ok',
      headline: { value: 380_000, text: 'tokens left of the included 500,000' },
      cost: null,
      note: null,
    });
    expect(v.bar).toEqual({ value: 120_000, max: 500_000, share: 0.24, pct: 24 });
    expect(v.barLabel).toBe('120,000 of 500,000 included used (24%)');
    expect(v.then).toBe('Then $0.002 per 1,000 tokens, up to 25,000,000 more (your spending cap).');
    expect(usageView(bal(499_000, PRO)).tone).toBe('ok'); // near the end of the included tokens: still calm on Pro
    expect(usageView(bal(0, PRO)).then).toBe('Then billed as overage, up to 25,000,000 more (your spending cap).'); // no price stated: none shown
  });

  it('pro in overage: "N tokens over the included 500,000 · $x so far", the bar and its % are the share of the cap, calm', () => {
    const v = usageView(bal(512_400, PRO));
    expect(v).toMatchObject({
      phase: 'overage',
      tone: 'ok',
      headline: { value: 12_400, text: 'tokens over the included 500,000' },
      cost: '$0.02 so far',
      then: null,
      note: null,
    });
    expect(v.bar).toEqual({ value: 12_400, max: 25_000_000, share: 12_400 / 25_000_000, pct: 0 });
    expect(v.barLabel).toBe('0% of your spending cap used · 24,987,600 tokens left');
    expect(usageView(bal(625_000, PRO)).cost).toBe('$0.25 so far');
    // 113% of the included tokens: the bar no longer shows a percentage of something else.
    const over = usageView(bal(565_000, PRO));
    expect(over.bar.pct).toBe(Math.floor(over.bar.share * 100));
    expect(over.barLabel).not.toMatch(/113/);
  });

  it('red only when the cap is near (≥ 90% of the hard cap) or reached, with a sentence saying so', () => {
    const near = usageView(bal(23_000_000, PRO), { resetsOn: 'Dec 25' });
    expect(near).toMatchObject({
      tone: 'danger',
      capNear: true,
      note: 'Close to your spending cap: 2,500,000 tokens left this period, then rewrites stop until it resets on Dec 25.',
    });
    expect(near.bar.pct).toBe(90);
    const reached = usageView(bal(25_500_000, PRO), { resetsOn: 'Dec 25' });
    expect(reached).toMatchObject({
      tone: 'danger',
      blocked: true,
      note: 'Spending cap reached: rewrites stop until the period resets on Dec 25, or raise your cap.',
    });
    expect(reached.bar.pct).toBe(100);
  });

  it('bar percentage and bar share always agree, and stay within 0–100', () => {
    for (const used of [0, 1, 19_999, 20_000, 30_000]) {
      const v = usageView(bal(Math.min(used, 20_000)));
      expect(v.bar.pct).toBe(Math.floor(v.bar.share * 100));
    }
    for (const used of [0, 250_000, 499_999, 500_000, 565_000, 13_000_000, 25_499_999, 25_500_000, 26_000_000]) {
      const v = usageView(bal(used, PRO));
      expect(v.bar.pct).toBe(Math.floor(v.bar.share * 100));
      expect(v.bar.pct).toBeGreaterThanOrEqual(0);
      expect(v.bar.pct).toBeLessThanOrEqual(100);
      expect(usageLevel(bal(used, PRO)).tone).toBe(v.tone);
    }
  });

  it('prices without padding', () => {
    expect(fmtRate(20)).toBe('$20');
    expect(fmtRate(0.002)).toBe('$0.002');
    expect(fmtRate(12.5)).toBe('$12.50');
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
  const usage = {
    plan: 'free',
    period: { start: 'a', end: 'b' },
    usedTokens: 1,
    includedTokens: 2,
    remainingTokens: 1,
    hardCapTokens: 2,
    overageTokens: 0,
    estimatedOverageUsd: 0,
    rateLimit: { limit: 1, remaining: 1, resetAt: 'c' },
    daily: [],
    recent: [],
  };

  it('fetches usage with the token, retrying a 401 with a fresh one', async () => {
    const seen: string[] = [];
    const fetch = (async (url: string, init: RequestInit) => {
      const auth = (init.headers as Record<string, string>).Authorization!;
      seen.push(`${url} ${auth}`);
      return auth === 'Bearer fresh'
        ? Response.json(usage)
        : Response.json({ error: { code: 'unauthenticated', message: 'expired' } }, { status: 401 });
    }) as typeof globalThis.fetch;
    const r = await fetchUsage(
      { fetch, apiUrl: async () => 'http://api.test', getToken: async (fresh) => (fresh ? 'fresh' : 'stale') },
      () => new Date('2026-11-25T00:00:00Z'),
    );
    expect(r).toEqual({ ok: true, usage, fetchedAt: '2026-11-25T00:00:00.000Z' });
    expect(seen).toEqual(['http://api.test/v1/usage Bearer stale', 'http://api.test/v1/usage Bearer fresh']);
  });

  it('reports signed out, API errors and odd shapes', async () => {
    const deps = (res: () => Response, token: string | null = 't') => ({
      fetch: (async () => res()) as typeof fetch,
      apiUrl: async () => 'http://api.test',
      getToken: async () => token,
    });
    expect(await fetchUsage(deps(() => Response.json(usage), null))).toMatchObject({
      ok: false,
      status: 401,
      code: 'unauthenticated',
    });
    expect(
      await fetchUsage(
        deps(() => Response.json({ error: { code: 'metering_unavailable', message: 'down' } }, { status: 503 })),
      ),
    ).toEqual({ ok: false, status: 503, code: 'metering_unavailable', message: 'down' });
    expect(await fetchUsage(deps(() => Response.json({ hello: 1 })))).toMatchObject({
      ok: false,
      code: 'bad_response',
    });
  });

  it('billing: POSTs to the endpoint and only ever opens an https URL', async () => {
    const calls: string[] = [];
    const deps = (body: unknown) => ({
      fetch: (async (url: string, init: RequestInit) => (
        calls.push(`${init.method} ${url}`), Response.json(body)
      )) as typeof fetch,
      apiUrl: async () => 'http://api.test',
      getToken: async () => 't',
    });
    expect(await billingUrl(deps({ url: 'https://checkout.stripe.com/c/pay/cs_test' }), 'checkout')).toEqual({
      ok: true,
      url: 'https://checkout.stripe.com/c/pay/cs_test',
    });
    expect(calls).toEqual([`POST http://api.test${BILLING_ENDPOINTS.checkout}`]);
    expect(await billingUrl(deps({ url: 'javascript:alert(1)' }), 'portal')).toMatchObject({ ok: false });
  });

  it('billing: opens the local Stripe stand-in (http on this machine) only when the API is on this machine too', async () => {
    const deps = (apiUrl: string, url: string) => ({
      fetch: (async () => Response.json({ url })) as typeof fetch,
      apiUrl: async () => apiUrl,
      getToken: async () => 't',
    });
    const standIn = 'http://127.0.0.1:43121/checkout/cs_test_1';
    expect(await billingUrl(deps('http://127.0.0.1:8787', standIn), 'checkout')).toEqual({ ok: true, url: standIn });
    expect(await billingUrl(deps('https://api.redraft.app', standIn), 'checkout')).toEqual({
      ok: false,
      message: 'The API returned a billing page that is not https (http://127.0.0.1:43121); it was not opened.',
    });
    expect(await billingUrl(deps('http://localhost:8787', 'http://example.com/portal/bps_1'), 'portal')).toMatchObject({
      ok: false,
    });
    expect(await billingUrl(deps('http://localhost:8787', ''), 'portal')).toEqual({
      ok: false,
      message: 'The API did not return a billing page address.',
    });
  });

  it('billing URL rule: https anywhere; http only for localhost, 127.0.0.1 and [::1] with a local API; nothing else', () => {
    const local = 'http://127.0.0.1:8787';
    const prod = 'https://api.redraft.app';
    // https: always (production Stripe pages).
    expect(isOpenableBillingUrl('https://checkout.stripe.com/c/pay/cs_live_1', prod)).toBe(true);
    expect(isOpenableBillingUrl('https://billing.stripe.com/p/session/bps_1', local)).toBe(true);
    // http on a loopback host, with a loopback API (dev/test stand-in).
    for (const api of [local, 'http://localhost:8787', 'http://[::1]:8787']) {
      for (const url of [
        'http://127.0.0.1:4242/checkout/cs_1',
        'http://localhost:4242/portal/bps_1',
        'http://[::1]:4242/checkout/cs_1',
      ]) {
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
    expect(
      alertLine(
        [
          { threshold: 50, at },
          { threshold: 80, at },
        ],
        'pro',
      ),
    ).toBe("You've used 80% of your included tokens this period.");
    expect(
      alertLine(
        [
          { threshold: 50, at },
          { threshold: 80, at },
          { threshold: 100, at },
        ],
        'free',
      ),
    ).toBe("You've used all your included tokens this period.");
    expect(alertLine([{ threshold: 100, at }], 'pro')).toBe(
      "You've used all your included tokens this period; more is billed as overage.",
    );
  });
});

describe('spending cap client (GET/PUT /v1/settings)', () => {
  type Call = { method: string; url: string; auth: string; body?: unknown };
  const server = (answer: (c: Call) => Response) => {
    const calls: Call[] = [];
    const fetch = (async (url: string, init: RequestInit = {}) => {
      const c: Call = {
        method: init.method ?? 'GET',
        url,
        auth: (init.headers as Record<string, string>).Authorization!,
        ...(init.body ? { body: JSON.parse(init.body as string) } : {}),
      };
      calls.push(c);
      return answer(c);
    }) as typeof globalThis.fetch;
    return {
      calls,
      deps: {
        fetch,
        apiUrl: async () => 'http://api.test',
        getToken: async (fresh?: boolean) => (fresh ? 'fresh' : 't'),
      },
    };
  };

  it('reads the cap and the plan maximum', async () => {
    const s = server(() => Response.json({ plan: 'pro', overageCapUsd: null, maxOverageCapUsd: 50 }));
    expect(await fetchSettings(s.deps)).toEqual({ ok: true, settings: { overageCapUsd: null, maxOverageCapUsd: 50 } });
    expect(s.calls).toEqual([{ method: 'GET', url: `http://api.test${SETTINGS_ENDPOINT}`, auth: 'Bearer t' }]);
  });

  it('PUTs { overageCapUsd } (a number, or null for the plan maximum) and returns the new settings', async () => {
    const s = server((c) =>
      Response.json({
        plan: 'pro',
        overageCapUsd: (c.body as { overageCapUsd: number | null }).overageCapUsd,
        maxOverageCapUsd: 50,
      }),
    );
    expect(await saveOverageCap(s.deps, 12.5)).toEqual({
      ok: true,
      settings: { overageCapUsd: 12.5, maxOverageCapUsd: 50 },
    });
    expect(await saveOverageCap(s.deps, null)).toEqual({
      ok: true,
      settings: { overageCapUsd: null, maxOverageCapUsd: 50 },
    });
    expect(s.calls.map((c) => [c.method, c.url, c.body])).toEqual([
      ['PUT', 'http://api.test/v1/settings', { overageCapUsd: 12.5 }],
      ['PUT', 'http://api.test/v1/settings', { overageCapUsd: null }],
    ]);
  });

  it('an API without the endpoint (404) is "unsupported": the popup hides the control', async () => {
    const s = server(() =>
      Response.json({ error: { code: 'not_found', message: 'No route for GET /v1/settings.' } }, { status: 404 }),
    );
    expect(await fetchSettings(s.deps)).toMatchObject({ ok: false, status: 404, unsupported: true });
    expect(await saveOverageCap(s.deps, 5)).toMatchObject({ ok: false, status: 404, unsupported: true });
  });

  it('API refusals keep their sentence; a 401 is retried with a fresh token; odd shapes and network errors are reported', async () => {
    const refused = server(() =>
      Response.json(
        { error: { code: 'invalid_request', message: 'overageCapUsd must be at most 50' } },
        { status: 400 },
      ),
    );
    expect(await saveOverageCap(refused.deps, 60)).toEqual({
      ok: false,
      status: 400,
      code: 'invalid_request',
      message: 'overageCapUsd must be at most 50',
      unsupported: false,
    });
    const free = server(() =>
      Response.json(
        { error: { code: 'overage_not_available', message: 'The free plan has no overage.' } },
        { status: 403 },
      ),
    );
    expect(await saveOverageCap(free.deps, 5)).toMatchObject({
      ok: false,
      status: 403,
      code: 'overage_not_available',
      unsupported: false,
    });
    const expired = server((c) =>
      c.auth === 'Bearer fresh'
        ? Response.json({ overageCapUsd: 7, maxOverageCapUsd: 50 })
        : Response.json({ error: { code: 'unauthenticated', message: 'expired' } }, { status: 401 }),
    );
    expect(await fetchSettings(expired.deps)).toEqual({
      ok: true,
      settings: { overageCapUsd: 7, maxOverageCapUsd: 50 },
    });
    expect(expired.calls.map((c) => c.auth)).toEqual(['Bearer t', 'Bearer fresh']);
    expect(await fetchSettings(server(() => Response.json({ overageCapUsd: '7' })).deps)).toMatchObject({
      ok: false,
      code: 'bad_response',
    });
    expect(
      await fetchSettings(server(() => Response.json({ overageCapUsd: -1, maxOverageCapUsd: 50 })).deps),
    ).toMatchObject({ ok: false, code: 'bad_response' });
    const down = {
      fetch: (async () => {
        throw new TypeError('Failed to fetch');
      }) as typeof fetch,
      apiUrl: async () => 'http://api.test',
      getToken: async () => 't',
    };
    expect(await fetchSettings(down)).toMatchObject({ ok: false, status: 0, code: 'network', unsupported: false });
    expect(await fetchSettings({ ...down, getToken: async () => null })).toMatchObject({
      ok: false,
      status: 401,
      unsupported: false,
    });
  });

  it('parses what the user types: empty = the plan maximum, dollars with at most 2 decimals, within the maximum', () => {
    expect(parseCapInput('', 50)).toEqual({ ok: true, value: null });
    expect(parseCapInput(' 20 ', 50)).toEqual({ ok: true, value: 20 });
    expect(parseCapInput('$12.50', 50)).toEqual({ ok: true, value: 12.5 });
    expect(parseCapInput('0', 50)).toEqual({ ok: true, value: 0 });
    expect(parseCapInput('50', 50)).toEqual({ ok: true, value: 50 });
    expect(parseCapInput('50.01', 50)).toEqual({ ok: false, message: 'The most the plan allows is $50.' });
    for (const bad of ['-1', '1.234', 'ten', '1e3', '1,000', '.5']) expect(parseCapInput(bad, 50).ok, bad).toBe(false);
  });
});
