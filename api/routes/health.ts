/**
 * GET /health — each dependency's state, so an operator (and the dev) can see what is wired to what.
 */
import { Hono } from 'hono';
import type { AppEnv, Services } from '../context';

async function probe(fn: () => Promise<void>): Promise<{ ok: boolean; latencyMs: number; error?: string }> {
  const t0 = performance.now();
  try {
    await fn();
    return { ok: true, latencyMs: Math.round((performance.now() - t0) * 10) / 10 };
  } catch (err) {
    return { ok: false, latencyMs: Math.round(performance.now() - t0), error: err instanceof Error ? err.message : String(err) };
  }
}

export function healthRoutes(s: Services) {
  const app = new Hono<AppEnv>();
  app.get('/health', async (c) => {
    const [redis, model, lastReport] = await Promise.all([probe(s.probes.redis), probe(s.probes.model), s.billing?.reports.lastRun().catch(() => undefined)]);
    const ok = redis.ok && model.ok;
    return c.json(
      {
        status: ok ? 'ok' : 'degraded',
        redis,
        model: { ...model, id: s.config.model.id, baseURL: s.config.model.baseURL ?? 'https://api.openai.com/v1', standIn: s.config.model.standIn ? 'OFFLINE STAND-IN: a local OpenAI-compatible server, not OpenAI' : false },
        auth: { mode: s.config.auth.devAuth ? 'dev (local RSA key; POST /dev/session)' : 'clerk (offline JWT verification)' },
        billing: billingHealth(s, lastReport),
      },
      ok ? 200 : 503,
    );
  });
  return app;
}

function billingHealth(s: Services, lastReport: Awaited<ReturnType<NonNullable<Services['billing']>['reports']['lastRun']>> | undefined) {
  const b = s.config.billing;
  if (!b) return { enabled: false, note: 'billing disabled (no STRIPE_SECRET_KEY): everyone is on the free plan' };
  return {
    enabled: true,
    stripe: b.api ? `${b.api.protocol}://${b.api.host}:${b.api.port}` : 'https://api.stripe.com',
    standIn: b.standIn ? 'OFFLINE STAND-IN: a local Stripe-compatible server, not Stripe' : false,
    mode: b.secretKey.includes('_live_') ? 'live' : 'test',
    meterEventName: b.meterEventName,
    reportSchedule: s.config.reporter.intervalMinutes > 0 ? `every ${s.config.reporter.intervalMinutes} min + period-end pass every minute` : 'off (cron or manual only)',
    lastReport: lastReport
      ? { at: lastReport.startedAt, mode: lastReport.mode, users: lastReport.users, batches: lastReport.batches, tokens: lastReport.tokens, failures: lastReport.failures, complete: lastReport.complete }
      : null,
  };
}
