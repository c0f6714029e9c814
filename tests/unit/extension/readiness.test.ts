import { describe, expect, it } from 'vitest';
import { blockFor } from '../../../extension/lib/readiness';
import type { UsageResult } from '../../../extension/lib/protocol';

const usage = (over: Record<string, unknown> = {}): UsageResult =>
  ({
    ok: true,
    fetchedAt: '2026-12-01T00:00:00Z',
    usage: {
      plan: 'free',
      period: { start: '2026-12-01T00:00:00Z', end: '2026-12-31T00:00:00Z' },
      remainingTokens: 5000,
      billing: { enabled: true, canUpgrade: true, canManage: false, endsAtPeriodEnd: false, pastDue: false },
      proPlan: {
        id: 'pro',
        monthlyPriceUsd: 20,
        includedTokens: 500_000,
        overageUsdPer1kTokens: 0.002,
        maxOverageCapUsd: 50,
      },
      limits: { maxTextChars: 20_000 },
      ...over,
    },
  }) as unknown as UsageResult;

describe('blocked before the click', () => {
  it('nothing blocks a signed-in user with tokens and a text within the limit; an unknown answer blocks nothing', () => {
    expect(blockFor(usage(), 1200)).toBeNull();
    expect(blockFor(null, 1200)).toBeNull();
    expect(blockFor({ ok: false, status: 0, code: 'network', message: 'offline' }, 1200)).toBeNull();
  });

  it('signed out', () => {
    expect(blockFor({ ok: false, status: 401, code: 'unauthenticated', message: '' }, 10)).toMatchObject({
      kind: 'signed_out',
      next: 'sign_in',
    });
  });

  it('no tokens left: when they come back, and Upgrade with its price when billing offers it', () => {
    expect(blockFor(usage({ remainingTokens: 0 }), 10)).toEqual({
      kind: 'no_tokens',
      sentence: 'You have used all your tokens for this period; they come back on Dec 31.',
      next: 'upgrade',
      upgradeLabel: 'Upgrade · $20/month for 500,000 tokens',
    });
    expect(blockFor(usage({ remainingTokens: 0, billing: { enabled: false, canUpgrade: false } }), 10)).toMatchObject({
      next: 'popup',
      upgradeLabel: null,
    });
  });

  it('a selection over the limit says the limit', () => {
    expect(blockFor(usage(), 23_456)).toEqual({
      kind: 'too_long',
      sentence: 'This selection is 23,456 characters; Redraft takes up to 20,000. Select a shorter passage.',
      next: null,
    });
  });
});
