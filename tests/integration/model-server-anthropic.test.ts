/**
 * The model stand-in's Anthropic side (`POST /v1/messages`) driven by the REAL AI SDK (`ai` v7 `streamText` /
 * `generateText` + `@ai-sdk/anthropic` v4 `createAnthropic({ baseURL: server.anthropicUrl })`), so these tests also
 * pin down how the SDK surfaces each outcome. What we observed (ai 7.0.173, @ai-sdk/anthropic 4.0.105,
 * maxRetries: 0):
 *
 * - success: parts start, start-step, custom (anthropic.message_start), text-start, text-delta × N, text-end,
 *   finish-step, finish (finishReason 'stop', rawFinishReason 'end_turn'; 'length' / 'max_tokens' when max_tokens
 *   cuts). Usage: Anthropic's `input_tokens` EXCLUDES cached tokens, but the SDK adds them back:
 *   `inputTokens` = input_tokens + cache_read_input_tokens + cache_creation_input_tokens (the whole prompt, as
 *   for OpenAI), `inputTokenDetails.noCacheTokens` = input_tokens, `.cacheReadTokens` = cache_read_input_tokens.
 *   So code reading the AI SDK's usage can rely on `inputTokens` including the cached tokens.
 * - HTTP status before any token: one `error` part, an `APICallError` with that statusCode, the error JSON's
 *   message, responseHeaders['request-id'], and isRetryable as provider-utils decides (408/409/429/5xx, so 529
 *   too); onError fires, onEnd does not, `await result.usage` rejects with NoOutputGeneratedError.
 * - `event: error` mid-stream (overloaded_error): the text so far, then an `error` part (`StreamProviderError`,
 *   statusCode 529, isRetryable true, message 'Overloaded'), then finish-step / finish with finishReason 'error'
 *   and EMPTY usage — even the input tokens message_start announced are dropped. onError then onEnd fire.
 * - dropped connection mid-stream: the text so far, then iterating the stream THROWS an `APICallError` ('Failed
 *   to process successful response', statusCode 200, cause 'terminated'); no `error` part, no onError (as with
 *   OpenAI).
 */
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import {
  APICallError,
  generateText,
  NoOutputGeneratedError,
  StreamProviderError,
  streamText,
  type TextStreamPart,
  type ToolSet,
} from 'ai';
import { countTokens } from 'gpt-tokenizer/model/gpt-4o';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generatePieces, type ModelServer, startModelServer } from '../../standins/model';

const MODEL_ID = 'claude-haiku-4-5';
let server: ModelServer;
let model: ReturnType<ReturnType<typeof createAnthropic>>;
const PROMPT = 'Our shoes are light, fast and made from recycled plastic bottles.';
/** What the stand-in answers to PROMPT in 'echo' mode: as many tokens as the prompt, words from it. */
const ECHO = generatePieces(PROMPT, countTokens(PROMPT)).join('');

beforeAll(async () => {
  server = await startModelServer();
  model = createAnthropic({ baseURL: server.anthropicUrl, apiKey: 'test' })(MODEL_ID);
});
afterAll(async () => {
  await server?.close();
});
beforeEach(() => {
  server.clearFaults();
  server.clearPromptCache();
  server.setOptions({ tokensPerSecond: 0, firstTokenDelayMs: 0, outputTokens: 'echo', script: null });
});

type Part = TextStreamPart<ToolSet>;

