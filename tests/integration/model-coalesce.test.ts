/**
 * The text-delta coalescer between the real provider SDKs and the model stand-in (both protocols): the same text,
 * finish reason, usage and failures as without it, in fewer text parts, and the first text no later.
 */
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { APICallError, streamText, type LanguageModel, type TextStreamPart, type ToolSet } from 'ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { coalescingFetch } from '../../api/model/coalesce';
import { type ModelServer, startModelServer } from '../../standins/model';

let server: ModelServer;
const PROMPT = 'Our shoes are light, fast and made from recycled plastic bottles, and they are on sale this week.';
const WINDOW_MS = 25;

beforeAll(async () => {
  server = await startModelServer();
});
afterAll(async () => {
  await server?.close();
});
beforeEach(() => {
  server.clearFaults();
  server.clearPromptCache();
  // One token every 2 ms: several per window.
  server.setOptions({ tokensPerSecond: 500, firstTokenDelayMs: 0, outputTokens: 60, script: null });
});

const models = (coalesce: boolean): Record<'openai' | 'anthropic', LanguageModel> => {
  const fetch = coalesce ? coalescingFetch(globalThis.fetch, { windowMs: WINDOW_MS }) : undefined;
  return {
    openai: createOpenAI({ baseURL: server.url, apiKey: 'test', ...(fetch ? { fetch } : {}) }).chat('gpt-4o-mini'),
    anthropic: createAnthropic({ baseURL: server.anthropicUrl, apiKey: 'test', ...(fetch ? { fetch } : {}) })(
      'claude-haiku-4-5',
    ),
  };
};

async function run(model: LanguageModel, maxOutputTokens = 500) {
  const result = streamText({ model, prompt: PROMPT, maxRetries: 0, maxOutputTokens, onError: () => {} });
  const parts: TextStreamPart<ToolSet>[] = [];
  let thrown: unknown;
  try {
    for await (const p of result.stream) {
      parts.push(p);
    }
  } catch (err) {
    thrown = err;
  }
  const deltas = parts.flatMap((p) => (p.type === 'text-delta' ? [p.text] : []));
  const finish = parts.find((p) => p.type === 'finish');
  return {
    text: deltas.join(''),
    deltas: deltas.length,
    first: deltas[0],
    thrown,
    errors: parts.filter((p) => p.type === 'error').length,
    finish: finish && { reason: finish.finishReason, usage: finish.totalUsage },
    types: [...new Set(parts.map((p) => p.type))],
  };
}

describe.each(['openai', 'anthropic'] as const)('coalesced %s stream, real SDK', (protocol) => {
  it('same text, finish and usage as uncoalesced, in fewer text parts', async () => {
    const plain = await run(models(false)[protocol]);
    const merged = await run(models(true)[protocol]);
    expect(plain.deltas).toBe(60);
    expect(merged.text).toBe(plain.text);
    expect(merged.finish).toEqual(plain.finish);
    expect(merged.finish?.usage.outputTokens).toBe(60);
    expect(merged.types).toEqual(plain.types);
    // 60 tokens over ~120 ms in 25 ms windows: a handful of parts (timing on a loaded machine varies, never 60).
    expect(merged.deltas).toBeLessThan(30);
    expect(merged.deltas).toBeGreaterThan(1);
  });

  it('the length cap and a cut answer come through the same', async () => {
    server.setOptions({ outputTokens: 200 });
    const plain = await run(models(false)[protocol], 50);
    const merged = await run(models(true)[protocol], 50);
    expect(plain.finish?.reason).toBe('length');
    expect(merged.text).toBe(plain.text);
    expect(merged.finish).toEqual(plain.finish);
  });

  it('an error mid-stream: every token sent before it, then the error, as without merging', async () => {
    server.injectFault({ kind: 'error-mid-stream', afterChunks: 25 }, 2);
    const plain = await run(models(false)[protocol]);
    const merged = await run(models(true)[protocol]);
    expect(plain.errors).toBe(1);
    expect(merged.errors).toBe(1);
    expect(merged.text).toBe(plain.text);
    expect(merged.finish).toEqual(plain.finish);
  });

  it('a dropped connection: the text that arrived, then the same thrown error', async () => {
    server.injectFault({ kind: 'drop-mid-stream', afterChunks: 20 }, 2);
    const plain = await run(models(false)[protocol]);
    const merged = await run(models(true)[protocol]);
    expect(APICallError.isInstance(plain.thrown)).toBe(true);
    expect(APICallError.isInstance(merged.thrown)).toBe(true);
    expect(merged.text).toBe(plain.text);
  });

  it('an error status before any token is the same APICallError', async () => {
    server.injectFault({ kind: 'status', status: 429, message: 'slow down' }, 2);
    const plain = await run(models(false)[protocol]);
    const merged = await run(models(true)[protocol]);
    expect(plain.errors).toBe(1);
    expect(merged.errors).toBe(1);
    expect(merged.text).toBe('');
  });

  it('the first text is not held back: its part is the first token alone, as without merging', async () => {
    // Tokens come faster than the window: held back, the first part would carry several.
    const plain = await run(models(false)[protocol]);
    const merged = await run(models(true)[protocol]);
    expect(merged.first).toBe(plain.first);
    expect(merged.first!.length).toBeLessThan(merged.text.length / 10);
  });
});
