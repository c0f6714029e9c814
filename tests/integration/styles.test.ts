/**
 * Saved styles (brand voice) against the real API, redis-server (through the Upstash bridge), the AI SDK
 * and the model stand-in: CRUD, the limit of STYLES_MAX enforced atomically, isolation between users,
 * the style in the prompt (user side, delimited) with its tokens reserved and charged, auth and rate limits.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ledgerOf, startStack, usedOf, type Stack } from '../support/stack';
import { planPrompt } from '../../api/model/estimate';
import { reservationFor } from '../../api/metering/settlement';
import { STYLES_MAX, type Style, type StylesResponse, type RewriteRequest } from '../../shared/contract';
import { keys } from '../../api/metering/keys';

const RPM = 80;
let stack: Stack;
let n = 0;
const freshUser = () => `user_st${++n}_${Date.now().toString(36)}`;

beforeAll(async () => {
  stack = await startStack({ env: { RATE_LIMIT_ACCOUNT_RPM: String(RPM) } });
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => {
  stack.model.clearFaults();
  stack.model.setOptions({ tokensPerSecond: 0, firstTokenDelayMs: 0, outputTokens: 'echo' });
});

type Json = Record<string, unknown>;
const call = async (token: string, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${stack.api}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Json };
};
const list = async (token: string) => {
  const r = await call(token, 'GET', '/v1/styles');
  expect(r.status).toBe(200);
  return (r.json as unknown as StylesResponse).styles;
};
const put = (token: string, id: string, body: unknown) => call(token, 'PUT', `/v1/styles/${id}`, body);

interface ChatRequestBody {
  messages: { role: string; content: string }[];
  max_tokens?: number;
  max_completion_tokens?: number;
}
const lastModelRequest = () => stack.model.lastRequestBody as ChatRequestBody;

describe('saved styles: create, list, replace, delete', () => {
  it('creates (trimmed), lists sorted by name, replaces in place and deletes', async () => {
    const token = await stack.token(freshUser());
    expect(await list(token)).toEqual([]);

    const before = Date.now();
    const created = await put(token, 'acme', { name: '  Acme voice ', instructions: '  Warm, direct, no jargon.\n' });
    expect(created.status).toBe(200);
    const style = (created.json as { style: Style }).style;
    expect(style).toEqual({
      id: 'acme',
      name: 'Acme voice',
      instructions: 'Warm, direct, no jargon.',
      updatedAt: expect.any(String),
    });
    expect(Date.parse(style.updatedAt)).toBeGreaterThanOrEqual(before - 1000);

    expect((await put(token, 'b-2', { name: 'zebra', instructions: 'Playful.' })).status).toBe(200);
    expect((await put(token, 'c_3', { name: 'Beta', instructions: 'Formal.' })).status).toBe(200);
    expect((await list(token)).map((s) => s.name)).toEqual(['Acme voice', 'Beta', 'zebra']);

    // Replace: same id, new content, still three styles.
    const replaced = await put(token, 'acme', { name: 'Acme (2027)', instructions: 'Short sentences.' });
    expect(replaced.status).toBe(200);
    expect((replaced.json as { style: Style }).style).toMatchObject({
      id: 'acme',
      name: 'Acme (2027)',
      instructions: 'Short sentences.',
    });
    const styles = await list(token);
    expect(styles).toHaveLength(3);
    expect(styles.find((s) => s.id === 'acme')).toEqual((replaced.json as { style: Style }).style);

    expect(await call(token, 'DELETE', '/v1/styles/b-2')).toMatchObject({ status: 200, json: { ok: true } });
    expect((await list(token)).map((s) => s.id)).toEqual(['acme', 'c_3']);
    const again = await call(token, 'DELETE', '/v1/styles/b-2');
    expect(again.status).toBe(404);
    expect(again.json).toMatchObject({ error: { code: 'not_found', message: expect.stringContaining('b-2') } });
  });

  it(`keeps at most ${STYLES_MAX} styles: the next new one is 409 style_limit_reached, replacing still works`, async () => {
    const user = freshUser();
    const token = await stack.token(user);
    for (let i = 0; i < STYLES_MAX; i++)
      expect(
        (await put(token, `s${i}`, { name: `Style ${String(i).padStart(2, '0')}`, instructions: `Voice ${i}.` }))
          .status,
      ).toBe(200);
    const full = await put(token, 'one-more', { name: 'One more', instructions: 'Nope.' });
    expect(full.status).toBe(409);
    expect(full.json).toMatchObject({
      error: { code: 'style_limit_reached', message: expect.stringContaining(String(STYLES_MAX)) },
    });
    expect((await put(token, 's3', { name: 'Style 03', instructions: 'Replaced.' })).status).toBe(200);
    expect(await list(token)).toHaveLength(STYLES_MAX);
    expect(await stack.db.hlen(keys.styles(user))).toBe(STYLES_MAX);
    // Deleting one makes room for exactly one.
    expect((await call(token, 'DELETE', '/v1/styles/s0')).status).toBe(200);
    expect((await put(token, 'one-more', { name: 'One more', instructions: 'Now it fits.' })).status).toBe(200);
    expect((await put(token, 'two-more', { name: 'Two more', instructions: 'Full again.' })).status).toBe(409);
  });

  it(`${STYLES_MAX + 10} concurrent creates: exactly ${STYLES_MAX} succeed (the limit is checked and written in one Lua step)`, async () => {
    const user = freshUser();
    const token = await stack.token(user);
    const results = await Promise.all(
      Array.from({ length: STYLES_MAX + 10 }, (_, i) =>
        put(token, `c${i}`, { name: `C${i}`, instructions: 'Concurrent.' }),
      ),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(STYLES_MAX);
    expect(results.filter((r) => r.status === 409)).toHaveLength(10);
    expect(await list(token)).toHaveLength(STYLES_MAX);
  });

  it('refuses bad ids and bodies with a clear 400, and needs a session', async () => {
    const token = await stack.token(freshUser());
    for (const id of ['Acme', '-acme', 'a'.repeat(41), 'a%20b', '%C3%BC']) {
      const r = await put(token, id, { name: 'x', instructions: 'y' });
      expect(r.status, id).toBe(400);
      expect(r.json).toMatchObject({
        error: { code: 'invalid_request', message: expect.stringContaining('style id') },
      });
    }
    const long = await put(token, 'ok', { name: 'n'.repeat(61), instructions: 'y' });
    expect(long).toMatchObject({
      status: 400,
      json: {
        error: { code: 'invalid_request', message: expect.stringContaining('name must be at most 60 characters') },
      },
    });
    const longer = await put(token, 'ok', { name: 'n', instructions: 'i'.repeat(1001) });
    expect(longer).toMatchObject({
      status: 400,
      json: {
        error: {
          code: 'invalid_request',
          message: expect.stringContaining('instructions must be at most 1000 characters'),
        },
      },
    });
    expect((await put(token, 'ok', { name: '   ', instructions: 'y' })).status).toBe(400);
    expect((await put(token, 'ok', { name: 'n', instructions: 'y', extra: true })).status).toBe(400);
    expect(await list(token)).toEqual([]);

    for (const [method, path] of [
      ['GET', '/v1/styles'],
      ['PUT', '/v1/styles/acme'],
      ['DELETE', '/v1/styles/acme'],
    ] as const) {
      const res = await fetch(`${stack.api}${path}`, {
        method,
        headers: { 'Content-Type': 'application/json' },
        ...(method === 'PUT' ? { body: '{"name":"a","instructions":"b"}' } : {}),
      });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: 'unauthenticated' } });
    }
  });
});

describe('isolation between users', () => {
  it("user B can neither read, change, delete nor use user A's style", async () => {
    const [a, b] = [freshUser(), freshUser()];
    const [ta, tb] = [await stack.token(a), await stack.token(b)];
    expect(
      (await put(ta, 'acme', { name: 'Acme', instructions: 'SECRET-A: always mention the Acme guarantee.' })).status,
    ).toBe(200);

    expect(await list(tb)).toEqual([]);
    const calls = stack.model.stats.completions;
    const used = await stack.rewrite(tb, { text: 'Our shoes are great.', action: 'rewrite', styleId: 'acme' });
    expect(used.status).toBe(404);
    expect(await used.json()).toMatchObject({
      error: { code: 'style_not_found', message: expect.stringContaining('acme') },
    });
    expect(stack.model.stats.completions).toBe(calls); // nothing reached the model
    expect(await usedOf(stack.db, b)).toBe(0);
    expect(await ledgerOf(stack.db, b)).toEqual([]);
    expect((await call(tb, 'DELETE', '/v1/styles/acme')).status).toBe(404);

    // B's own style of the same id is B's: A's stays as it was.
    expect((await put(tb, 'acme', { name: 'Mine', instructions: 'B voice.' })).status).toBe(200);
    expect((await list(ta)).map((s) => [s.name, s.instructions])).toEqual([
      ['Acme', 'SECRET-A: always mention the Acme guarantee.'],
    ]);
    expect((await list(tb)).map((s) => [s.name, s.instructions])).toEqual([['Mine', 'B voice.']]);
    const res = await stack.rewrite(tb, { text: 'Our shoes are great.', action: 'rewrite', styleId: 'acme' });
    expect(res.status).toBe(200);
    await res.text();
    const sent = lastModelRequest()
      .messages.map((m) => m.content)
      .join('\n');
    expect(sent).toContain('B voice.');
    expect(sent).not.toContain('SECRET-A');
  });
});

describe('POST /v1/rewrite with a saved style', () => {
  it('puts the style in the user message, reserves and charges its tokens, and keeps the action cap', async () => {
    const user = freshUser();
    const token = await stack.token(user);
    const instructions = 'Write like a calm Scandinavian design brand: short sentences, no exclamation marks, no hype. '
      .repeat(6)
      .trim();
    expect((await put(token, 'nordic', { name: 'Nordic', instructions })).status).toBe(200);

    const req: RewriteRequest = {
      text: 'Our new lamp is AMAZING and you will LOVE it!!! Buy now!!!',
      action: 'rewrite',
      styleId: 'nordic',
      requestId: 'style_req_0001',
    };
    const res = await stack.rewrite(token, req);
    expect(res.status).toBe(200);
    await res.text();

    const plan = planPrompt(req, { styleInstructions: instructions });
    const plain = planPrompt({ text: req.text, action: req.action });
    // What the model received: our system prompt, and the style only in the user message, delimited and labelled.
    const body = lastModelRequest();
    expect(body.messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(body.messages[0]!.content).not.toContain(instructions);
    expect(body.messages[0]!.content).toBe(plan.messages[0]!.content);
    expect(body.messages[1]!.content).toContain(
      `The user's saved style (brand voice) for the result:\n<style>\n${instructions}\n</style>`,
    );
    expect(body.messages[1]!.content).toBe(plan.messages[1]!.content);
    expect(body.max_completion_tokens ?? body.max_tokens).toBe(plain.outputCap);
    expect(plan.outputCap).toBe(plain.outputCap);

    // The reservation held the style's tokens: 20,000 − X-Tokens-Remaining is this request's grant.
    const { want } = reservationFor(plan.inputTokens, plan.outputCap);
    expect(20_000 - Number(res.headers.get('x-tokens-remaining'))).toBe(want);
    expect(plan.inputTokens - plain.inputTokens).toBeGreaterThan(100);

    // The charge: the provider's prompt tokens (which include the style) plus the output.
    await expect.poll(() => ledgerOf(stack.db, user)).toHaveLength(1);
    const [event] = await ledgerOf(stack.db, user);
    expect(Number(event!.in)).toBe(plan.inputTokens);
    expect(Number(event!.billed)).toBe(Number(event!.in) + Number(event!.out));
    expect(Number(event!.out)).toBeLessThanOrEqual(plan.outputCap);
    expect(await usedOf(stack.db, user)).toBe(Number(event!.billed));
  });

  it('a deleted style is 404 style_not_found and costs nothing', async () => {
    const user = freshUser();
    const token = await stack.token(user);
    expect((await put(token, 'gone', { name: 'Gone', instructions: 'Soon deleted.' })).status).toBe(200);
    expect((await call(token, 'DELETE', '/v1/styles/gone')).status).toBe(200);
    const res = await stack.rewrite(token, { text: 'Hello there.', action: 'shorten', styleId: 'gone' });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'style_not_found' } });
    expect(await usedOf(stack.db, user)).toBe(0);
  });
});

describe('rate limit of the account routes', () => {
  it(`allows ${RPM} requests a minute per user (RATE_LIMIT_ACCOUNT_RPM, shared with usage and billing), then 429 with Retry-After; other users and rewrites are unaffected`, async () => {
    const user = freshUser();
    const token = await stack.token(user);
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < RPM + 5 && last?.status !== 429; i++) {
      last = await call(
        token,
        i % 2 ? 'GET' : 'PUT',
        i % 2 ? '/v1/styles' : '/v1/styles/same',
        i % 2 ? undefined : { name: 'Same', instructions: `Take ${i}.` },
      );
      statuses.push(last.status);
    }
    // The window slides over fixed minutes: straddling a minute boundary lets through at most a request or two more.
    const refusedAt = statuses.indexOf(429);
    expect(refusedAt, JSON.stringify(statuses)).toBeGreaterThanOrEqual(RPM);
    expect(refusedAt).toBeLessThanOrEqual(RPM + 2);
    expect(statuses.slice(0, refusedAt).every((st) => st === 200)).toBe(true);
    expect(last!.json).toMatchObject({ error: { code: 'rate_limited', retryAfterSeconds: expect.any(Number) } });
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await call(token, 'GET', '/v1/settings')).status).toBe(429);
    // A separate window: this user's rewrites and other users' styles still go through.
    const rw = await stack.rewrite(token, { text: 'Still fine.', action: 'shorten' });
    expect(rw.status).toBe(200);
    await rw.text();
    expect((await call(await stack.token(freshUser()), 'GET', '/v1/styles')).status).toBe(200);
  });
});
