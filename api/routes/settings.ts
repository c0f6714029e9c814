/**
 * GET /v1/settings and PUT /v1/settings: the user's overage spending cap. A change is stored where the
 * reservation Lua reads it, so the next rewrite is already held to it (402 once the new cap is reached).
 */
import { Hono } from 'hono';
import { SettingsUpdateSchema, type SettingsResponse } from '../../shared/contract';
import type { Services } from '../context';
import type { AppEnv } from '../app-env';
import { AppError, meteringUnavailable } from '../errors';
import { maxOverageCapUsd } from '../account/settings';
import type { Balance } from '../metering/ledger';
import { jsonBody } from '../middleware/json-body';
import { validate } from '../middleware/json-body/validate';

const SETTINGS_BODY_MAX_BYTES = 1024;

const toResponse = (b: Balance, cents: number | null): SettingsResponse => {
  const max = maxOverageCapUsd(b.plan);
  return { plan: b.plan.id, overageCapUsd: max === null || cents === null ? null : cents / 100, maxOverageCapUsd: max };
};

export type SettingsRouteDeps = Pick<Services, 'usage' | 'quota' | 'settings' | 'now'> & { maxBodyBytes: number };

export function settingsRoutes(s: SettingsRouteDeps) {
  const app = new Hono<AppEnv>();

  /** The user's balance (for the plan in force); first sight anchors their free period, as /v1/usage does. */
  const balanceOf = async (userId: string, now: number): Promise<Balance> => {
    try {
      let b = await s.usage.balance(userId, now, 1);
      if (!b) {
        await s.quota.ensure(userId, now);
        b = await s.usage.balance(userId, now, 1);
      }
      if (!b) throw new Error('quota record missing after ensure');
      return b;
    } catch (err) {
      throw meteringUnavailable(err);
    }
  };

  app.get('/v1/settings', async (c) => {
    const b = await balanceOf(c.get('user').userId, s.now());
    return c.json(toResponse(b, b.overageCapCents));
  });

  const settingsBody = jsonBody({ maxBytes: Math.min(s.maxBodyBytes, SETTINGS_BODY_MAX_BYTES) });
  app.put('/v1/settings', settingsBody, validate(SettingsUpdateSchema), async (c) => {
    const { userId } = c.get('user');
    const { overageCapUsd } = c.req.valid('json');
    const now = s.now();
    const b = await balanceOf(userId, now);
    const max = maxOverageCapUsd(b.plan);
    if (overageCapUsd !== null) {
      if (max === null) {
        throw new AppError(
          'overage_not_available',
          `The ${b.plan.id} plan has no overage, so there is no spending cap to set: usage stops at the plan's ${b.plan.hardCapTokens.toLocaleString('en-US')} tokens. Upgrade to Pro to allow overage.`,
        );
      }
      if (overageCapUsd > max) {
        throw new AppError(
          'invalid_request',
          `overageCapUsd must be at most ${max} (the ${b.plan.id} plan's maximum spending cap in USD per period); it was ${overageCapUsd}.`,
          {
            details: { issues: [{ path: 'overageCapUsd', message: `must be at most ${max}` }] },
          },
        );
      }
    }
    const cents = overageCapUsd === null ? null : Math.round(overageCapUsd * 100);
    try {
      await s.settings.setOverageCap(userId, cents, now);
    } catch (err) {
      throw meteringUnavailable(err);
    }
    return c.json(toResponse(b, cents));
  });

  return app;
}
