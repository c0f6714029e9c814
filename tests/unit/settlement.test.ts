import { describe, expect, it } from 'vitest';
import type { RewriteRequest } from '../../shared/contract';
import { providerCostUsd } from '../../api/config/model-prices';
import type { LedgerEvent } from '../../api/metering/quota';
import { reservationFor, usageToCharge } from '../../api/metering/settlement';
import { settleRewrite, type SettleDeps } from '../../api/rewrite/settle';

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

describe('settleRewrite: exact cost with the price in force, anomalies flagged', () => {
  it('records cached and reasoning tokens, the price version, and clamps (and flags) a cached count above the input', async () => {
    const events: LedgerEvent[] = [];
    const counted: [string, Record<string, string> | undefined][] = [];
    const logs: Record<string, unknown>[] = [];
    const price = { inputUsdPer1k: 0.00015, cachedInputUsdPer1k: 0.000075, outputUsdPer1k: 0.0006 };
    const deps: SettleDeps = {
      quota: {
        settle: async (_u, _p, e) => {
          events.push(e);
          return {
            ok: true,
            billed: e.inputTokens + e.outputTokens,
            usedAfter: 0,
            cap: 1,
            duplicate: false,
            alerts: [],
          };
        },
      },
      metrics: { inc: (name, labels) => void counted.push([name, labels]), observe: () => {} },
      log: (l) => void logs.push(l),
      now: () => 2000,
      prices: { quote: async () => ({ version: 'v-test', price }) },
    };
    const served = (cachedInputTokens: number, reasoningTokens?: number) => ({
      userId: 'u',
      requestId: `r${cachedInputTokens}`,
      req: { text: 'x', action: 'rewrite' } as RewriteRequest,
      period: { start: 0, end: 1 },
      startedAt: 1000,
      model: { modelId: 'gpt-4o-mini', provider: 'openai' },
      outcome: {
        status: 'completed' as const,
        providerUsage: { inputTokens: 1200, outputTokens: 100, cachedInputTokens, reasoningTokens },
        estimatedInputTokens: 1190,
        countedOutputTokens: 90,
      },
    });
    await settleRewrite(deps, served(1152, 40));
    expect(events[0]).toMatchObject({
      inputTokens: 1200,
      cachedInputTokens: 1152,
      outputTokens: 100,
      reasoningTokens: 40,
      usageAnomalies: [],
      priceVersion: 'v-test',
      costUsd: providerCostUsd(price, { inputTokens: 1200, cachedInputTokens: 1152, outputTokens: 100 }),
    });
    await settleRewrite(deps, served(9999));
    expect(events[1]).toMatchObject({ cachedInputTokens: 1200, usageAnomalies: ['cached_over_input'] });
    expect(events[1]!.costUsd).toBe(
      providerCostUsd(price, { inputTokens: 1200, cachedInputTokens: 1200, outputTokens: 100 }),
    );
    expect(counted).toContainEqual(['redraft_usage_anomalies_total', { kind: 'cached_over_input' }]);
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: 'provider usage details not trusted as reported',
        requestId: 'r9999',
      }),
    );
  });
});
