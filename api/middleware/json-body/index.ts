/**
 * JSON request bodies: `jsonBody({ maxBytes })` refuses a body not sent as `application/json` (415, a charset
 * parameter is fine; look-alikes such as application/json-seq are refused), an empty or malformed one (400
 * invalid_request) and one over the cap (413), before any work (or money) is spent on it. The parsed value is
 * then what `c.req.json()` returns, so `validate(schema)` (./validate.ts, @hono/zod-validator) checks it.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { AppError } from '../../errors';
import { readBody } from '../body-limit';

export interface JsonBodyOptions {
  maxBytes: number;
}

export async function readJson(c: Context, maxBytes: number): Promise<unknown> {
  // The media type itself, parameters (charset) aside: not application/json-seq, application/json-patch+json, …
  const type = (c.req.header('Content-Type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new AppError(
      'unsupported_media_type',
      'Send the request body as JSON with "Content-Type: application/json".',
    );
  }
  if (!c.req.raw.body) throw new AppError('invalid_request', 'The request body is empty; send a JSON object.');
  const text = new TextDecoder('utf-8', { fatal: false }).decode(await readBody(c, maxBytes));
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError('invalid_request', 'The request body is not valid JSON.');
  }
}

export function jsonBody({ maxBytes }: JsonBodyOptions): MiddlewareHandler {
  return async (c, next) => {
    const value = await readJson(c, maxBytes);
    // Hono keeps promises in bodyCache (its type says values): c.req.json() answers this one.
    (c.req.bodyCache as { json?: Promise<unknown> }).json = Promise.resolve(value);
    await next();
  };
}
