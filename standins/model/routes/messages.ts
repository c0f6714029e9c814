/**
 * `POST /v1/messages`, Anthropic's Messages API as `@ai-sdk/anthropic`'s `createAnthropic({ baseURL })(modelId)`
 * calls it: an `x-api-key` (any) and an `anthropic-version` header, a JSON body checked as strictly as Anthropic
 * does for what a client could rely on (model, max_tokens, messages alternating from a user turn, system, content
 * blocks), the next injected fault, if any, then the planned answer streamed (SSE events) or as one JSON message.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { newRequestId, sendAnthropicError } from '../anthropic-http';
import { jsonMessage, streamMessage } from '../anthropic-stream';
import { readBody } from '../http';
import { planFor } from '../plan';
import type { ModelState } from '../state';
import { type ChatMessage, chatMessages } from '../text';

/** The API versions Anthropic accepts in `anthropic-version`. */
export const ANTHROPIC_VERSIONS = ['2023-06-01', '2023-01-01'];

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

class Invalid extends Error {}

/** Content blocks: each an object with a `type`; a text block's `text` a non-empty string. */
function checkBlocks(blocks: unknown[], at: string, onlyText: boolean): void {
  blocks.forEach((b, i) => {
    if (!isObject(b)) throw new Invalid(`${at}.${i}: Input should be a valid dictionary or object`);
    if (b.type === undefined) throw new Invalid(`${at}.${i}.type: Field required`);
    if (typeof b.type !== 'string') throw new Invalid(`${at}.${i}.type: Input should be a valid string`);
    if (onlyText && b.type !== 'text') throw new Invalid(`${at}.${i}.type: Input should be 'text'`);
    if (b.type !== 'text') return;
    if (b.text === undefined) throw new Invalid(`${at}.${i}.text: Field required`);
    if (typeof b.text !== 'string') throw new Invalid(`${at}.${i}.text: Input should be a valid string`);
    if (b.text === '') throw new Invalid(`${at.split('.')[0]}: text content blocks must be non-empty`);
  });
}

/** The body as a plan request, or throws Invalid with Anthropic's kind of message. */
function readMessagesBody(body: Record<string, unknown>): { model: string; cap: number; messages: ChatMessage[] } {
  const { model, max_tokens: maxTokens, messages, system, stream, temperature } = body;
  if (model === undefined) throw new Invalid('model: Field required');
  if (typeof model !== 'string' || model === '') throw new Invalid('model: Input should be a valid string');
  if (maxTokens === undefined) throw new Invalid('max_tokens: Field required');
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens)) {
    throw new Invalid('max_tokens: Input should be a valid integer');
  }
  if (maxTokens < 1) throw new Invalid('max_tokens: Input should be greater than or equal to 1');
  if (stream !== undefined && typeof stream !== 'boolean') throw new Invalid('stream: Input should be a valid boolean');
  if (temperature !== undefined && (typeof temperature !== 'number' || temperature < 0 || temperature > 1)) {
    throw new Invalid('temperature: Input should be a number between 0 and 1');
  }
  if (system !== undefined) {
    if (Array.isArray(system)) checkBlocks(system, 'system', true);
    else if (typeof system !== 'string') throw new Invalid('system: Input should be a valid string or list');
  }
  if (messages === undefined) throw new Invalid('messages: Field required');
  if (!Array.isArray(messages)) throw new Invalid('messages: Input should be a valid list');
  if (messages.length === 0) throw new Invalid('messages: at least one message is required');
  messages.forEach((m: unknown, i) => {
    if (!isObject(m)) throw new Invalid(`messages.${i}: Input should be a valid dictionary or object`);
    if (m.role === 'system') {
      throw new Invalid(
        'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" ' +
          'as an input message role.',
      );
    }
    if (m.role !== 'user' && m.role !== 'assistant') {
      throw new Invalid(`messages.${i}.role: Input should be 'user' or 'assistant'`);
    }
    if (m.content === undefined) throw new Invalid(`messages.${i}.content: Field required`);
    if (Array.isArray(m.content)) checkBlocks(m.content, `messages.${i}.content`, false);
    else if (typeof m.content !== 'string') throw new Invalid(`messages.${i}.content: Input should be a valid list`);
    const finalAssistant = i === messages.length - 1 && m.role === 'assistant';
    if (m.content.length === 0 && !finalAssistant) {
      throw new Invalid(
        `messages.${i}: all messages must have non-empty content except for the optional final assistant message`,
      );
    }
  });
  if ((messages[0] as { role: string }).role !== 'user') {
    throw new Invalid('messages: first message must use the "user" role');
  }
  // The prompt as the stand-in counts it: the system prompt (string or text blocks) first, then the turns.
  const systemPrompt = chatMessages([{ role: 'system', content: system }]).filter((m) => m.content !== '');
  const prompt = [...systemPrompt, ...chatMessages(messages)];
  return { model, cap: maxTokens, messages: prompt };
}

/** Checks the headers Anthropic requires; false (and answered) when refused. */
export function anthropicHeadersOk(req: IncomingMessage, res: ServerResponse): boolean {
  const key = req.headers['x-api-key'];
  if (typeof key !== 'string' || key.trim() === '') {
    req.resume();
    sendAnthropicError(res, 401, 'x-api-key header is required');
    return false;
  }
  const version = req.headers['anthropic-version'];
  if (typeof version !== 'string' || version === '') {
    req.resume();
    sendAnthropicError(res, 400, 'anthropic-version: header is required');
    return false;
  }
  if (!ANTHROPIC_VERSIONS.includes(version)) {
    req.resume();
    sendAnthropicError(res, 400, `anthropic-version: invalid version ${JSON.stringify(version)}`);
    return false;
  }
  return true;
}

export async function messages(s: ModelState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!anthropicHeadersOk(req, res)) return;
  s.stats.completions++;
  const requestId = newRequestId();
  // `res` 'close' fires when the response ended normally *or* the connection went away; only the latter
  // aborts the generation.
  const ctrl = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) ctrl.abort();
  });

  let body: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(await readBody(req));
    if (!isObject(parsed)) throw new Error('not an object');
    body = parsed;
  } catch {
    return sendAnthropicError(
      res,
      400,
      'There was an issue with your request body: it is not a JSON object.',
      requestId,
    );
  }
  s.lastRequestBody = body;
  let request: ReturnType<typeof readMessagesBody>;
  try {
    request = readMessagesBody(body);
  } catch (err) {
    if (err instanceof Invalid) return sendAnthropicError(res, 400, err.message, requestId);
    throw err;
  }

  const fault = s.takeFault();
  if (fault?.kind === 'status') {
    const message = fault.message ?? `The stand-in model server was told to fail with HTTP ${fault.status}.`;
    return sendAnthropicError(res, fault.status, message, requestId);
  }
  const p = planFor(s, { ...request, reasoning: false, includeUsage: true }, fault, s.nextId('msg_'));
  s.stats.promptTokens += p.promptTokens;
  s.stats.cachedTokens += p.cachedTokens;
  const outcome = await (body.stream === true ? streamMessage : jsonMessage)(s.stats, res, p, ctrl.signal, requestId);
  if (outcome === 'completed') s.stats.completed++;
  else if (outcome === 'gone') s.stats.aborted++;
}
