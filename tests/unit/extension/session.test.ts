import { describe, expect, it } from 'vitest';
import { createSessions, type ClerkSession, type KeyValueArea } from '../../../extension/lib/session';

function memory(): KeyValueArea & { data: Map<string, unknown> } {
  const data = new Map<string, unknown>();
  return {
    data,
    get: async (k) => data.get(k),
    set: async (k, v) => void data.set(k, v),
    remove: async (k) => void data.delete(k),
  };
}

function devApi() {
  let n = 0;
  const calls: { url: string; body: unknown }[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    calls.push({ url, body: JSON.parse(init.body as string) });
    n += 1;
    return new Response(
      JSON.stringify({ token: `dev-token-${n}`, userId: 'u', expiresAt: new Date(now + 3_600_000).toISOString() }),
      { status: 200 },
    );
  }) as typeof globalThis.fetch;
  let now = Date.parse('2026-11-25T12:00:00Z');
  return { fetch, calls, clock: { now: () => now, advance: (ms: number) => void (now += ms) } };
}

describe('background sessions', () => {
  it('local sign-in mints a token via /dev/session, keeps it in session storage and reuses it', async () => {
    const api = devApi();
    const local = memory();
    const session = memory();
    const s = createSessions({
      fetch: api.fetch,
      apiUrl: async () => 'http://127.0.0.1:8787',
      devAuth: true,
      local,
      session,
      clerk: null,
      now: api.clock.now,
    });
    expect(await s.getToken()).toBeNull();
    expect(await s.state()).toMatchObject({ signedIn: false, devAuthAvailable: true, clerkEnabled: false });

    await s.devSignIn('user_dev');
    expect(api.calls).toEqual([{ url: 'http://127.0.0.1:8787/dev/session', body: { userId: 'user_dev' } }]);
    expect(local.data.get('devUserId')).toBe('user_dev');
    expect([...local.data.values()].some((v) => JSON.stringify(v).includes('dev-token'))).toBe(false); // the token is not in storage.local
    expect(await s.getToken()).toBe('dev-token-1');
    expect(await s.getToken()).toBe('dev-token-1');
    expect(await s.state()).toMatchObject({ signedIn: true, mode: 'dev', userId: 'user_dev' });
  });

  it('re-mints shortly before expiry, after a browser restart (session storage empty), and on demand', async () => {
    const api = devApi();
    const local = memory();
    const session = memory();
    const s = createSessions({
      fetch: api.fetch,
      apiUrl: async () => 'http://localhost:8787',
      devAuth: true,
      local,
      session,
      clerk: null,
      now: api.clock.now,
    });
    await s.devSignIn('user_dev');
    api.clock.advance(3_600_000 - 30_000);
    expect(await s.getToken()).toBe('dev-token-2');
    session.data.clear();
    expect(await s.getToken()).toBe('dev-token-3');
    expect(await s.getToken(true)).toBe('dev-token-4');
  });

  it('dev sign-in is never offered or used for a non-local API, nor in builds without it', async () => {
    const api = devApi();
    const local = memory();
    local.data.set('devUserId', 'user_dev');
    const remote = createSessions({
      fetch: api.fetch,
      apiUrl: async () => 'https://api.redraft.example',
      devAuth: true,
      local,
      session: memory(),
      clerk: null,
    });
    expect(await remote.getToken()).toBeNull();
    expect((await remote.state()).devAuthAvailable).toBe(false);
    await expect(remote.devSignIn('user_dev')).rejects.toThrow(/only available with a local API/);
    const prodBuild = createSessions({
      fetch: api.fetch,
      apiUrl: async () => 'http://127.0.0.1:8787',
      devAuth: false,
      local,
      session: memory(),
      clerk: null,
    });
    expect(await prodBuild.getToken()).toBeNull();
    expect(api.calls).toHaveLength(0);
  });

  it('explains a local API without DEV_AUTH, and refuses odd user ids', async () => {
    const s = createSessions({
      fetch: (async () => new Response('{"error":{"code":"not_found"}}', { status: 404 })) as typeof fetch,
      apiUrl: async () => 'http://127.0.0.1:8787',
      devAuth: true,
      local: memory(),
      session: memory(),
      clerk: null,
    });
    await expect(s.devSignIn('user_dev')).rejects.toThrow(/DEV_AUTH=1/);
    await expect(s.devSignIn('has spaces')).rejects.toThrow(/letters, digits/);
  });

  it('uses Clerk when there is no dev session; sign-out clears both', async () => {
    const asked: boolean[] = [];
    let signedIn = true;
    const clerk: ClerkSession = {
      token: async (fresh) => (asked.push(fresh), signedIn ? 'clerk-jwt' : null),
      userId: async () => (signedIn ? 'ada@example.com' : null),
      signOut: async () => void (signedIn = false),
    };
    const local = memory();
    const s = createSessions({
      fetch: devApi().fetch,
      apiUrl: async () => 'https://api.redraft.example',
      devAuth: false,
      local,
      session: memory(),
      clerk,
    });
    expect(await s.getToken()).toBe('clerk-jwt');
    expect(await s.getToken(true)).toBe('clerk-jwt');
    expect(asked).toEqual([false, true]);
    expect(await s.state()).toMatchObject({
      signedIn: true,
      mode: 'clerk',
      userId: 'ada@example.com',
      clerkEnabled: true,
    });
    await s.signOut();
    expect(await s.getToken()).toBeNull();
    expect(await s.state()).toMatchObject({ signedIn: false });
  });
});
