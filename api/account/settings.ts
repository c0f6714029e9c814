/**
 * The user's settings. Today one: the overage spending cap, stored on the quota hash as overageCapCents,
 * where the reservation Lua reads it (api/metering/quota.lua.ts): a change applies to the very next
 * reservation. The plan's maximum is checked by the route (PUT /v1/settings); the cap is only applied on
 * plans with overage, so it is kept, unused, across a downgrade.
 */
import { planOf, type Plan } from '../config/plans';
import { defineNamedScript, type Redis } from '../store/redis';
import { keys } from '../metering/keys';
import { monthlyPeriodAt } from '../metering/periods';
import { newFreeQuotaLua } from '../metering/quota.lua';

/**
 * `cents` '' = back to the plan's default. A user seen for the first time gets their free period anchored
 * now, as a first reservation would.
 */
export const SET_CAP = {
  keys: ['quota'],
  args: ['cents', 'freeStart', 'freeEnd'],
  body: `
if redis.call('EXISTS', quota) == 0 then
  ${newFreeQuotaLua('quota', 'freeStart', 'freeEnd')}
end
if cents == '' then redis.call('HDEL', quota, 'overageCapCents') else redis.call('HSET', quota, 'overageCapCents', cents) end
return {'result', 'OK'}
`,
} as const;

export interface SettingsStore {
  /** Store the user's overage cap in US cents, or null to go back to the plan's default. */
  setOverageCap(userId: string, cents: number | null, now: number): Promise<void>;
}

export async function createSettingsStore(redis: Redis): Promise<SettingsStore> {
  const setCap = await defineNamedScript(redis, SET_CAP);
  return {
    async setOverageCap(userId, cents, now) {
      const p = monthlyPeriodAt(now, now);
      await setCap.run(
        { quota: keys.quota(userId) },
        { cents: cents === null ? '' : Math.round(cents), freeStart: p.start, freeEnd: p.end },
      );
    },
  };
}

/** The most a plan lets a user cap overage at, in USD; null when the plan has no overage. */
export const maxOverageCapUsd = (plan: Plan): number | null =>
  plan.overageUsdPer1k > 0 && plan.maxOverageCapUsd > 0 ? plan.maxOverageCapUsd : null;

/** The cap in force, in USD: the user's own, else the plan's default (its maximum); null without overage. */
export function overageCapInForceUsd(planId: string, overageCapCents: number | null): number | null {
  const max = maxOverageCapUsd(planOf(planId));
  if (max === null) return null;
  return overageCapCents === null ? max : Math.min(max, overageCapCents / 100);
}
