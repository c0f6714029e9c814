/**
 * The text-delta coalescer (api/model/coalesce.ts) on hand-made event streams, with an injected timer: what is
 * merged, what is passed through verbatim, in what order, and when.
 */
import { describe, expect, it } from 'vitest';
import { coalesceEvents, coalescingFetch, textDeltaOf } from '../../api/model/coalesce';

const enc = new TextEncoder();
const openAi = (content: string, extra: Record<string, unknown> = {}, choice: Record<string, unknown> = {}) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null, ...choice }], ...extra })}\n\n`;
const anthropic = (text: string, index = 0) =>
  `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } })}\n\n`;

/** A fake clock: timers run only when `fire()` is called. */
function fakeTimers() {
  const timers = new Map<number, () => void>();
  let next = 1;
  return {
    setTimer: (fn: () => void) => {
      timers.set(next, fn);
      return next++;
    },
    clearTimer: (h: unknown) => void timers.delete(h as number),
    fire() {
      const fns = [...timers.values()];
      timers.clear();
      for (const fn of fns) fn();
    },
    get pending() {
      return timers.size;
    },
  };
}

/** A body whose chunks the test pushes, and the coalesced output's events as they come. */
function harness(windowMs = 16) {
  const clock = fakeTimers();
  let push!: (s: string) => void;
  let end!: () => void;
  let fail!: (e: Error) => void;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      push = (s) => c.enqueue(enc.encode(s));
      end = () => c.close();
      fail = (e) => c.error(e);
    },
  });
  const out = coalesceEvents(body, { windowMs, setTimer: clock.setTimer, clearTimer: clock.clearTimer });
  const seen: string[] = [];
  let error: unknown;
  let finished = false;
  const dec = new TextDecoder();
  const done = (async () => {
    const reader = out.getReader();
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        seen.push(dec.decode(r.value));
      }
    } catch (e) {
      error = e;
    }
    finished = true;
  })();
  const tick = () => new Promise((r) => setTimeout(r, 0));
  return {
    clock,
    push: async (s: string) => {
      push(s);
      await tick();
    },
    end: async () => {
      end();
      await done;
    },
    fail: async (e: Error) => {
      fail(e);
      await done;
    },
    seen,
    get text() {
      return seen.join('');
    },
    get error() {
      return error;
    },
    get finished() {
      return finished;
    },
    out,
  };
}

/** The texts of the OpenAI/Anthropic deltas in an event stream's text, event by event. */
const deltas = (s: string) =>
  s
    .split('\n\n')
    .filter(Boolean)
    .map((b) => textDeltaOf(b)?.text ?? `[${b.split('\n').at(-1)}]`);

describe('coalesceEvents', () => {
  it('passes the first text at once, then merges what arrives within the window into one event', async () => {
    const h = harness();
    await h.push(openAi('Hello'));
    expect(deltas(h.text)).toEqual(['Hello']);
    await h.push(openAi(' big'));
    await h.push(openAi(' wide'));
    await h.push(openAi(' world'));
    expect(deltas(h.text)).toEqual(['Hello']); // waiting for the window
    expect(h.clock.pending).toBe(1);
    h.clock.fire();
    await Promise.resolve();
    expect(deltas(h.text)).toEqual(['Hello', ' big wide world']);
    await h.push(openAi('!'));
    h.clock.fire();
    await h.end();
    expect(deltas(h.text)).toEqual(['Hello', ' big wide world', '!']);
  });

  it('keeps the merged event the first one with only its text changed (id, model, other fields as they came)', async () => {
    const h = harness();
    await h.push(openAi('a'));
    await h.push(openAi('b', { model: 'gpt-4o-mini', obfuscation: 'xyz' }));
    await h.push(openAi('c', { model: 'gpt-4o-mini', obfuscation: 'qq' }));
    await h.end();
    const events = h.text.split('\n\n').filter(Boolean);
    expect(events).toHaveLength(2);
    expect(JSON.parse(events[1]!.slice(6))).toEqual({
      id: 'c1',
      object: 'chat.completion.chunk',
      model: 'gpt-4o-mini',
      obfuscation: 'xyz',
      choices: [{ index: 0, delta: { content: 'bc' }, finish_reason: null }],
    });
  });

  it('flushes waiting text before any other event, which then goes verbatim and in order', async () => {
    const h = harness();
    const role = `data: ${JSON.stringify({ id: 'c1', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\n`;
    const finish = `data: ${JSON.stringify({ id: 'c1', choices: [{ index: 0, delta: {}, finish_reason: 'length' }] })}\n\n`;
    const usage = `data: ${JSON.stringify({ id: 'c1', choices: [], usage: { prompt_tokens: 3, completion_tokens: 4 } })}\n\n`;
    await h.push(role);
    await h.push(openAi('one'));
    await h.push(openAi(' two'));
    await h.push(openAi(' three'));
    await h.push(finish);
    await h.push(usage);
    await h.push('data: [DONE]\n\n');
    expect(h.clock.pending).toBe(0); // the finish flushed the waiting text and its timer
    await h.end();
    expect(h.text).toBe(`${role}${openAi('one')}${openAi(' two three')}${finish}${usage}data: [DONE]\n\n`);
  });

  it('never merges deltas that carry anything besides text (tool calls, logprobs, refusals, filters, usage)', () => {
    const shapes = [
      openAi('x', {}, { logprobs: { content: [] } }),
      openAi('x', { usage: { prompt_tokens: 1 } }),
      openAi('x', {}, { content_filter_results: { hate: { filtered: false } } }),
      `data: ${JSON.stringify({ id: 'c1', choices: [{ index: 0, delta: { content: 'x', tool_calls: [{ index: 0 }] }, finish_reason: null }] })}`,
      `data: ${JSON.stringify({ id: 'c1', choices: [{ index: 0, delta: { content: 'x', refusal: 'no' }, finish_reason: null }] })}`,
      `data: ${JSON.stringify({
        id: 'c1',
        choices: [
          { index: 0, delta: { content: 'x' } },
          { index: 1, delta: { content: 'y' } },
        ],
      })}`,
      openAi(''),
      'data: [DONE]',
      ': keep-alive',
      'event: ping\ndata: {"type": "ping"}',
      `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{' } })}`,
      `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hm' } })}`,
      `id: 7\ndata: ${JSON.stringify({ id: 'c1', choices: [{ index: 0, delta: { content: 'x' }, finish_reason: null }] })}`,
      'data: {not json',
    ];
    for (const s of shapes) expect(textDeltaOf(s.replace(/\n\n$/, '')), s).toBeUndefined();
    expect(textDeltaOf(openAi('x', {}, { logprobs: null }).trim())?.text).toBe('x');
    expect(textDeltaOf(anthropic('y').trim())?.text).toBe('y');
  });

  it('merges Anthropic text deltas of one block, not across blocks', async () => {
    const h = harness();
    const start = 'event: content_block_start\ndata: {"type":"content_block_start","index":1}\n\n';
    await h.push(anthropic('Hi'));
    await h.push(anthropic(' there'));
    await h.push(anthropic(' you'));
    await h.push(anthropic(' two', 1));
    await h.push(anthropic(' more', 1));
    await h.push(start);
    await h.end();
    expect(h.text).toBe(`${anthropic('Hi')}${anthropic(' there you')}${anthropic(' two more', 1)}${start}`);
  });

  it('reassembles events split across reads, and UTF-8 split inside a character', async () => {
    const all = openAi('Grüße') + openAi(' 👋🏽') + openAi(' 日本');
    const bytes = enc.encode(all);
    // Feed byte by byte around the multi-byte characters.
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 3) c.enqueue(bytes.slice(i, i + 3));
        c.close();
      },
    });
    const out = coalesceEvents(body, { windowMs: 16 });
    const text = await new Response(out).text();
    expect(deltas(text).join('')).toBe('Grüße 👋🏽 日本');
    expect(deltas(text)).toHaveLength(2);
  });

  it('passes a stream with CR line endings through untouched from there on', async () => {
    const h = harness();
    await h.push(openAi('a'));
    await h.push(openAi('b'));
    const crlf = 'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"c"},"finish_reason":null}]}\r\n\r\n';
    await h.push(crlf);
    await h.push(openAi('d'));
    await h.end();
    expect(h.text).toBe(`${openAi('a')}${openAi('b')}${crlf}${openAi('d')}`);
  });

  it('keeps a character split across reads whole after switching to passing through', async () => {
    const bytes = enc.encode(`${openAi('a')}data: {"x":"\r"}\n\ndata: {"y":"Grüße 👋🏽"}\n\n`);
    const at = bytes.indexOf(0xc3); // inside "ü", after the CR
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes.slice(0, at + 1));
        c.enqueue(bytes.slice(at + 1, at + 9)); // also splits the emoji
        c.enqueue(bytes.slice(at + 9));
        c.close();
      },
    });
    const text = await new Response(coalesceEvents(body, { windowMs: 16 })).text();
    expect(text).toBe(new TextDecoder().decode(bytes));
  });

  it('delivers the waiting text, then the failure, when the body breaks', async () => {
    const h = harness();
    await h.push(openAi('a'));
    await h.push(openAi('b'));
    await h.push(openAi('c'));
    await h.fail(new TypeError('terminated'));
    expect(deltas(h.text)).toEqual(['a', 'bc']);
    expect(h.error).toBeInstanceOf(TypeError);
  });

  it('the waiting text and then the failure reach a reader that comes later (no read waiting when it broke)', async () => {
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(c) {
          pulls++;
          if (pulls === 1) c.enqueue(enc.encode(openAi('a') + openAi('b') + openAi('c')));
          else throw new TypeError('terminated');
        },
      },
      { highWaterMark: 0 },
    );
    const reader = coalesceEvents(body, { windowMs: 10_000 }).getReader();
    const got: string[] = [];
    let error: unknown;
    for (;;) {
      await new Promise((r) => setTimeout(r, 10)); // the reader comes back later each time
      try {
        const r = await reader.read();
        if (r.done) break;
        got.push(new TextDecoder().decode(r.value));
      } catch (err) {
        error = err;
        break;
      }
    }
    expect(deltas(got.join(''))).toEqual(['a', 'bc']);
    expect(error).toBeInstanceOf(TypeError);
  });

  it('reads the provider only as fast as it is read (a slow client slows the socket)', async () => {
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(c) {
          pulls++;
          c.enqueue(enc.encode(pulls === 1 ? openAi('first') : `data: {"id":"c1","n":${pulls},"choices":[]}\n\n`));
        },
      },
      { highWaterMark: 0 },
    );
    const reader = coalesceEvents(body, { windowMs: 16 }).getReader();
    await reader.read();
    await new Promise((r) => setTimeout(r, 50));
    expect(pulls).toBeLessThan(5); // not the whole upstream
    await reader.read();
    await new Promise((r) => setTimeout(r, 20));
    expect(pulls).toBeLessThan(7);
    await reader.cancel();
  });

  it('merges only chunks alike in every other field, with a numeric choice index and no extra fields', async () => {
    const h = harness();
    await h.push(openAi('a'));
    await h.push(openAi('b', { model: 'm1' }));
    await h.push(openAi('c', { model: 'm2' })); // another model: not merged with b
    await h.push(openAi('d', { model: 'm2', obfuscation: 'zz' })); // padding differs: merged with c
    await h.end();
    expect(deltas(h.text)).toEqual(['a', 'b', 'cd']);
    const noIndex = `data: ${JSON.stringify({ id: 'c1', choices: [{ delta: { content: 'x' }, finish_reason: null }] })}`;
    const objectField = openAi('x', { system_fingerprint: { v: 1 } }).trim();
    const anthropicExtra = `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'x' }, extra: 1 })}`;
    const anthropicDeltaExtra = `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'x', citations: [] } })}`;
    const anthropicNoIndex = `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', delta: { type: 'text_delta', text: 'x' } })}`;
    for (const b of [noIndex, objectField, anthropicExtra, anthropicDeltaExtra, anthropicNoIndex])
      expect(textDeltaOf(b), b).toBeUndefined();
  });

  it('passes an incomplete last event as it came', async () => {
    const h = harness();
    await h.push(openAi('a'));
    await h.push('data: {"id":"c1","cho');
    await h.end();
    expect(h.text).toBe(`${openAi('a')}data: {"id":"c1","cho`);
  });

  it('stops reading and drops its timer when cancelled', async () => {
    let cancelled: unknown;
    const clock = fakeTimers();
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc.encode(openAi('a') + openAi('b')));
      },
      cancel(reason) {
        cancelled = reason;
      },
    });
    const out = coalesceEvents(body, { windowMs: 16, ...clock });
    const reader = out.getReader();
    expect(deltas(new TextDecoder().decode((await reader.read()).value))).toEqual(['a']);
    expect(clock.pending).toBe(1);
    await reader.cancel('client gone');
    expect(cancelled).toBe('client gone');
    expect(clock.pending).toBe(0);
    clock.fire(); // a late timer would write into a cancelled stream
  });
});

describe('coalescingFetch', () => {
  const sse = (body: string, init: ResponseInit = {}) =>
    new Response(body, {
      headers: { 'content-type': 'text/event-stream; charset=utf-8', 'x-request-id': 'r1' },
      ...init,
    });

  it('wraps only successful event streams, keeping status and headers', async () => {
    const body = openAi('a') + openAi('b') + openAi('c');
    const f = coalescingFetch(async () => sse(body), { windowMs: 16 });
    const res = await f('http://model.test/v1/chat/completions');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('r1');
    expect(deltas(await res.text())).toEqual(['a', 'bc']);

    const error = new Response('{"error":{"message":"no"}}', {
      status: 429,
      headers: { 'content-type': 'text/event-stream' },
    });
    expect(await coalescingFetch(async () => error, { windowMs: 16 })('http://x')).toBe(error);
    const json = new Response('{}', { headers: { 'content-type': 'application/json' } });
    expect(await coalescingFetch(async () => json, { windowMs: 16 })('http://x')).toBe(json);
  });

  it('is the inner fetch itself when the window is 0', () => {
    const inner = globalThis.fetch;
    expect(coalescingFetch(inner, { windowMs: 0 })).toBe(inner);
  });
});