/** Runs streamText and records every part, callback and the promise outcomes. */
async function run(
  opts: {
    maxOutputTokens?: number;
    abortAfterDeltas?: number;
    prompt?: string;
    system?: string;
    on?: typeof model;
  } = {},
) {
  const ctrl = new AbortController();
  const calls: { onEnd: unknown[]; onError: unknown[]; onStepError: unknown[] } = {
    onEnd: [],
    onError: [],
    onStepError: [],
  };
  const started = Date.now();
  const result = streamText({
    model: opts.on ?? model,
    prompt: opts.prompt ?? PROMPT,
    ...(opts.system ? { system: opts.system } : {}),
    maxRetries: 0,
    abortSignal: ctrl.signal,
    ...(opts.maxOutputTokens ? { maxOutputTokens: opts.maxOutputTokens } : {}),
    onEnd: (e) => void calls.onEnd.push(e),
    onError: (e) => void calls.onError.push(e),
    onStepError: (e) => void calls.onStepError.push(e),
  });
  const parts: Part[] = [];
  const deltas: string[] = [];
  let firstDeltaMs: number | undefined;
  let thrown: unknown;
  try {
    for await (const part of result.stream) {
      parts.push(part);
      if (part.type === 'text-delta') {
        firstDeltaMs ??= Date.now() - started;
        deltas.push(part.text);
        if (deltas.length === opts.abortAfterDeltas) ctrl.abort();
      }
    }
  } catch (err) {
    thrown = err;
  }
  const usage = await Promise.resolve(result.usage).then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  await new Promise((r) => setTimeout(r, 20)); // let trailing callbacks settle
  return { parts, deltas, text: deltas.join(''), thrown, usage, calls, firstDeltaMs };
}

const partsOf = <T extends Part['type']>(parts: Part[], type: T) =>
  parts.filter((p): p is Extract<Part, { type: T }> => p.type === type);

