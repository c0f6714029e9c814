/**
 * Reads a JSON request body with a byte limit, so a huge or malformed body is refused with a clear
 * error before any work (or money) is spent on it. The bytes come from the capped reader
 * (api/http/body-limit.ts).
 */
import type { Context } from 'hono';
import { AppError } from '../errors';
import { readBody } from '../http/body-limit';

export async function readJsonBody(c: Context, maxBytes: number): Promise<unknown> {
  // The media type itself, parameters (charset) aside: not application/json-seq, application/json-patch+json, …
  const type = (c.req.header('Content-Type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new AppError('unsupported_media_type', 'Send the request body as JSON with "Content-Type: application/json".');
  if (!c.req.raw.body) throw new AppError('invalid_request', 'The request body is empty; send a JSON object.');
  const text = new TextDecoder('utf-8', { fatal: false }).decode(await readBody(c, maxBytes));
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError('invalid_request', 'The request body is not valid JSON.');
  }
}
