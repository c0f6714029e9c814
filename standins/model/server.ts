/**
 * Starts the model stand-in. OpenAI: a bearer key is required (any), then `GET /v1/models`,
 * `POST /v1/chat/completions` (routes/chat-completions.ts), or a 404. Anthropic (`POST /v1/messages`, or any other
 * request with an `x-api-key` and no Authorization header, except to /v1/chat/completions): `x-api-key` and
 * `anthropic-version` are required, then routes/messages.ts, `GET /v1/models` or a 404, all Anthropic-shaped.
 * Both share one ModelState.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { newRequestId, sendAnthropicError, sendAnthropicJson } from './anthropic-http';
import { sendError, sendJson } from './http';
import { chatCompletion } from './routes/chat-completions';
import { anthropicHeadersOk, messages } from './routes/messages';
import { ModelState } from './state';
import { STAND_IN_ANTHROPIC_MODEL_ID, STAND_IN_MODEL_ID, type ModelServer, type ModelServerOptions } from './types';

const NO_KEY =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth " +
  '(i.e. Authorization: Bearer YOUR_KEY).';

const MODELS = {
  object: 'list',
  data: [{ id: STAND_IN_MODEL_ID, object: 'model', created: 1721172741, owned_by: 'system' }],
};

const ANTHROPIC_MODELS = {
  data: [
    {
      type: 'model',
      id: STAND_IN_ANTHROPIC_MODEL_ID,
      display_name: 'Claude Haiku 4.5 (stand-in)',
      created_at: '2025-10-15T00:00:00Z',
    },
  ],
  has_more: false,
  first_id: STAND_IN_ANTHROPIC_MODEL_ID,
  last_id: STAND_IN_ANTHROPIC_MODEL_ID,
};

/** `POST /v1/messages` (routes/messages.ts), `GET /v1/models` as Anthropic lists it, or an Anthropic 404. */
function anthropicRequest(s: ModelState, req: IncomingMessage, res: ServerResponse, path: string): void {
  if (req.method === 'POST' && path === '/v1/messages') {
    messages(s, req, res).catch((err: unknown) => {
      if (!res.headersSent) sendAnthropicError(res, 500, `Stand-in model server error: ${String(err)}`);
      else res.destroy();
    });
    return;
  }
  if (!anthropicHeadersOk(req, res)) return;
  req.resume();
  if (req.method === 'GET' && path === '/v1/models') sendAnthropicJson(res, 200, ANTHROPIC_MODELS, newRequestId());
  else sendAnthropicError(res, 404, 'Not Found');
}

export async function startModelServer(opts: ModelServerOptions = {}): Promise<ModelServer> {
  const s = new ModelState(opts);

  const server = createServer((req, res) => {
    s.stats.requests++;
    const rawPath = (req.url ?? '/').split('?')[0]!;
    const path = rawPath.replace(/^\/v1(?=\/)/, '');
    // Anthropic's Messages API: its own routes, auth (x-api-key) and error shape. Other requests with an x-api-key
    // and no Authorization header (say GET /v1/models) are taken as Anthropic's too, but not the OpenAI route.
    const anthropic =
      rawPath === '/v1/messages' ||
      (req.headers['x-api-key'] !== undefined && !req.headers.authorization && path !== '/chat/completions');
    if (anthropic) return anthropicRequest(s, req, res, rawPath);
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
    anthropicUrl: `http://127.0.0.1:${port}/v1`,
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
