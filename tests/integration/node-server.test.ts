/**
 * The Node server's own edges (api/runtimes/node.ts as its own process, production configuration):
 * it listens only where HOST says, and a client that sends its headers or its body too slowly is cut
 * off by the header and request timeouts (408) instead of holding a connection for Node's default
 * 300 s — while a response that streams longer than those timeouts is not affected.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInfra, spawnApi, type ApiProcess, type Infra } from '../support/infra';
import { rawExchange } from '../support/raw-http';
import { ledgerOf } from '../support/stack';

let infra: Infra;
let api: ApiProcess;
beforeAll(async () => {
  infra = await startInfra({ tokensPerSecond: 50, outputTokens: 150 });
  // 127.0.0.2 is a loopback address too (Linux routes all of 127/8 to lo), but not 127.0.0.1.
  api = await spawnApi({
    ...infra.env,
    HOST: '127.0.0.2',
    HTTP_HEADERS_TIMEOUT_MS: '1000',
    HTTP_REQUEST_TIMEOUT_MS: '2000',
  });
});
afterAll(async () => {
  api?.proc.kill('SIGTERM');
  await api?.exited;
  await infra?.close();
});

const port = () => Number(new URL(api.url).port);

describe('HOST', () => {
  it('listens on the configured address only', async () => {
    expect(api.url).toBe(`http://127.0.0.2:${port()}`);
    expect((await fetch(`${api.url}/health`)).status).toBe(200);
    const refused = await new Promise<string>((resolve) => {
      const s = connect(port(), '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve('connected')));
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});

describe('slow clients', () => {
  it('cuts a client whose headers never end (header timeout)', async () => {
    const { raw, closedAfterMs } = await rawExchange(
      api.url,
      'GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ',
      8000,
    );
    expect(raw).toMatch(/^HTTP\/1\.1 408/);
    expect(closedAfterMs).toBeLessThan(5000);
  });

  it("cuts a body that dribbles in (request timeout): 408, and the API logs it as the client's doing, not an error", async () => {
    const token = await infra.issuer.issue({ userId: 'user_slow_upload' });
    const head = `POST /v1/rewrite HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"text":"`;
    const { raw, closedAfterMs } = await rawExchange(api.url, head, 8000);
    expect(raw).toMatch(/^HTTP\/1\.1 408/);
    expect(closedAfterMs).toBeLessThan(6000);
    await expect.poll(() => api.output.some((l) => l.includes('"route":"/v1/rewrite"'))).toBe(true);
    const line = JSON.parse(api.output.find((l) => l.includes('"route":"/v1/rewrite"'))!) as Record<string, unknown>;
    expect(line).toMatchObject({ msg: 'request', status: 400, code: 'request_incomplete', user: 'user_slow_upload' });
    expect(api.output.filter((l) => l.includes('"level":"error"'))).toEqual([]);
    expect(await ledgerOf(infra.db, 'user_slow_upload')).toEqual([]);
  });

  it('does not cut a response that streams for longer than the request timeout', async () => {
    const user = 'user_long_stream';
    const t0 = Date.now();
    const res = await fetch(`${api.url}/v1/rewrite`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${await infra.issuer.issue({ userId: user })}`,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ text: 'Tell our customers about the new autumn menu and its soups.', action: 'expand' }),
    });
    expect(res.status).toBe(200);
    await res.text();
    expect(Date.now() - t0).toBeGreaterThan(2500); // 150 tokens at 50/s: past the 2 s request timeout
    await expect.poll(() => ledgerOf(infra.db, user)).toHaveLength(1);
    expect((await ledgerOf(infra.db, user))[0]).toMatchObject({ status: 'completed', source: 'provider', out: '150' });
  });
});

describe('streamed rewrites', () => {
  const request = async (version: '1.0' | '1.1', user: string) => {
    const body = JSON.stringify({ text: 'Our soups are back for the autumn, every day from noon.', action: 'shorten' });
    const token = await infra.issuer.issue({ userId: user });
    return rawExchange(
      api.url,
      `POST /v1/rewrite HTTP/${version}\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      15_000,
    );
  };

  it('are sent chunked (the head goes out with the first text, no read-ahead for a length)', async () => {
    const { raw } = await request('1.1', 'user_chunked_11');
    const [head, body] = raw.split('\r\n\r\n', 2) as [string, string];
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    expect(head).toMatch(/^transfer-encoding: chunked$/im);
    expect(head).not.toMatch(/^content-length:/im);
    expect(raw.endsWith('\r\n0\r\n\r\n')).toBe(true);
    expect(body.length).toBeGreaterThan(0);
  });

  it('but not to an HTTP/1.0 client, which cannot read chunks: its body ends with the connection', async () => {
    const { raw } = await request('1.0', 'user_chunked_10');
    const [head, body] = raw.split('\r\n\r\n', 2) as [string, string];
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    expect(head).not.toMatch(/^transfer-encoding:/im);
    expect(body).not.toMatch(/^[0-9a-f]+\r\n/);
    expect(body.length).toBeGreaterThan(0);
    await expect.poll(() => ledgerOf(infra.db, 'user_chunked_10')).toHaveLength(1);
  });
});
