/**
 * The background relay with a fake port and a fake fetch that returns real streaming Responses
 * (a test double of the network only): chunks are forwarded, stop/disconnect abort, API errors are mapped.
 */
import { describe, expect, it, vi } from 'vitest';
import { errorFromResponse, serveRewritePort, type RelayDeps } from '../../../extension/lib/relay';
import type { ServerMessage } from '../../../extension/lib/protocol';

class FakePort {
  sent: ServerMessage[] = [];
  private onMsg: ((m: unknown) => void)[] = [];
  private onDisc: (() => void)[] = [];
  connected = true;
  postMessage(m: ServerMessage) {
    if (!this.connected) throw new Error('Attempting to use a disconnected port object');
    this.sent.push(m);
  }
  onMessage = { addListener: (fn: (m: unknown) => void) => void this.onMsg.push(fn) };
  onDisconnect = { addListener: (fn: () => void) => void this.onDisc.push(fn) };
  /** The content script sends. */
  send(m: unknown) {
    for (const fn of this.onMsg) fn(m);
  }
  /** The content script goes away (panel closed, navigation). */
  disconnect() {
    this.connected = false;
    for (const fn of this.onDisc) fn();
  }
  text() {
    return this.sent
      .filter((m) => m.type === 'chunk')
      .map((m) => (m as { text: string }).text)
      .join('');
  }
  last() {
    return this.sent.at(-1);
  }
}

/** A streaming body whose chunks the test releases one by one; records cancellation. */
function controlledStream() {
  const enc = new TextEncoder();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const state = { cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    start: (c) => void (controller = c),
    cancel: () => void (state.cancelled = true),
  });
  return {
    stream,
    state,
    push: (s: string | Uint8Array) => controller.enqueue(typeof s === 'string' ? enc.encode(s) : s),
    close: () => controller.close(),
    error: (e: Error) => controller.error(e),
  };
}

const until = async (cond: () => boolean, ms = 2000) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
};

const START = {
  type: 'start',
  requestId: 'rd_0123456789ab',
  text: 'Our shoes are good.',
  action: 'tone',
  tone: 'friendly',
};

function setup(fetchImpl: (url: string, init: RequestInit) => Promise<Response>, opts: Partial<RelayDeps> = {}) {
  const port = new FakePort();
  const calls: { url: string; init: RequestInit }[] = [];
  const afterRequest = vi.fn();
  const deps: RelayDeps = {
    fetch: ((url: string, init: RequestInit) => {
      calls.push({ url, init });
      return fetchImpl(url, init);
    }) as typeof fetch,
    apiUrl: async () => 'http://api.test',
    getToken: async () => 'tok-1',
    afterRequest,
    ...opts,
  };
  serveRewritePort(port, deps);
  return { port, calls, afterRequest };
}

const jsonError = (status: number, error: Record<string, unknown>, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ error }), { status, headers: { 'Content-Type': 'application/json', ...headers } });

