/**
 * The offline model stand-in driven by the REAL AI SDK (`ai` v7 `streamText` + `@ai-sdk/openai` v4
 * `provider.chat()`), so these tests also pin down how the SDK surfaces each outcome. What we observed
 * (ai 7.0.173, @ai-sdk/openai 4.0.118, maxRetries: 0):
 *
 * - success: `stream` parts are start, start-step, text-start, text-delta ({ text }) × N, text-end,
 *   finish-step ({ finishReason, usage }), finish ({ finishReason, rawFinishReason, totalUsage }). The role
 *   chunk's `content: ""` produces no text-delta. `onEnd(event)` fires with event.usage / event.totalUsage
 *   (LanguageModelUsage: inputTokens, outputTokens, totalTokens, …) and `await result.usage` resolves to
 *   the same numbers the server put in its usage chunk.
 * - HTTP 500 before any token: the stream does NOT throw; it yields a single `error` part whose error is an
 *   `APICallError` (statusCode 500, isRetryable true, message = the error JSON's message), then ends.
 *   `onError({ error })` and `onStepError` fire, `onEnd` does not, and `await result.usage` (and `.text`)
 *   rejects with `NoOutputGeneratedError`.
 * - error chunk mid-stream: the text so far, then an `error` part (`StreamProviderError`, statusCode 500),
 *   then text-end / finish-step / finish with finishReason 'error' and EMPTY usage (all undefined: the usage
 *   chunk never came). The stream does not throw; `onError` fires, then `onEnd` (finishReason 'error');
 *   `await result.usage` resolves with undefined counts. Callers must count the streamed text themselves.
 * - dropped connection mid-stream: the text so far, then iterating the stream THROWS an `APICallError`
 *   ('Failed to process successful response', statusCode 200, cause TypeError 'terminated' /
 *   UND_ERR_SOCKET). No `error` part, `onError` is NOT called, `onStepError` is, `onEnd` is not, and
 *   `await result.usage` rejects with that same error.
 * - client abort (abortSignal): the stream yields an `abort` part ({ reason }) and ends without throwing;
 *   `onAbort({ callId, steps, reason })` fires (steps: [] when aborted within the first step), `onEnd` and
 *   `onError` do not; `await result.usage` rejects with the AbortError (DOMException). The server sees the
 *   socket close and stops generating (stats.aborted).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  APICallError,
  NoOutputGeneratedError,
  StreamProviderError,
  streamText,
  type TextStreamPart,
  type ToolSet,
} from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { countTokens } from 'gpt-tokenizer/model/gpt-4o';
import { startModelServer, type ModelServer } from '../../standins/model';

let server: ModelServer;
let model: ReturnType<ReturnType<typeof createOpenAI>['chat']>;
const PROMPT = 'Our shoes are light, fast and made from recycled plastic bottles.';

beforeAll(async () => {
  server = await startModelServer();
  model = createOpenAI({ baseURL: server.url, apiKey: 'test' }).chat('gpt-4o-mini');
});
afterAll(async () => {
  await server?.close();
});
beforeEach(() => {
  server.clearFaults();
  server.clearPromptCache();
  server.setOptions({ tokensPerSecond: 0, firstTokenDelayMs: 0, outputTokens: 'echo', reasoningModels: [] });
});

type Part = TextStreamPart<ToolSet>;

/** Runs streamText and records every part, callback and the promise outcomes. */
async function run(opts: { maxOutputTokens?: number; abortAfterDeltas?: number; prompt?: string } = {}) {
  const ctrl = new AbortController();
  const calls: { onEnd: unknown[]; onError: unknown[]; onAbort: unknown[]; onStepError: unknown[] } = {
    onEnd: [],
    onError: [],
    onAbort: [],
    onStepError: [],
  };
  const started = Date.now();
  const result = streamText({
    model,
    prompt: opts.prompt ?? PROMPT,
    maxRetries: 0,
    abortSignal: ctrl.signal,
    ...(opts.maxOutputTokens ? { maxOutputTokens: opts.maxOutputTokens } : {}),
    onEnd: (e) => void calls.onEnd.push(e),
    onError: (e) => void calls.onError.push(e),
    onAbort: (e) => void calls.onAbort.push(e),
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
  const elapsedMs = Date.now() - started;
  const usage = await Promise.resolve(result.usage).then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  await new Promise((r) => setTimeout(r, 20)); // let trailing callbacks settle
  return { result, parts, deltas, text: deltas.join(''), thrown, usage, calls, firstDeltaMs, elapsedMs };
}

const partsOf = <T extends Part['type']>(parts: Part[], type: T) =>
  parts.filter((p): p is Extract<Part, { type: T }> => p.type === type);

describe('model stand-in through the real AI SDK', () => {
  it('streams one token per chunk and reports usage equal to the server counts and to gpt-tokenizer', async () => {
    const before = { ...server.stats };
    const r = await run();

    expect(r.thrown).toBeUndefined();
    expect(r.deltas.length).toBeGreaterThan(1);
    expect(r.text).toMatch(/^Our shoes are light/);
    const outTokens = countTokens(r.text);
    expect(r.deltas.length).toBe(outTokens); // one token per content chunk
    expect(outTokens).toBe(countTokens(PROMPT)); // 'echo': as many tokens as the user message

    expect(r.usage.ok).toBe(true);
    const usage = r.usage.ok ? r.usage.value : undefined;
    const servedOut = server.stats.completionTokens - before.completionTokens;
    const servedIn = server.stats.promptTokens - before.promptTokens;
    expect(usage).toMatchObject({ inputTokens: servedIn, outputTokens: outTokens, totalTokens: servedIn + outTokens });
    expect(servedOut).toBe(outTokens);
    expect(servedIn).toBeGreaterThan(countTokens(PROMPT)); // chat framing on top of the content

    const finish = partsOf(r.parts, 'finish');
    expect(finish).toHaveLength(1);
    expect(finish[0]).toMatchObject({
      finishReason: 'stop',
      rawFinishReason: 'stop',
      totalUsage: { inputTokens: servedIn, outputTokens: outTokens },
    });
    expect(partsOf(r.parts, 'finish-step')[0]).toMatchObject({
      finishReason: 'stop',
      usage: { inputTokens: servedIn, outputTokens: outTokens },
    });

    expect(r.calls.onEnd).toHaveLength(1);
    expect(r.calls.onEnd[0]).toMatchObject({
      finishReason: 'stop',
      text: r.text,
      usage: { inputTokens: servedIn, outputTokens: outTokens },
      totalUsage: { outputTokens: outTokens },
    });
    expect(r.calls.onError).toEqual([]);
    expect(r.calls.onAbort).toEqual([]);

    expect(server.stats.completions - before.completions).toBe(1);
    expect(server.stats.completed - before.completed).toBe(1);
    expect(server.lastRequestBody).toMatchObject({
      model: 'gpt-4o-mini',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: PROMPT }],
    });
  });

  it('caps the output at maxOutputTokens (sent as max_tokens for gpt-4o-mini) with finish reason length', async () => {
    server.setOptions({ outputTokens: 500 });
    const r = await run({ maxOutputTokens: 7 });
    const body = server.lastRequestBody as { max_tokens?: number; max_completion_tokens?: number };
    expect(body.max_tokens).toBe(7);
    expect(body.max_completion_tokens).toBeUndefined();
    expect(countTokens(r.text)).toBe(7);
    expect(r.deltas).toHaveLength(7);
    expect(partsOf(r.parts, 'finish')[0]).toMatchObject({
      finishReason: 'length',
      rawFinishReason: 'length',
      totalUsage: { outputTokens: 7 },
    });
    expect(r.usage.ok && r.usage.value.outputTokens).toBe(7);
  });

  it('a 500 before the first token: an `error` part (APICallError), onError, no throw, usage rejects', async () => {
    const before = server.stats.completions;
    server.injectFault({ kind: 'status', status: 500, message: 'upstream exploded' });
    const r = await run();

    expect(r.thrown).toBeUndefined();
    expect(r.deltas).toEqual([]);
    const errors = partsOf(r.parts, 'error');
    expect(errors).toHaveLength(1);
    const err = errors[0]!.error;
    expect(APICallError.isInstance(err)).toBe(true);
    expect(err).toMatchObject({ statusCode: 500, message: 'upstream exploded', isRetryable: true });
    expect(partsOf(r.parts, 'finish')).toEqual([]);

    expect(r.calls.onError).toEqual([{ error: err }]);
    expect(r.calls.onStepError).toHaveLength(1);
    expect(r.calls.onEnd).toEqual([]);
    expect(r.usage.ok).toBe(false);
    expect(!r.usage.ok && NoOutputGeneratedError.isInstance(r.usage.error)).toBe(true);
    expect(server.stats.completions - before).toBe(1); // maxRetries: 0 → no retry
  });

  it('an error chunk mid-stream: text, then an `error` part, then finish with reason error and no usage', async () => {
    server.setOptions({ outputTokens: 200 });
    server.injectFault({ kind: 'error-mid-stream', afterChunks: 20 });
    const before = { ...server.stats };
    const r = await run();

    expect(r.thrown).toBeUndefined();
    expect(r.deltas).toHaveLength(20);
    expect(countTokens(r.text)).toBe(20);
    expect(server.stats.completionTokens - before.completionTokens).toBe(20);
    const errors = partsOf(r.parts, 'error');
    expect(errors).toHaveLength(1);
    expect(StreamProviderError.isInstance(errors[0]!.error)).toBe(true);
    expect(errors[0]!.error).toMatchObject({ statusCode: 500, isRetryable: true });
    // The error part comes after the text and before the (usage-less) finish.
    const types = r.parts.map((p) => p.type);
    expect(types.lastIndexOf('text-delta')).toBeLessThan(types.indexOf('error'));
    expect(partsOf(r.parts, 'finish')[0]).toMatchObject({
      finishReason: 'error',
      totalUsage: { inputTokens: undefined, outputTokens: undefined },
    });

    expect(r.calls.onError).toHaveLength(1);
    expect(r.calls.onEnd).toHaveLength(1);
    expect(r.calls.onEnd[0]).toMatchObject({ finishReason: 'error', text: r.text });
    expect(r.usage).toMatchObject({ ok: true, value: { inputTokens: undefined, outputTokens: undefined } });
    expect(server.stats.completed).toBe(before.completed);
  });

  it('a dropped connection mid-stream: text, then the stream throws (no error part, no onError)', async () => {
    server.setOptions({ outputTokens: 200 });
    server.injectFault({ kind: 'drop-mid-stream', afterChunks: 15 });
    const before = { ...server.stats };
    const r = await run();

    expect(countTokens(r.text)).toBe(15);
    expect(r.deltas).toHaveLength(15);
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
    expect(r.calls.onEnd).toEqual([]);
    expect(r.usage).toMatchObject({ ok: false, error: r.thrown });
    expect(server.stats.completionTokens - before.completionTokens).toBe(15);
    expect(server.stats.aborted).toBe(before.aborted); // a server-side drop is not a client abort
  });

  it('a client abort stops the server; the SDK yields an `abort` part, calls onAbort and rejects usage', async () => {
    server.setOptions({ outputTokens: 2000, tokensPerSecond: 200 });
    const before = { ...server.stats };
    const r = await run({ abortAfterDeltas: 10 });

    expect(r.thrown).toBeUndefined();
    expect(r.deltas).toHaveLength(10);
    expect(partsOf(r.parts, 'abort')).toHaveLength(1);
    expect(partsOf(r.parts, 'finish')).toEqual([]);
    expect(r.calls.onAbort).toHaveLength(1);
    expect(r.calls.onAbort[0]).toMatchObject({
      callId: expect.any(String),
      steps: [],
      reason: expect.objectContaining({ name: 'AbortError' }),
    });
    expect(r.calls.onEnd).toEqual([]);
    expect(r.calls.onError).toEqual([]);
    expect(r.usage.ok).toBe(false);
    expect(!r.usage.ok && (r.usage.error as Error).name).toBe('AbortError');

    await expect.poll(() => server.stats.aborted).toBe(before.aborted + 1);
    const generated = server.stats.completionTokens - before.completionTokens;
    await new Promise((res) => setTimeout(res, 200));
    expect(server.stats.completionTokens - before.completionTokens).toBe(generated); // it really stopped
    expect(generated).toBeGreaterThanOrEqual(10);
    expect(generated).toBeLessThan(100);
    expect(server.stats.completed).toBe(before.completed);
  });

  it('slow-first-token and firstTokenDelayMs delay the first chunk', async () => {
    server.injectFault({ kind: 'slow-first-token', delayMs: 400 });
    const slow = await run();
    expect(slow.firstDeltaMs).toBeGreaterThanOrEqual(380);
    expect(countTokens(slow.text)).toBe(countTokens(PROMPT)); // then streams normally

    server.setOptions({ firstTokenDelayMs: 250 });
    const delayed = await run();
    expect(delayed.firstDeltaMs).toBeGreaterThanOrEqual(230);
  });

  it('tokensPerSecond paces the stream roughly proportionally', async () => {
    server.setOptions({ outputTokens: 41, tokensPerSecond: 200 }); // 40 gaps → ≥ 200 ms
    const fast = await run();
    server.setOptions({ tokensPerSecond: 100 }); // → ≥ 400 ms
    const slow = await run();
    expect(fast.deltas).toHaveLength(41);
    expect(slow.deltas).toHaveLength(41);
    expect(fast.elapsedMs - fast.firstDeltaMs!).toBeGreaterThanOrEqual(160);
    expect(slow.elapsedMs - slow.firstDeltaMs!).toBeGreaterThanOrEqual(320);
  });
});

