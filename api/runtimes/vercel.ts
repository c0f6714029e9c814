/**
 * Vercel entry point: a Node.js function (streaming responses) built into the Build Output API layout
 * by `npm run build` (.vercel/output), deployed with `vercel deploy --prebuilt`. Configuration comes
 * from the project's environment variables, validated once when the function starts. Settlements that
 * finish after the response (a client abort) are kept alive with `waitUntil` from @vercel/functions.
 */
import { getRequestListener } from '@hono/node-server';
import { waitUntil } from '@vercel/functions';
import type { ExecutionContext } from 'hono';
import { createApp } from '../app';
import { loadConfig } from '../config/env';
import { createServices } from '../services';

const app = createApp(await createServices(loadConfig(process.env)));

/** Vercel's request context, as an execution context the routes already use on Workers. */
const ctx: ExecutionContext = {
  waitUntil: (promise) => void waitUntil(promise),
  passThroughOnException: () => {},
  props: {},
};

export default getRequestListener((request, env) => app.fetch(request, env, ctx));