describe('background relay with Server-Sent Events', () => {
  const SSE = { 'Content-Type': 'text/event-stream; charset=utf-8' };
  const ev = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

  it('asks for events, forwards their pieces and says how the answer finished (length: it can be continued)', async () => {
    const s = controlledStream();
    const { port, calls } = setup(async () => new Response(s.stream, { status: 200, headers: SSE }));
    port.send({ ...START, continuation: 'Our shoes are' });
    await until(() => calls.length === 1);
    expect((calls[0]!.init.headers as Record<string, string>).Accept).toMatch(/^text\/event-stream/);
    expect(JSON.parse(calls[0]!.init.body as string)).toMatchObject({ continuation: 'Our shoes are' });
    const whole = ev('text', ' light,') + ev('text', ' and "fast"\n') + ev('done', { finishReason: 'length' });
    s.push(whole.slice(0, 17));
    s.push(whole.slice(17));
    s.close();
    await until(() => port.last()?.type === 'done');
    expect(port.text()).toBe(' light, and "fast"\n');
    expect(port.last()).toEqual({ type: 'done', stopped: false, finishReason: 'length' });
  });

  it('a continued answer goes to the recent list whole (the draft it continued, then what came next)', async () => {
    const s = controlledStream();
    const done: { result: string; text: string }[] = [];
    const { port } = setup(async () => new Response(s.stream, { status: 200, headers: SSE }), {
      onComplete: (r) => void done.push(r),
    });
    port.send({ ...START, continuation: 'Light shoes,' });
    s.push(ev('text', ' made to run.') + ev('done', { finishReason: 'stop' }));
    s.close();
    await until(() => done.length === 1);
    expect(done[0]).toMatchObject({ text: 'Our shoes are good.', result: 'Light shoes, made to run.' });
  });

  it('an event stream that ends without done is an interrupted stream, not a short answer', async () => {
    const s = controlledStream();
    const onComplete = vi.fn();
    const { port } = setup(async () => new Response(s.stream, { status: 200, headers: SSE }), { onComplete });
    port.send(START);
    await until(() => port.sent.length === 0 || true);
    s.push(ev('text', 'Half an'));
    s.close();
    await until(() => port.last()?.type === 'error');
    expect(port.text()).toBe('Half an');
    expect(port.last()).toMatchObject({ type: 'error', code: 'stream_interrupted' });
    expect(onComplete).not.toHaveBeenCalled();
  });

  it('refuses a continuation that is not a string of the allowed length', async () => {
    const { port, calls } = setup(async () => new Response('x'));
    port.send({ ...START, continuation: 42 });
    await until(() => port.sent.length === 1);
    expect(port.last()).toMatchObject({ type: 'error', code: 'bad_message' });
    expect(calls).toHaveLength(0);
  });
});

