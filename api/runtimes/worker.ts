/**
 * Cloudflare Workers entry point. The configuration comes from the Worker's environment (vars and
 * secrets), validated once per isolate; the services are built once and reused across requests.
 * Settlements that finish after the response (client aborts) are kept alive with `waitUntil`.
 * Build: `npm run build` → dist/worker/index.js; deploy: `wrangler deploy -c deploy/wrangler.toml`.
 */
import type { Hono, ExecutionContext } from 'hono';
import { createApp } from '../app';
import { ConfigError, loadConfig } from '../config/env';
import { createServices } from '../services';
import type { AppEnv } from '../context';

type WorkerEnv = Record<string, unknown>;

let app: Promise<Hono<AppEnv>> | undefined;

function appFor(env: WorkerEnv): Promise<Hono<AppEnv>> {
  // Only string bindings are configuration (vars and secrets).
  const vars = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'));
  app ??= createServices(loadConfig(vars)).then(createApp);
  return app;
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    try {
      return await (await appFor(env)).fetch(request, env, ctx);
    } catch (err) {
      app = undefined; // try again on the next request (a fixed secret, a transient start-up failure)
      console.error(err instanceof ConfigError ? err.message : err);
      const message = err instanceof ConfigError ? 'The API is misconfigured; the operator has been told in the logs.' : 'The API failed to start.';
      return Response.json({ error: { code: 'internal', message } }, { status: 500 });
    }
  },
};