describe('model stand-in over plain HTTP', () => {
  const post = (body: string, headers: Record<string, string> = { Authorization: 'Bearer test' }) =>
    fetch(`${server.url}/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body,
    });
  const chat = (extra: object = {}) =>
    JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: PROMPT }], ...extra });

  it('requires a bearer token, rejects bad JSON, and lists the model', async () => {
    const noAuth = await post(chat(), {});
    expect(noAuth.status).toBe(401);
    expect(await noAuth.json()).toMatchObject({
      error: { message: expect.any(String), type: 'invalid_request_error', code: 'invalid_api_key' },
    });

    const bad = await post('{"model":');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { message: expect.any(String), type: 'invalid_request_error' } });

    const models = await fetch(`${server.url}/models`, { headers: { Authorization: 'Bearer x' } });
    expect(await models.json()).toMatchObject({ object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model' }] });
  });

  it('reports a repeated prompt prefix of 1,024+ tokens as cached input (1,024, then steps of 128), per model', async () => {
    const long = Array.from({ length: 260 }, (_, i) => `sentence ${i} is about shoes.`).join(' ');
    const usageOf = async (prompt: string) => {
      const r = await run({ prompt, maxOutputTokens: 5 });
      if (!r.usage.ok) throw r.usage.error;
      return r.usage.value;
    };
    const first = await usageOf(long);
    const p = first.inputTokens!;
    expect(p).toBeGreaterThan(1300);
    expect(first.inputTokenDetails.cacheReadTokens).toBe(0);
    const second = await usageOf(long);
    expect(second.inputTokens).toBe(p); // cached tokens are part of the input, not extra
    expect(second.inputTokenDetails.cacheReadTokens).toBe(1024 + Math.floor((p - 1024) / 128) * 128);
    expect(second.inputTokenDetails.noCacheTokens).toBe(p - second.inputTokenDetails.cacheReadTokens!);
    // Same first 1,024+ tokens, another ending: the shared prefix only, rounded down to a step.
    const third = await usageOf(`${long.slice(0, 6000)} and then something else entirely`);
    expect(third.inputTokenDetails.cacheReadTokens).toBeGreaterThanOrEqual(1024);
    expect(third.inputTokenDetails.cacheReadTokens! % 128).toBe(0);
    expect(third.inputTokenDetails.cacheReadTokens).toBeLessThan(second.inputTokenDetails.cacheReadTokens!);
    // A short prompt is never cached; another model has its own cache.
    await usageOf(PROMPT);
    expect((await usageOf(PROMPT)).inputTokenDetails.cacheReadTokens).toBe(0);
    const other = createOpenAI({ baseURL: server.url, apiKey: 'test' }).chat('gpt-4.1-mini');
    const r = streamText({ model: other, prompt: long, maxOutputTokens: 5, maxRetries: 0 });
    expect((await r.usage).inputTokenDetails.cacheReadTokens).toBe(0);
    // Off: nothing is cached.
    server.setOptions({ promptCache: false });
    try {
      expect((await usageOf(long)).inputTokenDetails.cacheReadTokens).toBe(0);
    } finally {
      server.setOptions({ promptCache: true });
    }
  });

  it('a reasoning model reports reasoning tokens inside completion_tokens, within max_tokens', async () => {
    server.setOptions({ reasoningModels: ['gpt-4o-mini'], reasoningTokens: 20 });
    const r = await run({ maxOutputTokens: 200 });
    if (!r.usage.ok) throw r.usage.error;
    expect(r.usage.value.outputTokenDetails.reasoningTokens).toBe(20);
    expect(r.usage.value.outputTokens).toBe(countTokens(r.text) + 20);
    expect(r.usage.value.outputTokenDetails.textTokens).toBe(countTokens(r.text));
    const capped = await run({ maxOutputTokens: 25 });
    if (!capped.usage.ok) throw capped.usage.error;
    expect(capped.usage.value.outputTokens).toBe(25);
    expect(capped.deltas).toHaveLength(5);
  });

  it('answers stream: false with a chat.completion and exact usage', async () => {
    const res = await post(chat({ max_completion_tokens: 5 }));
    const json = (await res.json()) as {
      object: string;
      choices: { message: { content: string }; finish_reason: string }[];
      usage: { completion_tokens: number; prompt_tokens: number; total_tokens: number };
    };
    expect(json.object).toBe('chat.completion');
    expect(json.choices[0]!.finish_reason).toBe('length');
    expect(countTokens(json.choices[0]!.message.content)).toBe(5);
    expect(json.usage).toMatchObject({ completion_tokens: 5, total_tokens: json.usage.prompt_tokens + 5 });
  });

  it('applies an injected fault to exactly the next `times` requests', async () => {
    server.injectFault({ kind: 'status', status: 429, message: 'slow down' }, 2);
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const res = await post(chat());
      statuses.push(res.status);
      await res.text();
    }
    expect(statuses).toEqual([429, 429, 200]);
  });
});
