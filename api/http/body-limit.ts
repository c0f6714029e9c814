/**
 * Request bodies, capped as they stream. A body is read at most once per request, chunk by chunk, and
 * refused (413) as soon as it passes the cap, whether or not it declared a Content-Length, so an
 * unbounded chunked upload never sits in memory. A body that ends early because the client went away
 * (or the server's read timeout cut it) is the client's doing: 400 `request_incomplete`, not a 5xx.
 *
 * `bodyLimit(max)` is the middleware for a group of routes (every `/v1/*` route goes through it);
 * `readBody(c, max)` is what a handler calls for the bytes (the same bytes, read once).
 */
import type { Context, MiddlewareHandler } from 'hono';
import { AppError } from '../errors';

// Either refusal closes the connection: the rest of the body is not worth reading.
const CLOSE = { Connection: 'close' };
export const payloadTooLarge = (maxBytes: number) => new AppError('payload_too_large', `The request body is larger than ${maxBytes} bytes.`, { headers: CLOSE });
export const requestIncomplete = () => new AppError('request_incomplete', 'The request body ended before it was complete (the connection closed or was too slow).', { headers: CLOSE });

/** One read per request, whoever asks first (the middleware or the handler). */
const reads = new WeakMap<Request, Promise<Uint8Array>>();

async function readCapped(req: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = req.headers.has('transfer-encoding') ? NaN : Number(req.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw payloadTooLarge(maxBytes);
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch {
      throw requestIncomplete();
    }
    if (next.done) break;
    size += next.value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw payloadTooLarge(maxBytes);
    }
    chunks.push(next.value);
  }
  // @hono/node-server hands a request whose client is already gone an empty body that ends normally:
  // only the request's signal tells that it was cut.
  if (req.signal.aborted) throw requestIncomplete();
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** The request body's bytes, at most `maxBytes` (else 413). Hono's c.req.text()/json()/arrayBuffer() then return the same bytes. */
export async function readBody(c: Context, maxBytes: number): Promise<Uint8Array> {
  let read = reads.get(c.req.raw);
  if (!read) {
    read = readCapped(c.req.raw, maxBytes);
    reads.set(c.req.raw, read);
  }
  const bytes = await read;
  if (bytes.byteLength > maxBytes) throw payloadTooLarge(maxBytes); // read earlier under a larger cap
  // Hono keeps promises in bodyCache (its type says values).
  (c.req.bodyCache as { arrayBuffer?: Promise<ArrayBuffer> }).arrayBuffer ??= Promise.resolve(bytes.buffer as ArrayBuffer);
  return bytes;
}

/** Reads (and caps) the body before the handlers run, so no handler behind it can read an unbounded one. */
export function bodyLimit(maxBytes: number): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.raw.body) await readBody(c, maxBytes);
    await next();
  };
}
