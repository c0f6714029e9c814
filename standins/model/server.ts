/**
 * Starts the model stand-in: a bearer key is required (any), then `GET /v1/models`, `POST /v1/chat/completions`
 * (routes/chat-completions.ts), or a 404.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendError, sendJson } from './http';
import { chatCompletion } from './routes/chat-completions';
import { ModelState } from './state';
import { STAND_IN_MODEL_ID, type ModelServer, type ModelServerOptions } from './types';

const NO_KEY =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth " +
  '(i.e. Authorization: Bearer YOUR_KEY).';

const MODELS = {
  object: 'list',
  data: [{ id: STAND_IN_MODEL_ID, object: 'model', created: 1721172741, owned_by: 'system' }],
};

export async function startModelServer(opts: ModelServerOptions = {}): Promise<ModelServer> {
  const s = new ModelState(opts);

  const server = createServer((req, res) => {
    s.stats.requests++;
    const path = (req.url ?? '/').split('?')[0]!.replace(/^\/v1(?=\/)/, '');
    const auth = req.headers.authorization ?? '';
    if (!/^Bearer\s+\S+/i.test(auth)) {
      req.resume();
      return sendError(res, 401, NO_KEY, 'invalid_api_key');
    }
    if (req.method === 'GET' && path === '/models') return sendJson(res, 200, MODELS);
    if (req.method === 'POST' && path === '/chat/completions') {
      chatCompletion(s, req, res).catch((err: unknown) => {
        if (!res.headersSent) sendError(res, 500, `Stand-in model server error: ${String(err)}`);
        else res.destroy();
      });
      return;
    }
    req.resume();
    sendError(res, 404, `Invalid URL (${req.method} ${req.url})`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    stats: s.stats,
    get lastRequestBody() {
      return s.lastRequestBody;
    },
    setOptions: (o) => s.setOptions(o),
    injectFault: (fault, times) => s.injectFault(fault, times),
    clearFaults: () => s.clearFaults(),
    clearPromptCache: () => s.promptCache.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