describe('model stand-in as Anthropic, through the real AI SDK', () => {
  it('streams the deterministic text one token per delta, with usage equal to the server counts', async () => {
    const before = { ...server.stats };
    const r = await run();

    expect(r.thrown).toBeUndefined();
    expect(r.text).toBe(ECHO);
    expect(r.text).toMatch(/^Our shoes are light/);
    expect(r.deltas).toHaveLength(countTokens(PROMPT));
    expect(countTokens(r.text)).toBe(r.deltas.length);

    const servedIn = server.stats.promptTokens - before.promptTokens;
    const out = r.deltas.length;
    expect(servedIn).toBeGreaterThan(countTokens(PROMPT));
    expect(server.stats.completionTokens - before.completionTokens).toBe(out);
    expect(r.usage.ok).toBe(true);
    expect(r.usage.ok && r.usage.value).toMatchObject({
      inputTokens: servedIn,
      inputTokenDetails: { noCacheTokens: servedIn, cacheReadTokens: 0, cacheWriteTokens: 0 },
      outputTokens: out,
      totalTokens: servedIn + out,
      raw: { input_tokens: servedIn, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, output_tokens: out },
    });
    expect(partsOf(r.parts, 'finish')).toHaveLength(1);
    expect(partsOf(r.parts, 'finish')[0]).toMatchObject({
      finishReason: 'stop',
      rawFinishReason: 'end_turn',
      totalUsage: { inputTokens: servedIn, outputTokens: out },
    });
    expect(partsOf(r.parts, 'text-start')).toHaveLength(1);
    expect(partsOf(r.parts, 'text-end')).toHaveLength(1);
    expect(r.calls.onEnd).toHaveLength(1);
    expect(r.calls.onEnd[0]).toMatchObject({ finishReason: 'stop', text: ECHO });
    expect(r.calls.onError).toEqual([]);

    expect(server.stats.completions - before.completions).toBe(1);
    expect(server.stats.completed - before.completed).toBe(1);
    expect(server.stats.cachedTokens).toBe(before.cachedTokens);
    expect(server.lastRequestBody).toMatchObject({
      model: MODEL_ID,
      stream: true,
      max_tokens: expect.any(Number),
      messages: [{ role: 'user', content: [{ type: 'text', text: PROMPT }] }],
    });
  });

  it('counts a system prompt (sent top-level) in the input tokens', async () => {
    const plain = await run();
    const withSystem = await run({ system: 'You rewrite marketing copy. Keep the meaning, fix the tone.' });
    expect(server.lastRequestBody).toMatchObject({
      system: [{ type: 'text', text: 'You rewrite marketing copy. Keep the meaning, fix the tone.' }],
      messages: [{ role: 'user' }],
    });
    expect(withSystem.text).toBe(ECHO); // the answer comes from the last user message only
    const inOf = (r: typeof plain) => (r.usage.ok ? r.usage.value.inputTokens! : Number.NaN);
    expect(inOf(withSystem) - inOf(plain)).toBeGreaterThanOrEqual(
      countTokens('You rewrite marketing copy. Keep the meaning, fix the tone.'),
    );
  });

  it('caps the output at maxOutputTokens (max_tokens) with finish reason length / max_tokens', async () => {
    server.setOptions({ outputTokens: 500 });
    const r = await run({ maxOutputTokens: 7 });
    expect((server.lastRequestBody as { max_tokens?: number }).max_tokens).toBe(7);
    expect(r.deltas).toHaveLength(7);
    expect(countTokens(r.text)).toBe(7);
    expect(partsOf(r.parts, 'finish')[0]).toMatchObject({
      finishReason: 'length',
      rawFinishReason: 'max_tokens',
      totalUsage: { outputTokens: 7 },
    });
    expect(r.usage.ok && r.usage.value.outputTokens).toBe(7);
  });

  it('reports a repeated 1,024+ token prefix as cache reads; the SDK counts them inside inputTokens', async () => {
    const long = Array.from({ length: 260 }, (_, i) => `sentence ${i} is about shoes.`).join(' ');
    const usageOf = async (prompt: string) => {
      const r = await run({ prompt, maxOutputTokens: 5 });
      if (!r.usage.ok) throw r.usage.error;
      return r.usage.value;
    };
    const first = await usageOf(long);
    const p = first.inputTokens!;
    expect(p).toBeGreaterThan(1300);
    expect(first.inputTokenDetails).toMatchObject({ noCacheTokens: p, cacheReadTokens: 0, cacheWriteTokens: 0 });

    const before = server.stats.cachedTokens;
    const second = await usageOf(long);
    const cached = 1024 + Math.floor((p - 1024) / 128) * 128;
    expect(second.inputTokens).toBe(p); // the whole prompt: the SDK adds the cache reads back
    expect(second.inputTokenDetails).toMatchObject({ noCacheTokens: p - cached, cacheReadTokens: cached });
    expect(second.totalTokens).toBe(p + 5);
    // On the wire, as Anthropic counts: input_tokens excludes what was read from the cache.
    expect(second.raw).toMatchObject({ input_tokens: p - cached, cache_read_input_tokens: cached });
    expect(server.stats.cachedTokens - before).toBe(cached);

    // A short prompt is never cached; with the cache off nothing is.
    await usageOf(PROMPT);
    expect((await usageOf(PROMPT)).inputTokenDetails.cacheReadTokens).toBe(0);
    server.setOptions({ promptCache: false });
    try {
      expect((await usageOf(long)).inputTokenDetails.cacheReadTokens).toBe(0);
    } finally {
      server.setOptions({ promptCache: true });
    }
  });

  it('answers generateText (stream absent) with one JSON message', async () => {
    server.setOptions({ outputTokens: 50 });
    const r = await generateText({ model, prompt: PROMPT, maxOutputTokens: 5, maxRetries: 0 });
    expect((server.lastRequestBody as { stream?: unknown }).stream).toBeUndefined();
    expect(r.text).toBe(generatePieces(PROMPT, 5).join(''));
    expect(r.finishReason).toBe('length');
    expect(r.usage).toMatchObject({ outputTokens: 5, inputTokenDetails: { cacheReadTokens: 0 } });
    expect(r.usage.inputTokens).toBeGreaterThan(countTokens(PROMPT));
    expect(r.response.id).toMatch(/^msg_/);
  });

  const statusCases: [number, string, boolean][] = [
    [400, 'invalid_request_error', false],
    [401, 'authentication_error', false],
    [403, 'permission_error', false],
    [404, 'not_found_error', false],
    [429, 'rate_limit_error', true],
    [500, 'api_error', true],
    [529, 'overloaded_error', true],
  ];
  it.each(statusCases)(
    'a %i before the first token: an APICallError (%s, retryable %s), no text',
    async (status, type, retryable) => {
      const before = server.stats.completions;
      server.injectFault({ kind: 'status', status, message: `told to fail with ${status}` });
      const r = await run();

      expect(r.thrown).toBeUndefined();
      expect(r.deltas).toEqual([]);
      const errors = partsOf(r.parts, 'error');
      expect(errors).toHaveLength(1);
      const err = errors[0]!.error as APICallError;
      expect(APICallError.isInstance(err)).toBe(true);
      expect(err).toMatchObject({ statusCode: status, isRetryable: retryable, message: `told to fail with ${status}` });
      expect(err.data).toMatchObject({ type: 'error', error: { type, message: `told to fail with ${status}` } });
      expect(JSON.parse(err.responseBody!)).toMatchObject({ type: 'error', error: { type } });
      expect(err.responseHeaders?.['request-id']).toMatch(/^req_/);
      expect(partsOf(r.parts, 'finish')).toEqual([]);
      expect(r.calls.onError).toEqual([{ error: err }]);
      expect(r.calls.onEnd).toEqual([]);
      expect(!r.usage.ok && NoOutputGeneratedError.isInstance(r.usage.error)).toBe(true);
      expect(server.stats.completions - before).toBe(1); // maxRetries: 0 → no retry
    },
  );

  it('the SDK retries a 529 by itself when allowed (isRetryable), and the retry succeeds', async () => {
    const before = server.stats.completions;
    server.injectFault({ kind: 'status', status: 529 });
    const r = streamText({ model, prompt: PROMPT, maxRetries: 1 });
    expect(await r.text).toBe(ECHO);
    expect(server.stats.completions - before).toBe(2);
  });

  it('an error event mid-stream: text, an `error` part (overloaded, 529), finish with reason error', async () => {
    server.setOptions({ outputTokens: 200 });
    server.injectFault({ kind: 'error-mid-stream', afterChunks: 20 });
    const before = { ...server.stats };
    const r = await run();

    expect(r.thrown).toBeUndefined();
    expect(r.deltas).toHaveLength(20);
    expect(r.text).toBe(generatePieces(PROMPT, 20).join(''));
    expect(server.stats.completionTokens - before.completionTokens).toBe(20);
    const errors = partsOf(r.parts, 'error');
    expect(errors).toHaveLength(1);
    expect(StreamProviderError.isInstance(errors[0]!.error)).toBe(true);
    expect(errors[0]!.error).toMatchObject({ statusCode: 529, isRetryable: true, message: 'Overloaded' });
    const types = r.parts.map((p) => p.type);
    expect(types.lastIndexOf('text-delta')).toBeLessThan(types.indexOf('error'));
    expect(partsOf(r.parts, 'finish')[0]).toMatchObject({
      finishReason: 'error',
      totalUsage: { inputTokens: undefined, outputTokens: undefined },
    });
    expect(r.calls.onError).toHaveLength(1);
    expect(r.calls.onEnd).toHaveLength(1);
    expect(r.calls.onEnd[0]).toMatchObject({ finishReason: 'error', text: r.text });
    // No usage at all, not even the input tokens message_start gave: callers must count what streamed.
    expect(r.usage).toMatchObject({ ok: true, value: { inputTokens: undefined, outputTokens: undefined } });
    expect(server.stats.completed).toBe(before.completed);
  });

  it('a dropped connection mid-stream: text, then the stream throws an APICallError (no error part)', async () => {
    server.setOptions({ outputTokens: 200 });
    server.injectFault({ kind: 'drop-mid-stream', afterChunks: 15 });
    const before = { ...server.stats };
    const r = await run();

    expect(r.deltas).toHaveLength(15);
    expect(r.text).toBe(generatePieces(PROMPT, 15).join(''));
    expect(APICallError.isInstance(r.thrown)).toBe(true);
    expect(r.thrown).toMatchObject({
      message: 'Failed to process successful response',
      statusCode: 200,
      cause: expect.objectContaining({ message: 'terminated' }),
    });
    expect(partsOf(r.parts, 'error')).toEqual([]);
    expect(partsOf(r.parts, 'finish')).toEqual([]);
    expect(r.calls.onError).toEqual([]);
    expect(r.calls.onStepError).toHaveLength(1);
    expect(r.usage).toMatchObject({ ok: false, error: r.thrown });
    expect(server.stats.completionTokens - before.completionTokens).toBe(15);
    expect(server.stats.aborted).toBe(before.aborted);
    expect(server.stats.completed).toBe(before.completed);
  });

  it('a client abort stops the server and counts as aborted', async () => {
    server.setOptions({ outputTokens: 2000, tokensPerSecond: 200 });
    const before = { ...server.stats };
    const r = await run({ abortAfterDeltas: 10 });
    expect(r.deltas).toHaveLength(10);
    expect(partsOf(r.parts, 'abort')).toHaveLength(1);
    await expect.poll(() => server.stats.aborted).toBe(before.aborted + 1);
    const generated = server.stats.completionTokens - before.completionTokens;
    await new Promise((res) => setTimeout(res, 200));
    expect(server.stats.completionTokens - before.completionTokens).toBe(generated); // it really stopped
    expect(generated).toBeGreaterThanOrEqual(10);
    expect(generated).toBeLessThan(100);
  });

  it('slow-first-token delays the first delta, then streams normally', async () => {
    server.injectFault({ kind: 'slow-first-token', delayMs: 400 });
    const slow = await run();
    expect(slow.firstDeltaMs).toBeGreaterThanOrEqual(380);
    expect(slow.text).toBe(ECHO);
  });
});

