/**
 * Reads a JSON request body with a byte limit, so a huge or malformed body is refused with a clear
 * error before any work (or money) is spent on it.
 */
import type { Context } from 'hono';
import { AppError } from '../errors';

export async function readJsonBody(c: Context, maxBytes: number): Promise<unknown> {
  const type = c.req.header('Content-Type') ?? '';
  if (!/^application\/json\b/i.test(type)) throw new AppError('unsupported_media_type', 'Send the request body as JSON with "Content-Type: application/json".');
  const declared = Number(c.req.header('Content-Length') ?? NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const body = c.req.raw.body;
  if (!body) throw new AppError('invalid_request', 'The request body is empty; send a JSON object.');
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(concat(chunks, size));
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError('invalid_request', 'The request body is not valid JSON.');
  }
}

const tooLarge = (max: number) => new AppError('payload_too_large', `The request body is larger than ${max} bytes.`);

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