describe('background relay', () => {
  it('sends the request with the token and forwards each chunk as it arrives, then done', async () => {
    const s = controlledStream();
    const { port, calls, afterRequest } = setup(
      async () => new Response(s.stream, { status: 200, headers: { 'X-Tokens-Remaining': '18766' } }),
    );
    port.send(START);
    await until(() => calls.length === 1);
    expect(calls[0]!.url).toBe('http://api.test/v1/rewrite');
    expect((calls[0]!.init.headers as Record<string, string>).Authorization).toBe('Bearer tok-1');
    expect(JSON.parse(calls[0]!.init.body as string)).toEqual({
      text: 'Our shoes are good.',
      action: 'tone',
      tone: 'friendly',
      requestId: 'rd_0123456789ab',
    });

    s.push('Our ');
    await until(() => port.sent.length === 1);
    expect(port.sent).toEqual([{ type: 'chunk', text: 'Our ' }]);
    // A multi-byte character split across two network chunks is decoded whole.
    const euro = new TextEncoder().encode('€');
    s.push(euro.slice(0, 2));
    s.push(euro.slice(2));
    s.push(' shoes');
    s.close();
    await until(() => port.last()?.type === 'done');
    expect(port.text()).toBe('Our € shoes');
    expect(port.last()).toEqual({ type: 'done', stopped: false, tokensRemaining: 18766 });
    expect(port.sent.some((m) => m.type === 'chunk' && m.text.includes('\uFFFD'))).toBe(false);
    expect(afterRequest).toHaveBeenCalledTimes(1);
  });

  it('never calls the API when signed out', async () => {
    const { port, calls, afterRequest } = setup(async () => new Response('x'), { getToken: async () => null });
    port.send(START);
    await until(() => port.sent.length === 1);
    expect(port.sent[0]).toMatchObject({ type: 'error', status: 401, code: 'unauthenticated' });
    expect(calls).toHaveLength(0);
    expect(afterRequest).not.toHaveBeenCalled();
  });

  it('retries a 401 once with a freshly minted token (same requestId)', async () => {
    const tokens = ['old', 'new'];
    const { port, calls } = setup(
      async (_url, init) =>
        (init.headers as Record<string, string>).Authorization === 'Bearer new'
          ? new Response('ok')
          : jsonError(401, { code: 'unauthenticated', message: 'expired' }),
      { getToken: async (fresh) => (fresh ? tokens[1]! : tokens[0]!) },
    );
    port.send(START);
    await until(() => port.last()?.type === 'done');
    expect(calls).toHaveLength(2);
    expect(JSON.parse(calls[0]!.init.body as string).requestId).toBe(
      JSON.parse(calls[1]!.init.body as string).requestId,
    );
    expect(port.text()).toBe('ok');
  });

  it('a port disconnect aborts the fetch and cancels the stream; nothing is posted afterwards', async () => {
    const s = controlledStream();
    let signal: AbortSignal | undefined;
    const { port } = setup(async (_url, init) => {
      signal = init.signal ?? undefined;
      return new Response(s.stream);
    });
    port.send(START);
    s.push('partial');
    await until(() => port.sent.length === 1);
    port.disconnect();
    expect(signal?.aborted).toBe(true);
    await until(() => s.state.cancelled);
    expect(port.sent).toHaveLength(1);
  });

  it('a disconnect before the API answers aborts the pending fetch', async () => {
    let signal: AbortSignal | undefined;
    const { port } = setup(
      (_url, init) =>
        new Promise<Response>((_resolve, reject) => {
          signal = init.signal ?? undefined;
          signal?.addEventListener('abort', () => reject(signal!.reason));
        }),
    );
    port.send(START);
    await until(() => signal !== undefined);
    port.disconnect();
    expect(signal!.aborted).toBe(true);
    await new Promise((r) => setTimeout(r, 10));
    expect(port.sent).toEqual([]);
  });

  it('stop aborts and reports done { stopped: true } with the partial text kept', async () => {
    const s = controlledStream();
    const { port } = setup(async () => new Response(s.stream));
    port.send(START);
    s.push('half a sen');
    await until(() => port.sent.length === 1);
    port.send({ type: 'stop' });
    await until(() => port.last()?.type === 'done');
    expect(port.last()).toEqual({ type: 'done', stopped: true });
    expect(s.state.cancelled).toBe(true);
    expect(port.text()).toBe('half a sen');
  });

  it('a new start supersedes the running one: the old stream is cancelled and stays silent', async () => {
    const first = controlledStream();
    const second = controlledStream();
    const streams = [first, second];
    const { port } = setup(async () => new Response(streams.shift()!.stream));
    port.send(START);
    first.push('old ');
    await until(() => port.sent.length === 1);
    port.send({ ...START, requestId: 'rd_second_request' });
    await until(() => first.state.cancelled);
    second.push('new');
    second.close();
    await until(() => port.last()?.type === 'done');
    expect(port.sent).toEqual([
      { type: 'chunk', text: 'old ' },
      { type: 'chunk', text: 'new' },
      { type: 'done', stopped: false },
    ]);
  });

  it("a completed stream hands its input and whole result to onComplete (the popup's recent list); stopped, failed and superseded ones do not", async () => {
    const done: unknown[] = [];
    const onComplete = (r: unknown) => void done.push(r);
    // Completed: recorded once, after `done`.
    const ok = controlledStream();
    const a = setup(async () => new Response(ok.stream), { onComplete });
    a.port.send(START);
    ok.push('Our shoes ');
    ok.push('are great!');
    await until(() => a.port.sent.length === 2);
    expect(done).toEqual([]);
    ok.close();
    await until(() => a.port.last()?.type === 'done');
    expect(done).toEqual([
      {
        requestId: 'rd_0123456789ab',
        action: 'tone',
        tone: 'friendly',
        text: 'Our shoes are good.',
        result: 'Our shoes are great!',
      },
    ]);

    // Stopped, broken, refused: nothing.
    const stopped = controlledStream();
    const b = setup(async () => new Response(stopped.stream), { onComplete });
    b.port.send({ ...START, requestId: 'rd_stopped_0001' });
    stopped.push('half');
    await until(() => b.port.sent.length === 1);
    b.port.send({ type: 'stop' });
    await until(() => b.port.last()?.type === 'done');
    const broken = controlledStream();
    const c = setup(async () => new Response(broken.stream), { onComplete });
    c.port.send({ ...START, requestId: 'rd_broken_00001' });
    broken.push('one');
    await until(() => c.port.sent.length === 1);
    broken.error(new Error('reset'));
    await until(() => c.port.last()?.type === 'error');
    const d = setup(async () => jsonError(402, { code: 'quota_exhausted', message: 'used up' }), { onComplete });
    d.port.send({ ...START, requestId: 'rd_refused_0001' });
    await until(() => d.port.last()?.type === 'error');
    expect(done).toHaveLength(1);

    // A failing recorder never reaches the stream.
    const e = setup(async () => new Response('fine'), { onComplete: () => Promise.reject(new Error('storage full')) });
    e.port.send(START);
    await until(() => e.port.last()?.type === 'done');
    const f = setup(async () => new Response('fine'), {
      onComplete: () => {
        throw new Error('sync');
      },
    });
    f.port.send(START);
    await until(() => f.port.last()?.type === 'done');
    expect(f.port.text()).toBe('fine');
  });

  it('a stream that breaks after the first token is reported as stream_interrupted', async () => {
    const s = controlledStream();
    const { port } = setup(async () => new Response(s.stream));
    port.send(START);
    s.push('some');
    await until(() => port.sent.length === 1);
    s.error(new Error('socket hang up'));
    await until(() => port.last()?.type === 'error');
    expect(port.last()).toMatchObject({ type: 'error', status: 0, code: 'stream_interrupted' });
  });

  it('a network failure is reported as network, naming the API', async () => {
    const { port } = setup(async () => {
      throw new TypeError('Failed to fetch');
    });
    port.send(START);
    await until(() => port.last()?.type === 'error');
    expect(port.last()).toMatchObject({ type: 'error', status: 0, code: 'network' });
    expect((port.last() as { message: string }).message).toContain('http://api.test');
  });

  it('an invalid message is answered with bad_message and never reaches the API', async () => {
    const { port, calls } = setup(async () => new Response('x'));
    port.send({ type: 'start', requestId: 'rd_0123456789ab', text: 'x', action: 'summarize' });
    expect(port.sent[0]).toMatchObject({ type: 'error', code: 'bad_message' });
    expect(calls).toHaveLength(0);
  });

  it.each([
    [
      402,
      { code: 'quota_exhausted', message: 'used', periodEnd: '2026-12-24T00:00:00.000Z' },
      {},
      { status: 402, code: 'quota_exhausted', periodEnd: '2026-12-24T00:00:00.000Z' },
    ],
    [
      429,
      { code: 'rate_limited', message: 'slow down', retryAfterSeconds: 17 },
      { 'Retry-After': '17' },
      { status: 429, code: 'rate_limited', retryAfterSeconds: 17 },
    ],
    [
      429,
      { code: 'rate_limited', message: 'slow down' },
      { 'Retry-After': '9' },
      { status: 429, code: 'rate_limited', retryAfterSeconds: 9 },
    ],
    [413, { code: 'text_too_long', message: 'too long' }, {}, { status: 413, code: 'text_too_long' }],
    [503, { code: 'metering_unavailable', message: 'redis' }, {}, { status: 503, code: 'metering_unavailable' }],
    [503, { code: 'model_unavailable', message: 'model' }, {}, { status: 503, code: 'model_unavailable' }],
  ])('maps the API error %i %o', async (status, error, headers, expected) => {
    const { port, afterRequest } = setup(async () => jsonError(status, error, headers));
    port.send(START);
    await until(() => port.last()?.type === 'error');
    expect(port.last()).toMatchObject({ type: 'error', ...expected, message: error.message });
    expect(afterRequest).toHaveBeenCalledTimes(1);
  });

  it('a non-JSON error (a proxy page) becomes bad_response with the status', async () => {
    const e = await errorFromResponse(
      new Response('<html>Bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }),
    );
    expect(e).toEqual({
      type: 'error',
      status: 502,
      code: 'bad_response',
      message: 'The API answered 502 Bad Gateway',
    });
  });
});