describe('two stand-ins, one per provider, each with its own faults', () => {
  let openaiServer: ModelServer;
  beforeAll(async () => {
    openaiServer = await startModelServer();
  });
  afterAll(async () => {
    await openaiServer?.close();
  });

  it('a fault injected into the Anthropic one leaves the OpenAI one alone, and vice versa', async () => {
    const openai = createOpenAI({ baseURL: openaiServer.url, apiKey: 'test' }).chat('gpt-4o-mini');
    server.injectFault({ kind: 'status', status: 529 });
    openaiServer.injectFault({ kind: 'status', status: 429 });
    const before = { anthropic: { ...server.stats }, openai: { ...openaiServer.stats } };

    const failed = await run();
    expect(partsOf(failed.parts, 'error').map((p) => (p.error as APICallError).statusCode)).toEqual([529]);
    const openaiErrors: unknown[] = [];
    const openaiFailed = streamText({
      model: openai,
      prompt: PROMPT,
      maxRetries: 0,
      onError: ({ error }) => void openaiErrors.push(error),
    });
    await expect(openaiFailed.text).rejects.toThrow();
    expect(openaiErrors).toMatchObject([{ statusCode: 429 }]);

    // Both queues are now empty: each answers normally, the same deterministic words.
    const ok = await run();
    expect(ok.text).toBe(ECHO);
    expect(await streamText({ model: openai, prompt: PROMPT, maxRetries: 0 }).text).toBe(ECHO);

    expect(server.stats.completions - before.anthropic.completions).toBe(2);
    expect(openaiServer.stats.completions - before.openai.completions).toBe(2);
    expect(server.stats.completed - before.anthropic.completed).toBe(1);
    expect(openaiServer.stats.completed - before.openai.completed).toBe(1);
  });

  it('one instance speaks both protocols, sharing its stats', async () => {
    const before = { ...openaiServer.stats };
    const anthropic = createAnthropic({ baseURL: openaiServer.anthropicUrl, apiKey: 'test' })(MODEL_ID);
    const openai = createOpenAI({ baseURL: openaiServer.url, apiKey: 'test' }).chat('gpt-4o-mini');
    expect(await streamText({ model: anthropic, prompt: PROMPT, maxRetries: 0 }).text).toBe(ECHO);
    expect(await streamText({ model: openai, prompt: PROMPT, maxRetries: 0 }).text).toBe(ECHO);
    expect(openaiServer.stats.completions - before.completions).toBe(2);
    expect(openaiServer.stats.completed - before.completed).toBe(2);
    expect(openaiServer.stats.completionTokens - before.completionTokens).toBe(2 * countTokens(ECHO));
  });
});

