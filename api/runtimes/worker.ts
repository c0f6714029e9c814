/**
 * Cloudflare Workers entry point. The configuration comes from the Worker's environment (vars and
 * secrets), validated once per isolate; the services are built once and reused across requests.
 * Settlements that finish after the response (client aborts) are kept alive with `waitUntil`.
 * Cron Triggers run the usage reporter: the hourly trigger a full pass, the others the period-end pass.
 * Build: `npm run build` → dist/worker/index.js; deploy: `npx wrangler deploy -c deploy/wrangler.toml`.
 */
import type { ExecutionContext, Hono } from 'hono';
import { createApp } from '../app';
import { ConfigError, loadConfig } from '../config/env';
import { createServices } from '../services';
import type { Services } from '../context';
import type { AppEnv } from '../app-env';

type WorkerEnv = Record<string, unknown>;
interface ScheduledEvent {
  cron: string;
  scheduledTime: number;
}

/** The trigger (see deploy/wrangler.toml) that runs a full report pass; every other trigger runs the period-end pass. */
export const FULL_REPORT_CRON = '0 * * * *';
/** Time a scheduled run may take before it stops (users not reached wait for the next run). */
const REPORT_BUDGET_MS = 50_000;

let built: Promise<{ services: Services; app: Hono<AppEnv> }> | undefined;

function instance(env: WorkerEnv) {
  // Only string bindings are configuration (vars and secrets).
  const vars = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'));
  built ??= createServices(loadConfig(vars)).then((services) => ({ services, app: createApp(services) }));
  built.catch(() => (built = undefined)); // try again next time (a fixed secret, a transient start-up failure)
  return built;
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    try {
      return await (await instance(env)).app.fetch(request, env, ctx);
    } catch (err) {
      console.error(err instanceof ConfigError ? err.message : err);
      const message =
        err instanceof ConfigError
          ? 'The API is misconfigured; the operator has been told in the logs.'
          : 'The API failed to start.';
      return Response.json({ error: { code: 'internal', message } }, { status: 500 });
    }
  },

  async scheduled(event: ScheduledEvent, env: WorkerEnv, _ctx: ExecutionContext): Promise<void> {
    const { services } = await instance(env);
    if (!services.billing) return; // billing disabled: nothing to report
    const mode = event.cron === FULL_REPORT_CRON ? 'full' : 'due';
    await services.billing.reports.run(mode, { deadline: Date.now() + REPORT_BUDGET_MS });
  },
};
