/**
 * `POST /v1/chat/completions`, as `@ai-sdk/openai`'s `provider.chat(modelId)` calls it: a JSON body with
 * messages; the next injected fault, if any; then the planned answer streamed (SSE) or as one JSON object.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, sendError } from '../http';
import { planCompletion, type ChatBody } from '../plan';
import type { ModelState } from '../state';
import { jsonCompletion, streamCompletion } from '../stream';

const UNPARSABLE =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library " +
  'correctly.)';

export async function chatCompletion(s: ModelState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  s.stats.completions++;
  // `res` 'close' fires when the response ended normally *or* the connection went away; only the latter
  // aborts the generation.
  const ctrl = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) ctrl.abort();
  });

  let body: ChatBody;
  try {
    const parsed: unknown = JSON.parse(await readBody(req));
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    body = parsed as ChatBody;
  } catch {
    return sendError(res, 400, UNPARSABLE);
  }
  s.lastRequestBody = body;
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    return sendError(res, 400, "Invalid 'messages': expected a non-empty array.", 'invalid_value');
  }

  const fault = s.takeFault();
  if (fault?.kind === 'status') {
    const code = fault.status === 429 ? 'rate_limit_exceeded' : fault.status >= 500 ? 'server_error' : null;
    const message = fault.message ?? `The stand-in model server was told to fail with HTTP ${fault.status}.`;
    return sendError(res, fault.status, message, code);
  }
  const p = planCompletion(s, body, fault);
  s.stats.promptTokens += p.promptTokens;
  s.stats.cachedTokens += p.cachedTokens;
  s.stats.reasoningTokens += p.reasoningTokens;
  const outcome = await (body.stream === true ? streamCompletion : jsonCompletion)(s.stats, res, p, ctrl.signal);
  if (outcome === 'completed') s.stats.completed++;
  else if (outcome === 'gone') s.stats.aborted++;
}