describe('model stand-in as Anthropic, over plain HTTP', () => {
  const HEADERS = { 'Content-Type': 'application/json', 'x-api-key': 'test', 'anthropic-version': '2023-06-01' };
  const post = (body: string, headers: Record<string, string> = HEADERS) =>
    fetch(`${server.anthropicUrl}/messages`, { method: 'POST', headers, body });
  const msg = (extra: object = {}) =>
    JSON.stringify({ model: MODEL_ID, max_tokens: 100, messages: [{ role: 'user', content: PROMPT }], ...extra });
  const refusal = async (res: Response) => ({
    status: res.status,
    requestId: res.headers.get('request-id'),
    body: (await res.json()) as { type: string; error: { type: string; message: string } },
  });

  it('requires an x-api-key (401 authentication_error), even with a Bearer token, before counting a call', async () => {
    const before = server.stats.completions;
    const { 'x-api-key': _, ...noKey } = HEADERS;
    for (const headers of [noKey, { ...noKey, Authorization: 'Bearer test' }]) {
      const r = await refusal(await post(msg(), headers));
      expect(r).toMatchObject({
        status: 401,
        requestId: expect.stringMatching(/^req_/),
        body: { type: 'error', error: { type: 'authentication_error', message: 'x-api-key header is required' } },
      });
    }
    expect(server.stats.completions).toBe(before);
  });

  it('requires a known anthropic-version (400 invalid_request_error)', async () => {
    const { 'anthropic-version': _, ...noVersion } = HEADERS;
    expect(await refusal(await post(msg(), noVersion))).toMatchObject({
      status: 400,
      body: {
        type: 'error',
        error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' },
      },
    });
    const bad = await refusal(await post(msg(), { ...HEADERS, 'anthropic-version': '2099-01-01' }));
    expect(bad).toMatchObject({ status: 400, body: { error: { type: 'invalid_request_error' } } });
    expect(bad.body.error.message).toContain('anthropic-version');
  });

  it('refuses bodies Anthropic refuses, with a message naming the field', async () => {
    const user = { role: 'user', content: PROMPT };
    const cases: [string, string][] = [
      ['{"model":', 'not a JSON object'],
      ['[1]', 'not a JSON object'],
      [JSON.stringify({ model: MODEL_ID, messages: [user] }), 'max_tokens: Field required'],
      [msg({ max_tokens: 0 }), 'max_tokens: Input should be greater than or equal to 1'],
      [msg({ max_tokens: 2.5 }), 'max_tokens: Input should be a valid integer'],
      [msg({ max_tokens: '100' }), 'max_tokens: Input should be a valid integer'],
      [JSON.stringify({ max_tokens: 10, messages: [user] }), 'model: Field required'],
      [msg({ messages: undefined }), 'messages: Field required'],
      [msg({ messages: [] }), 'messages: at least one message is required'],
      [msg({ messages: [{ role: 'assistant', content: 'Hi' }, user] }), 'first message must use the "user" role'],
      [msg({ messages: [{ role: 'system', content: 'Be brief.' }, user] }), 'top-level `system` parameter'],
      [msg({ messages: [{ role: 'tool', content: 'x' }] }), "messages.0.role: Input should be 'user' or 'assistant'"],
      [msg({ messages: [{ role: 'user' }] }), 'messages.0.content: Field required'],
      [msg({ messages: [{ role: 'user', content: '' }] }), 'messages.0: all messages must have non-empty content'],
      [msg({ messages: [{ role: 'user', content: [{ type: 'text', text: '' }] }] }), 'text content blocks must be'],
      [msg({ messages: [{ role: 'user', content: [{ text: 'hi' }] }] }), 'messages.0.content.0.type: Field required'],
      [msg({ messages: [{ role: 'user', content: [{ type: 'text' }] }] }), 'messages.0.content.0.text: Field required'],
      [msg({ system: 42 }), 'system: Input should be a valid string or list'],
      [msg({ system: [{ type: 'image' }] }), "system.0.type: Input should be 'text'"],
      [msg({ stream: 'yes' }), 'stream: Input should be a valid boolean'],
      [msg({ temperature: 1.5 }), 'temperature'],
    ];
    const before = server.stats.completions;
    for (const [body, message] of cases) {
      const r = await refusal(await post(body));
      expect(r.status, body).toBe(400);
      expect(r.requestId).toMatch(/^req_/);
      expect(r.body, body).toMatchObject({
        type: 'error',
        error: { type: 'invalid_request_error', message: expect.stringContaining(message) },
      });
    }
    expect(server.stats.completions - before).toBe(cases.length); // authorized calls, counted like OpenAI's
    // An empty final assistant turn (a prefill) is allowed.
    const prefill = await post(msg({ messages: [user, { role: 'assistant', content: '' }] }));
    expect(prefill.status).toBe(200);
    await prefill.text();
  });

  it('streams the events in Anthropic order, each `event:` line naming its data type', async () => {
    server.setOptions({ outputTokens: 4 });
    const res = await post(msg({ stream: true }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('request-id')).toMatch(/^req_/);
    const events = (await res.text())
      .trim()
      .split('\n\n')
      .map((block) => {
        const [eventLine, dataLine] = block.split('\n');
        return { event: eventLine!.replace(/^event: /, ''), data: JSON.parse(dataLine!.replace(/^data: /, '')) };
      });
    for (const e of events) expect(e.data.type).toBe(e.event);
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const start = events[0]!.data;
    expect(start.message).toMatchObject({
      id: expect.stringMatching(/^msg_/),
      type: 'message',
      role: 'assistant',
      model: MODEL_ID,
      content: [],
      stop_reason: null,
      usage: { input_tokens: expect.any(Number), cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
    });
    expect(events[1]!.data).toEqual({
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    });
    const text = events
      .filter((e) => e.event === 'content_block_delta')
      .map((e) => (e.data as { delta: { type: string; text: string } }).delta)
      .map((d) => (expect(d.type).toBe('text_delta'), d.text))
      .join('');
    expect(text).toBe(generatePieces(PROMPT, 4).join(''));
    expect(events[8]!.data).toMatchObject({
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 4 },
    });
  });

  it('answers stream: false with a message object and exact usage', async () => {
    const res = await post(msg({ max_tokens: 5 }));
    expect(res.headers.get('request-id')).toMatch(/^req_/);
    const json = (await res.json()) as {
      id: string;
      type: string;
      role: string;
      content: { type: string; text: string }[];
      stop_reason: string;
      usage: { input_tokens: number; output_tokens: number; cache_read_input_tokens: number };
    };
    expect(json).toMatchObject({ type: 'message', role: 'assistant', model: MODEL_ID, stop_reason: 'max_tokens' });
    expect(json.id).toMatch(/^msg_/);
    expect(json.content).toEqual([{ type: 'text', text: generatePieces(PROMPT, 5).join('') }]);
    expect(json.usage).toMatchObject({ output_tokens: 5, cache_read_input_tokens: 0 });
    expect(json.usage.input_tokens).toBeGreaterThan(countTokens(PROMPT));
  });

  it('lists a model on GET /v1/models with an x-api-key, and keeps Bearer auth for the OpenAI routes', async () => {
    const models = await fetch(`${server.anthropicUrl}/models`, { headers: HEADERS });
    expect(await models.json()).toMatchObject({ data: [{ type: 'model', id: MODEL_ID }], has_more: false });
    const unknown = await refusal(await fetch(`${server.anthropicUrl}/nope`, { headers: HEADERS }));
    expect(unknown).toMatchObject({ status: 404, body: { type: 'error', error: { type: 'not_found_error' } } });
    // An x-api-key does not open the OpenAI route: it still wants its Bearer key, and answers OpenAI-shaped.
    const openai = await fetch(`${server.url}/chat/completions`, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: PROMPT }] }),
    });
    expect(openai.status).toBe(401);
    expect(await openai.json()).toMatchObject({ error: { code: 'invalid_api_key' } });
  });
});
