/**
 * Session tokens: only a valid, unexpired token signed by the configured key, for an authorized party,
 * gets through. Everything else is a 401 with a JSON error, and costs nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevIssuer } from '../../api/auth/dev-issuer';
import { startStack, type Stack } from '../support/stack';

const EXT = 'chrome-extension://abcdefghijklmnopabcdefghijklmnop';
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ env: { CLERK_AUTHORIZED_PARTIES: EXT } });
});
afterAll(async () => {
  await stack?.close();
});

const usage = (token: string | undefined) =>
  fetch(`${stack.api}/v1/usage`, { headers: token === undefined ? {} : { Authorization: `Bearer ${token}` } });

async function expect401(res: Response, reason?: RegExp) {
  expect(res.status).toBe(401);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe('unauthenticated');
  if (reason) expect(body.error.message).toMatch(reason);
}

describe('session tokens', () => {
  it('accepts a valid token from an authorized party', async () => {
    const res = await usage(await stack.token('user_ok', { azp: EXT }));
    expect(res.status).toBe(200);
  });

  it('rejects a missing header or a non-bearer scheme', async () => {
    await expect401(await usage(undefined), /Authorization/);
    await expect401(await fetch(`${stack.api}/v1/usage`, { headers: { Authorization: 'Basic dXNlcjpwdw==' } }));
  });

  it('rejects an expired token', async () => {
    const token = await stack.token('user_exp', { azp: EXT, ttlSeconds: 60, now: Date.now() - 3600_000 });
    await expect401(await usage(token), /expired/i);
  });

  it('rejects garbage', async () => {
    await expect401(await usage('not.a.jwt'));
    await expect401(await usage('eyJhbGciOiJSUzI1NiJ9.e30.c2ln'));
  });

  it('rejects a token signed by another key', async () => {
    const other = await createDevIssuer();
    await expect401(await usage(await other.issue({ userId: 'user_forged', azp: EXT })));
  });

  it('rejects a token for another authorized party, or none', async () => {
    await expect401(await usage(await stack.token('user_azp', { azp: 'https://evil.example.com' })), /azp|authorized/i);
    await expect401(await usage(await stack.token('user_noazp')));
  });

  it('rejects alg:none and a tampered payload', async () => {
    const good = await stack.token('user_victim', { azp: EXT });
    const [h, p, s] = good.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const tampered = Buffer.from(JSON.stringify({ ...payload, sub: 'user_attacker' })).toString('base64url');
    await expect401(await usage(`${h}.${tampered}.${s}`));
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    await expect401(await usage(`${none}.${p}.`));
  });

  it('accepts only an active session: pending or any other status, or none, is refused', async () => {
    // Clerk v2 session tokens say the session's status; a pending session (tasks left, e.g. choosing
    // an organization) is signed out for Clerk itself, and must not spend.
    for (const sts of ['pending', 'ended', 'Active', ''])
      await expect401(await usage(await stack.token('user_sts', { azp: EXT, sts })), /session-not-active/);
    await expect401(await usage(await stack.token('user_sts', { azp: EXT, sts: null })), /session-not-active/);
    expect((await usage(await stack.token('user_sts', { azp: EXT, sts: 'active' }))).status).toBe(200);
  });

  it('refuses a token without a session id (a JWT-template token from the same instance)', async () => {
    await expect401(await usage(await stack.token('user_nosid', { azp: EXT, sid: null })), /token-not-a-session/);
    await expect401(await usage(await stack.token('user_nosid', { azp: EXT, sid: '' })), /token-not-a-session/);
  });

  it('the rewrite route is behind the same check', async () => {
    const res = await fetch(`${stack.api}/v1/rewrite`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"text":"hi","action":"rewrite"}',
    });
    await expect401(res);
  });
});

describe('dev sessions', () => {
  it('issues a token the verifier accepts, for the caller origin when it is authorized', async () => {
    const res = await fetch(`${stack.api}/dev/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: EXT },
      body: '{"userId":"user_dev_1"}',
    });
    expect(res.status).toBe(200);
    const { token, userId } = (await res.json()) as { token: string; userId: string };
    expect(userId).toBe('user_dev_1');
    expect((await usage(token)).status).toBe(200);
  });

  it('validates its body', async () => {
    const res = await fetch(`${stack.api}/dev/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"userId":"{bad} id"}',
    });
    expect(res.status).toBe(400);
  });
});
