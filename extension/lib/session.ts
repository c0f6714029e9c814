/**
 * The service worker's session: where the API token comes from. Tokens live only in the background
 * (and in Clerk's own storage); content scripts never get one.
 *
 * - Clerk (production): `createClerkClient({ background: true })` keeps the session fresh after the popup
 *   closes; each request asks it for a current token.
 * - Local dev auth (a loopback API started with DEV_AUTH=1): POST /dev/session { userId } mints a token signed
 *   by the local dev key, verified by the same verifier as Clerk's. The token is kept in
 *   `storage.session` (memory only, not readable by content scripts); the user id in `storage.local`, so an
 *   expired token is re-minted silently.
 *
 * I/O is injected so this is unit-tested.
 */
import { isLoopbackOrigin } from './build-config';
import type { AuthState } from './protocol';

export interface KeyValueArea {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  remove(key: string): Promise<void>;
}

export interface ClerkSession {
  /** The current session token, or null when signed out. */
  token(fresh: boolean): Promise<string | null>;
  userId(): Promise<string | null>;
  signOut(): Promise<void>;
}

export interface SessionDeps {
  fetch: typeof fetch;
  apiUrl(): Promise<string>;
  /** Build flag: local dev sign-in may be offered (only ever used with a loopback API). */
  devAuth: boolean;
  local: KeyValueArea;
  session: KeyValueArea;
  clerk: ClerkSession | null;
  now?: () => number;
}

interface DevToken {
  token: string;
  userId: string;
  apiUrl: string;
  expiresAt: number;
}

const DEV_USER_KEY = 'devUserId';
const DEV_TOKEN_KEY = 'devToken';
/** Re-mint a dev token this long before it expires. */
const REFRESH_MARGIN_MS = 60_000;

export class SessionError extends Error {}

export function createSessions(deps: SessionDeps) {
  const now = deps.now ?? Date.now;

  const devAvailable = async () => deps.devAuth && isLoopbackOrigin(await deps.apiUrl());

  async function mintDevToken(userId: string): Promise<DevToken> {
    const apiUrl = await deps.apiUrl();
    let res: Response;
    try {
      res = await deps.fetch(`${apiUrl}/dev/session`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ userId }),
      });
    } catch (err) {
      throw new SessionError(
        `Could not reach the local API at ${apiUrl} (${err instanceof Error ? err.message : String(err)}). Is \`npm run dev\` running?`,
      );
    }
    if (res.status === 404)
      throw new SessionError(
        `The API at ${apiUrl} has no local sign-in (start it with DEV_AUTH=1, as \`npm run dev\` does).`,
      );
    const body = (await res.json().catch(() => null)) as {
      token?: unknown;
      expiresAt?: unknown;
      error?: { message?: string };
    } | null;
    if (!res.ok || typeof body?.token !== 'string')
      throw new SessionError(body?.error?.message ?? `Local sign-in failed (${res.status}).`);
    const expiresAt = typeof body.expiresAt === 'string' ? Date.parse(body.expiresAt) : now() + 3_600_000;
    const dev: DevToken = {
      token: body.token,
      userId,
      apiUrl,
      expiresAt: Number.isFinite(expiresAt) ? expiresAt : now() + 3_600_000,
    };
    await deps.session.set(DEV_TOKEN_KEY, dev);
    return dev;
  }

  async function devUser(): Promise<string | null> {
    if (!(await devAvailable())) return null;
    const id = await deps.local.get(DEV_USER_KEY);
    return typeof id === 'string' && id ? id : null;
  }

  async function devToken(fresh: boolean): Promise<string | null> {
    const userId = await devUser();
    if (!userId) return null;
    const apiUrl = await deps.apiUrl();
    const cached = (await deps.session.get(DEV_TOKEN_KEY)) as DevToken | undefined;
    if (
      !fresh &&
      cached &&
      cached.userId === userId &&
      cached.apiUrl === apiUrl &&
      cached.expiresAt - REFRESH_MARGIN_MS > now()
    )
      return cached.token;
    try {
      return (await mintDevToken(userId)).token;
    } catch {
      return null;
    }
  }

  return {
    /** The token for the next API call, or null when signed out. */
    async getToken(fresh = false): Promise<string | null> {
      const dev = await devToken(fresh);
      if (dev) return dev;
      return deps.clerk ? deps.clerk.token(fresh).catch(() => null) : null;
    },

    async state(): Promise<AuthState> {
      const apiUrl = await deps.apiUrl();
      const devAuthAvailable = await devAvailable();
      const base = { apiUrl, devAuthAvailable, clerkEnabled: !!deps.clerk };
      const dev = await devUser();
      if (dev) return { ...base, signedIn: true, mode: 'dev', userId: dev };
      const clerkUser = deps.clerk ? await deps.clerk.userId().catch(() => null) : null;
      if (clerkUser) return { ...base, signedIn: true, mode: 'clerk', userId: clerkUser };
      return { ...base, signedIn: false, mode: null, userId: null };
    },

    async devSignIn(userId: string): Promise<void> {
      if (!(await devAvailable()))
        throw new SessionError('Local sign-in is only available with a local API (localhost or 127.0.0.1).');
      if (!/^[A-Za-z0-9_.@:-]{1,128}$/.test(userId))
        throw new SessionError('Use 1–128 letters, digits or _ . @ : - for the local user id.');
      await mintDevToken(userId);
      await deps.local.set(DEV_USER_KEY, userId);
    },

    async signOut(): Promise<void> {
      await Promise.all([deps.local.remove(DEV_USER_KEY), deps.session.remove(DEV_TOKEN_KEY)]);
      if (deps.clerk) await deps.clerk.signOut().catch(() => {});
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
