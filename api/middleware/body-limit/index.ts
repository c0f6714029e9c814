/**
 * Request bodies, capped as they stream: Hono's `bodyLimit` (a declared Content-Length over the cap is refused
 * at once; a body without one is counted chunk by chunk as it arrives and refused as soon as it passes the
 * cap, so an unbounded chunked upload never sits in memory), answering in our error format:
 * - 413 `payload_too_large`, the connection closed (the rest of the body is not worth reading);
 * - 400 `request_incomplete` when the body ends early because the client went away (or the server's read
 *   timeout cut it): the client's doing, not a 5xx.
 *
 * `bodyLimit({ maxBytes })` is the middleware for a group of routes (every `/v1/*` route goes through it);
 * `readBody(c, maxBytes)` is what a handler calls for the bytes (capped the same way, read once).
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import { AppError } from '../../errors';

// Either refusal closes the connection: the rest of the body is not worth reading.
const CLOSE = { Connection: 'close' };
export const payloadTooLarge = (maxBytes: number) =>
  new AppError('payload_too_large', `The request body is larger than ${maxBytes} bytes.`, { headers: CLOSE });
export const requestIncomplete = (cause?: unknown) =>
  new AppError(
    'request_incomplete',
    'The request body ended before it was complete (the connection closed or was too slow).',
    {
      cause,
      headers: CLOSE,
    },
  );

export interface BodyLimitOptions {
  maxBytes: number;
}

/** Caps the body before the handlers run, so no handler behind it can read an unbounded one. */
export function bodyLimit({ maxBytes }: BodyLimitOptions): MiddlewareHandler {
  const limit = honoBodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw payloadTooLarge(maxBytes);
    },
  });
  return async (c, next) => {
    const raw = c.req.raw;
    let reading = true;
    try {
      await limit(c, async () => {
        reading = false;
        // @hono/node-server hands a request whose client is already gone an empty body that ends
        // normally: only the request's signal tells that it was cut.
        if (raw.signal.aborted) throw requestIncomplete();
        await next();
      });
    } catch (err) {
      // A read that failed (the client went away mid-body) is the client's doing; the handlers' errors pass.
      if (reading && !(err instanceof AppError)) throw requestIncomplete(err);
      throw err;
    }
  };
}

/** The request body's bytes, at most `maxBytes` (else 413); c.req.text()/json()/arrayBuffer() then give the same. */
export async function readBody(c: Context, maxBytes: number): Promise<Uint8Array> {
  let bytes: ArrayBuffer | undefined;
  await bodyLimit({ maxBytes })(c, async () => {
    try {
      bytes = await c.req.arrayBuffer();
    } catch (err) {
      throw requestIncomplete(err);
    }
    if (c.req.raw.signal.aborted) throw requestIncomplete();
  });
  // Read earlier under a larger cap (a Content-Length the route's own cap does not allow).
  if (bytes!.byteLength > maxBytes) throw payloadTooLarge(maxBytes);
  return new Uint8Array(bytes!);
}
