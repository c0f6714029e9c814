/**
 * Vercel entry point: a Node.js function (streaming responses) built into the Build Output API layout
 * by `npm run build` (.vercel/output), deployed with `vercel deploy --prebuilt`. Configuration comes
 * from the project's environment variables, validated once when the function starts.
 */
import { getRequestListener } from '@hono/node-server';
import { createApp } from '../app';
import { loadConfig } from '../config/env';
import { createServices } from '../services';

const app = createApp(await createServices(loadConfig(process.env)));

export default getRequestListener(app.fetch);
