import { Hono } from 'hono';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors';
import { jsonBody } from './index';
import { validate } from './validate';

const Schema = z.object({ name: z.string().max(5, 'name must be at most 5 characters'), n: z.number() }).strict();
const app = new Hono();
app.post('/', jsonBody({ maxBytes: 200 }), validate(Schema), (c) => c.json(c.req.valid('json')));
app.onError((err, c) => (err instanceof AppError ? c.json(err.toBody(), err.status) : c.text('internal', 500)));

const post = (body: string, type = 'application/json') =>
  app.request('/', { method: 'POST', body, headers: { 'Content-Type': type } });

describe('jsonBody + validate', () => {
  it('hands the handler the schema output', async () => {
    const res = await post('{"name":"abc","n":1}', 'application/json; charset=utf-8');
    expect(await res.json()).toEqual({ name: 'abc', n: 1 });
  });

  it('refuses other media types, look-alikes included, with 415', async () => {
    for (const type of ['text/plain', 'application/json-seq', 'application/json-patch+json']) {
      const res = await post('{}', type);
      expect(res.status, type).toBe(415);
      expect(await res.json()).toMatchObject({ error: { code: 'unsupported_media_type' } });
    }
  });

  it('refuses malformed JSON and bodies over the cap', async () => {
    expect(await (await post('{"name":')).json()).toMatchObject({
      error: { code: 'invalid_request', message: 'The request body is not valid JSON.' },
    });
    expect((await post(JSON.stringify({ name: 'x'.repeat(300), n: 1 }))).status).toBe(413);
  });

  it('answers invalid_request naming the rule, with every issue listed', async () => {
    const res = await post('{"name":"toolong","n":"1","extra":true}');
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string; issues: { path: string }[] } };
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.message).toMatch(/^The request body is not valid: name must be at most 5 characters; n: /);
    expect(body.error.issues.map((i) => i.path)).toEqual(['name', 'n', '']);
  });
});
