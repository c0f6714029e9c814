/**
 * GET /health — liveness and each dependency's up/down, for load balancers and uptime checks. The
 * probes (Redis PING, the model's GET /models) run at most once per PROBE_TTL_MS whatever the traffic,
 * shared by concurrent calls, so /health cannot be used to make us call out. Details (latencies, errors,
 * model and Stripe addresses, auth and billing modes, the last usage-report run) only with the metrics
 * token (METRICS_TOKEN, required in production; open when unset, as /metrics is).
 */
import { Hono } from 'hono';
import type { Services } from '../context';
import type { AppEnv } from '../app-env';
import { hasBearer } from '../middleware/bearer';
import { baseUrlOf } from '../model/provider';

/** How long one probe result answers /health. */
export const PROBE_TTL_MS = 5_000;

interface ProbeResult {
  ok: boolean;
  latencyMs: number;
  error?: string;
}

async function probe(fn: () => Promise<void>): Promise<ProbeResult> {
  const t0 = performance.now();
  try {
    await fn();
    return { ok: true, latencyMs: Math.round((performance.now() - t0) * 10) / 10 };
  } catch (err) {
    return {
      ok: false,
      latencyMs: Math.round(performance.now() - t0),
      error: err instanceof Error ? err.message : String(err),
    };
  }
}

/** The probes of both dependencies, run once per PROBE_TTL_MS (a call in that window gets the same result). */
export type HealthRouteDeps = Pick<Services, 'probes' | 'billing' | 'router'> & {
  config: Pick<Services['config'], 'metricsToken' | 'model' | 'auth' | 'billing' | 'reporter'>;
};

function cachedProbes(s: HealthRouteDeps) {
  let last: { at: number; result: Promise<{ redis: ProbeResult; model: ProbeResult; at: number }> } | undefined;
  return () => {
    const at = Date.now();
    if (!last || at - last.at >= PROBE_TTL_MS) {
      last = {
        at,
        result: Promise.all([probe(s.probes.redis), probe(s.probes.model)]).then(([redis, model]) => ({
          redis,
          model,
          at,
        })),
      };
    }
    return last.result;
  };
}

export function healthRoutes(s: HealthRouteDeps) {
  const app = new Hono<AppEnv>();
  const probes = cachedProbes(s);
  app.get('/health', async (c) => {
    const { redis, model, at } = await probes();
    const ok = redis.ok && model.ok;
    const status = ok ? 'ok' : 'degraded';
    c.header('Cache-Control', 'no-store');
    if (!(await hasBearer(c, s.config.metricsToken)))
      return c.json({ status, redis: { ok: redis.ok }, model: { ok: model.ok } }, ok ? 200 : 503);
    const lastReport = await s.billing?.reports.lastRun().catch(() => undefined);
    return c.json(
      {
        status,
        checkedAt: new Date(at).toISOString(),
        redis,
        model: {
          ...model,
          routes: s.config.model.routes,
          providers: Object.fromEntries(
            Object.entries(s.config.model.providers).map(([name, p]) => [
              name,
              { kind: p.kind, baseURL: baseUrlOf(p) },
            ]),
          ),
          breakers: s.router.breakers.snapshot(),
          standIn: s.config.model.standIn ? 'OFFLINE STAND-IN: local model servers, not the real providers' : false,
        },
        auth: {
          mode: s.config.auth.devAuth ? 'dev (local RSA key; POST /dev/session)' : 'clerk (offline JWT verification)',
        },
        billing: billingHealth(s, lastReport),
      },
      ok ? 200 : 503,
    );
  });
  return app;
}

function billingHealth(
  s: HealthRouteDeps,
  lastReport: Awaited<ReturnType<NonNullable<Services['billing']>['reports']['lastRun']>> | undefined,
) {
  const b = s.config.billing;
  if (!b) return { enabled: false, note: 'billing disabled (no STRIPE_SECRET_KEY): everyone is on the free plan' };
  return {
    enabled: true,
    stripe: b.api ? `${b.api.protocol}://${b.api.host}:${b.api.port}` : 'https://api.stripe.com',
    standIn: b.standIn ? 'OFFLINE STAND-IN: a local Stripe-compatible server, not Stripe' : false,
    mode: b.secretKey.includes('_live_') ? 'live' : 'test',
    meterEventName: b.meterEventName,
    reportSchedule:
      s.config.reporter.intervalMinutes > 0
        ? `every ${s.config.reporter.intervalMinutes} min + period-end pass every minute`
        : 'off (cron or manual only)',
    lastReport: lastReport
      ? {
          at: lastReport.startedAt,
          mode: lastReport.mode,
          users: lastReport.users,
          batches: lastReport.batches,
          tokens: lastReport.tokens,
          failures: lastReport.failures,
          complete: lastReport.complete,
        }
      : null,
  };
}
