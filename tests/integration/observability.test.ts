/**
 * Operators' view: one JSON log line per request (a streamed rewrite's carries tokens, cost and
 * outcome), and Prometheus metrics at /metrics, optionally behind METRICS_TOKEN.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerOf, startStack, type Stack } from '../support/stack';

let stack: Stack;
const METRICS_TOKEN = 'metrics-token-0123456789';
beforeAll(async () => {
  stack = await startStack({ env: { METRICS_TOKEN } });
});
afterAll(async () => {
  await stack?.close();
});

describe('structured logs', () => {
  it('writes exactly one line for a streamed rewrite, after settlement, with tokens, cost and latency', async () => {
    const user = 'user_logs';
    const res = await stack.rewrite(await stack.token(user), {
      text: 'Handmade soap with lavender.',
      action: 'rewrite',
      requestId: 'log_line_0001',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('log_line_0001');
    await res.text();
    await expect.poll(() => ledgerOf(stack.db, user)).toHaveLength(1);
    const [event] = await ledgerOf(stack.db, user);
    const lines = stack.logs.filter((l) => l.requestId === 'log_line_0001');
    expect(lines).toEqual([
      {
        msg: 'request',
        requestId: 'log_line_0001',
        method: 'POST',
        route: '/v1/rewrite',
        status: 200,
        user,
        action: 'rewrite',
        model: 'openai/gpt-4o-mini',
        outcome: 'completed',
        usageSource: 'provider',
        inputTokens: Number(event!.in),
        outputTokens: Number(event!.out),
        cachedInputTokens: Number(event!.cached),
        reasoningTokens: Number(event!.reasoning),
        billedTokens: Number(event!.billed),
        costUsd: Number(event!.cost),
        priceVersion: event!.prices,
        latencyMs: expect.any(Number),
      },
    ]);
  });

  it('writes one line for a refused request, with its error code and a request id header', async () => {
    const before = stack.logs.length;
    const res = await stack.rewrite(await stack.token('user_logs_bad'), { text: 'hi', action: 'summon' });
    expect(res.status).toBe(400);
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const lines = stack.logs.slice(before);
    expect(lines).toEqual([
      {
        msg: 'request',
        requestId: id,
        method: 'POST',
        route: '/v1/rewrite',
        status: 400,
        user: 'user_logs_bad',
        code: 'invalid_request',
        latencyMs: expect.any(Number),
      },
    ]);
  });

  it('never logs the text being rewritten or the token', async () => {
    const token = await stack.token('user_logs_secret');
    const res = await stack.rewrite(token, {
      text: 'SECRET-LAUNCH-CODENAME appears only in the body',
      action: 'shorten',
    });
    await res.text();
    await expect.poll(() => ledgerOf(stack.db, 'user_logs_secret')).toHaveLength(1);
    const all = JSON.stringify(stack.logs);
    expect(all).not.toContain('SECRET-LAUNCH-CODENAME');
    expect(all).not.toContain(token);
  });
});

describe('GET /metrics', () => {
  it('requires METRICS_TOKEN when it is set', async () => {
    expect((await fetch(`${stack.api}/metrics`)).status).toBe(401);
    expect(
      (await fetch(`${stack.api}/metrics`, { headers: { Authorization: 'Bearer wrong-token-000000000' } })).status,
    ).toBe(401);
  });

  it('checks the token like every operator route: a bearer challenge on refusal, the scheme in any case', async () => {
    for (const auth of [
      undefined,
      'Bearer wrong-token-000000000',
      `Basic ${METRICS_TOKEN}`,
      `Bearer ${METRICS_TOKEN}x`,
      `Bearer ${METRICS_TOKEN.slice(0, -1)}`,
      'Bearer',
    ]) {
      const res = await fetch(`${stack.api}/metrics`, { headers: auth ? { Authorization: auth } : {} });
      expect(res.status, auth).toBe(401);
      expect(res.headers.get('www-authenticate'), auth).toBe('Bearer realm="redraft"');
      expect(await res.json()).toMatchObject({
        error: { code: 'unauthenticated', message: expect.stringContaining('METRICS_TOKEN') },
      });
    }
    // RFC 6750: the scheme is case-insensitive (the old check wanted exactly "Bearer ").
    expect(
      (await fetch(`${stack.api}/metrics`, { headers: { Authorization: `bearer ${METRICS_TOKEN}` } })).status,
    ).toBe(200);
  });

  it('exposes request, rewrite, token and cost counters in Prometheus format', async () => {
    const res = await fetch(`${stack.api}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const value = (series: string) =>
      Number(new RegExp(`^${series.replace(/[{}()[\]."\\/+*?^$|]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    expect(value('redraft_http_requests_total{code="",route="/v1/rewrite",status="200"}')).toBe(2);
    expect(value('redraft_http_requests_total{code="invalid_request",route="/v1/rewrite",status="400"}')).toBe(1);
    expect(value('redraft_rewrites_total{action="rewrite",outcome="completed"}')).toBe(1);
    const billed = (await ledgerOf(stack.db, 'user_logs'))
      .concat(await ledgerOf(stack.db, 'user_logs_secret'))
      .reduce((s, e) => s + Number(e.billed), 0);
    expect(
      value('redraft_tokens_billed_total{action="rewrite"}') + value('redraft_tokens_billed_total{action="shorten"}'),
    ).toBe(billed);
    expect(value('redraft_provider_cost_usd_total{model="gpt-4o-mini",provider="openai"}')).toBeGreaterThan(0);
    expect(text).toContain('redraft_http_request_duration_seconds_bucket{route="/v1/rewrite",le="+Inf"}');
  });
});
