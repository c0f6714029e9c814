import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors';
import { bodyLimit, readBody } from './index';

function app(maxBytes: number, routeMax = maxBytes) {
  const a = new Hono();
  a.use('*', bodyLimit({ maxBytes }));
  a.post('/', async (c) => c.json({ bytes: (await readBody(c, routeMax)).byteLength }));
  a.onError((err, c) =>
    err instanceof AppError ? c.json(err.toBody(), err.status, err.headers) : c.text('internal', 500),
  );
  return a;
}

/** A body without Content-Length, in chunks of `chunk` bytes; `fail` errors the stream after them. */
function chunked(chunks: number, chunk: number, fail = false): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent === chunks) return fail ? controller.error(new Error('client gone')) : controller.close();
      sent++;
      controller.enqueue(new Uint8Array(chunk).fill(120));
    },
  });
}
const post = (a: Hono, body: BodyInit, headers: Record<string, string> = {}) =>
  a.request('/', { method: 'POST', body, headers, duplex: 'half' } as RequestInit);

describe('bodyLimit', () => {
  it('passes a body within the cap, with or without Content-Length', async () => {
    expect(await (await post(app(100), 'x'.repeat(100))).json()).toEqual({ bytes: 100 });
    expect(await (await post(app(100), chunked(4, 25))).json()).toEqual({ bytes: 100 });
  });

  it('refuses a declared Content-Length over the cap: 413 payload_too_large, connection closed', async () => {
    const res = await post(app(100), 'x'.repeat(101));
    expect(res.status).toBe(413);
    expect(res.headers.get('connection')).toBe('close');
    expect(await res.json()).toMatchObject({
      error: { code: 'payload_too_large', message: 'The request body is larger than 100 bytes.' },
    });
  });

  it('refuses a chunked body as soon as it passes the cap, without reading the rest', async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({ pull: (c) => void (pulled++, c.enqueue(new Uint8Array(64))) });
    const res = await post(app(1000), endless);
    expect(res.status).toBe(413);
    expect(pulled).toBeLessThan(40);
  });

  it('answers 400 request_incomplete when the body breaks off (the client went away)', async () => {
    const res = await post(app(1000), chunked(2, 10, true));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'request_incomplete' } });
  });

  it("applies a route's smaller cap to a body the group's cap let through", async () => {
    const res = await post(app(1000, 50), chunked(3, 25));
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { message: 'The request body is larger than 50 bytes.' } });
  });
});
