import { describe, expect, it } from 'vitest';
import { reservationFor, usageToCharge } from '../../api/metering/settlement';

describe('usageToCharge', () => {
  it('charges the provider-reported usage when the stream completed with it', () => {
    expect(
      usageToCharge({
        status: 'completed',
        providerUsage: { inputTokens: 120, outputTokens: 80 },
        estimatedInputTokens: 118,
        countedOutputTokens: 79,
      }),
    ).toEqual({ inputTokens: 120, outputTokens: 80, source: 'provider' });
  });

  it('falls back to our counts when the provider sent no usage', () => {
    expect(
      usageToCharge({
        status: 'completed',
        providerUsage: { inputTokens: undefined, outputTokens: undefined },
        estimatedInputTokens: 118,
        countedOutputTokens: 79,
      }),
    ).toEqual({ inputTokens: 118, outputTokens: 79, source: 'counted' });
    expect(usageToCharge({ status: 'completed', estimatedInputTokens: 5, countedOutputTokens: 3 })).toEqual({
      inputTokens: 5,
      outputTokens: 3,
      source: 'counted',
    });
  });

  it('never trusts provider numbers on an aborted or failed stream (the SDK reports none; a partial one would be wrong)', () => {
    for (const status of ['aborted', 'error'] as const) {
      expect(
        usageToCharge({
          status,
          providerUsage: { inputTokens: 1, outputTokens: 1 },
          estimatedInputTokens: 40,
          countedOutputTokens: 12,
        }),
      ).toEqual({ inputTokens: 40, outputTokens: 12, source: 'counted' });
    }
  });

  it('rejects nonsense provider numbers (negative, NaN, Infinity) in favour of our counts', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(
        usageToCharge({
          status: 'completed',
          providerUsage: { inputTokens: bad, outputTokens: 10 },
          estimatedInputTokens: 7,
          countedOutputTokens: 9,
        }).source,
      ).toBe('counted');
    }
  });

  it('rounds fractional provider numbers to whole tokens', () => {
    expect(
      usageToCharge({
        status: 'completed',
        providerUsage: { inputTokens: 10.4, outputTokens: 2.6 },
        estimatedInputTokens: 0,
        countedOutputTokens: 0,
      }),
    ).toMatchObject({ inputTokens: 10, outputTokens: 3 });
  });
});

describe('reservationFor', () => {
  it('wants the prompt plus the whole output cap, and accepts no less than room for a short answer', () => {
    expect(reservationFor(100, 400)).toEqual({ want: 500, minGrant: 164 });
    expect(reservationFor(100, 30)).toEqual({ want: 130, minGrant: 130 });
  });
});
