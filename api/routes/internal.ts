/**
 * POST|GET /internal/report-usage — one usage report run, for Vercel Cron (which sends GET with
 * `Authorization: Bearer $CRON_SECRET`) and Cloudflare Cron Triggers (or any scheduler). Exists only
 * when CRON_SECRET is set. `?mode=due` runs just the period-end pass; `?budgetMs=` bounds the run
 * (default 50 s, for serverless time limits): users not reached wait for the next run.
 */
import { Hono, type Context } from 'hono';
import type { Services } from '../context';
import type { AppEnv } from '../app-env';
import { AppError } from '../errors';
import { billingDisabled } from './billing';
import { bearer } from '../middleware/bearer';

export type InternalRouteDeps = Pick<Services, 'billing' | 'now'> & { cronSecret: string | undefined };

export function internalRoutes(s: InternalRouteDeps) {
  const app = new Hono<AppEnv>();
  const secret = s.cronSecret;
  if (!secret) return app;

  const handler = async (c: Context<AppEnv>) => {
    if (!s.billing) throw billingDisabled();
    const mode = c.req.query('mode') === 'due' ? 'due' : 'full';
    const budgetMs = Math.min(Math.max(Number(c.req.query('budgetMs') ?? 50_000) || 50_000, 1_000), 15 * 60_000);
    const summary = await s.billing.reports.run(mode, { deadline: s.now() + budgetMs });
    if (!summary)
      throw new AppError('report_in_progress', 'Another usage report run is in progress; this one was skipped.');
    return c.json(summary);
  };
  app.use('/internal/report-usage', bearer({ secret, name: 'CRON_SECRET' }));
  app.post('/internal/report-usage', handler);
  app.get('/internal/report-usage', handler);
  return app;
}
