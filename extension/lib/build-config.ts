/**
 * Build-time configuration of the extension, read from environment variables by `wxt.config.ts`
 * and baked into the bundle (see `extension/env.d.ts`). Pure: no I/O, unit-tested.
 *
 * Nothing secret may come through here: the API URL, a Clerk *publishable* key, the sync host and the
 * manifest's public `key` are all public by design.
 */

export interface BuildConfig {
  /** Default API origin (no trailing slash). Overridable at runtime in the options page. */
  apiUrl: string;
  /** Clerk publishable key (`pk_test_…` / `pk_live_…`), or null: then only local dev sign-in exists. */
  clerkPublishableKey: string | null;
  /** Clerk's Frontend API origin, decoded from the publishable key. */
  clerkFrontendApi: string | null;
  /** Clerk `syncHost` (the web app's origin whose session the extension shares), or null. */
  clerkSyncHost: string | null;
  /** Whether "Sign in as a local user" (POST /dev/session) may be offered for a loopback API. */
  devAuth: boolean;
  /** The manifest `key` (base64 DER public key) for a stable extension id, or null. */
  extensionKey: string | null;
}

export interface BuildEnv {
  REDRAFT_API_URL?: string | undefined;
  REDRAFT_CLERK_PUBLISHABLE_KEY?: string | undefined;
  REDRAFT_CLERK_SYNC_HOST?: string | undefined;
  REDRAFT_DEV_AUTH?: string | undefined;
  REDRAFT_EXTENSION_KEY?: string | undefined;
}

export const DEFAULT_API_URL = 'http://127.0.0.1:8787';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export function isLoopbackOrigin(url: string): boolean {
  try {
    return LOOPBACK_HOSTS.has(new URL(url).hostname);
  } catch {
    return false;
  }
}

export type ApiUrlCheck = { ok: true; origin: string } | { ok: false; reason: string };

/**
 * An API URL is an origin: https anywhere, plain http only on this machine (localhost, 127.0.0.1, [::1]).
 * Paths, queries, fragments and credentials are refused rather than silently dropped.
 */
export function checkApiUrl(input: string): ApiUrlCheck {
  const raw = input.trim();
  if (!raw) return { ok: false, reason: 'Enter the API address, e.g. https://api.example.com.' };
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { ok: false, reason: `"${raw}" is not a URL. Include the scheme, e.g. https://api.example.com.` };
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    return { ok: false, reason: 'The API address must start with https:// (or http:// for this machine).' };
  if (u.protocol === 'http:' && !LOOPBACK_HOSTS.has(u.hostname))
    return {
      ok: false,
      reason: 'Plain http:// is only allowed for this machine (localhost or 127.0.0.1); use https://.',
    };
  if (u.username || u.password)
    return { ok: false, reason: 'The API address must not contain a user name or password.' };
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash)
    return { ok: false, reason: 'Enter only the origin (scheme, host and port), without a path, query or #fragment.' };
  return { ok: true, origin: u.origin };
}

/** Host permission match pattern for an origin. Chrome match patterns carry no port: they match every port. */
export function originPattern(origin: string): string {
  const u = new URL(origin);
  return `${u.protocol}//${u.hostname}/*`;
}

/** Clerk publishable keys are `pk_(test|live)_` + base64("<frontend api host>$"). */
export function clerkFrontendApiOf(publishableKey: string): string {
  const m = /^pk_(test|live)_([A-Za-z0-9+/=_-]+)$/.exec(publishableKey);
  if (!m) throw new Error('REDRAFT_CLERK_PUBLISHABLE_KEY must look like pk_test_… or pk_live_…');
  const decoded = atob(m[2]!.replace(/-/g, '+').replace(/_/g, '/'));
  if (!decoded.endsWith('$') || !/^[a-z0-9.-]+\.[a-z]{2,}$/i.test(decoded.slice(0, -1))) {
    throw new Error('REDRAFT_CLERK_PUBLISHABLE_KEY does not decode to a Clerk Frontend API host');
  }
  return `https://${decoded.slice(0, -1)}`;
}

export function resolveBuildConfig(env: BuildEnv): BuildConfig {
  const api = checkApiUrl(env.REDRAFT_API_URL?.trim() || DEFAULT_API_URL);
  if (!api.ok) throw new Error(`REDRAFT_API_URL: ${api.reason}`);
  const clerkPublishableKey = env.REDRAFT_CLERK_PUBLISHABLE_KEY?.trim() || null;
  if (clerkPublishableKey?.startsWith('sk_'))
    throw new Error(
      'REDRAFT_CLERK_PUBLISHABLE_KEY is a Clerk SECRET key (sk_…); never put it in the extension. Use the publishable key (pk_…).',
    );
  const clerkFrontendApi = clerkPublishableKey ? clerkFrontendApiOf(clerkPublishableKey) : null;
  let clerkSyncHost: string | null = null;
  if (env.REDRAFT_CLERK_SYNC_HOST?.trim()) {
    if (!clerkPublishableKey) throw new Error('REDRAFT_CLERK_SYNC_HOST needs REDRAFT_CLERK_PUBLISHABLE_KEY');
    const sync = checkApiUrl(env.REDRAFT_CLERK_SYNC_HOST);
    if (!sync.ok) throw new Error(`REDRAFT_CLERK_SYNC_HOST: ${sync.reason}`);
    clerkSyncHost = sync.origin;
  }
  const devFlag = env.REDRAFT_DEV_AUTH?.trim();
  if (devFlag && devFlag !== '0' && devFlag !== '1') throw new Error('REDRAFT_DEV_AUTH must be 0 or 1');
  const devAuth = devFlag ? devFlag === '1' : isLoopbackOrigin(api.origin);
  const extensionKey = env.REDRAFT_EXTENSION_KEY?.replace(/\s+/g, '') || null;
  if (extensionKey && !/^[A-Za-z0-9+/]+={0,2}$/.test(extensionKey))
    throw new Error('REDRAFT_EXTENSION_KEY must be the base64 public key (the manifest "key"), without PEM headers');
  return { apiUrl: api.origin, clerkPublishableKey, clerkFrontendApi, clerkSyncHost, devAuth, extensionKey };
}

export const OPEN_TOOLBAR_COMMAND = 'open-toolbar';

/** The manifest fields that depend on the build configuration. */
export function manifestFor(cfg: BuildConfig) {
  const permissions = ['storage', 'contextMenus', 'alarms'];
  if (cfg.clerkSyncHost) permissions.push('cookies');
  const hosts = new Set<string>([originPattern(cfg.apiUrl)]);
  if (cfg.clerkFrontendApi) hosts.add(originPattern(cfg.clerkFrontendApi));
  if (cfg.clerkSyncHost) hosts.add(originPattern(cfg.clerkSyncHost));
  // A loopback build may switch between local ports/hosts in the options page without a prompt.
  if (isLoopbackOrigin(cfg.apiUrl)) for (const h of ['http://127.0.0.1/*', 'http://localhost/*']) hosts.add(h);
  return {
    name: 'Redraft',
    description: 'Select text on any page and rewrite it with AI in place.',
    permissions,
    host_permissions: [...hosts],
    // Another API origin set in the options page is asked for at that moment.
    optional_host_permissions: ['https://*/*'],
    ...(cfg.extensionKey ? { key: cfg.extensionKey } : {}),
    action: { default_title: 'Redraft: your balance' },
    commands: {
      [OPEN_TOOLBAR_COMMAND]: {
        suggested_key: { default: 'Alt+Shift+R' },
        description: 'Rewrite the selected text',
      },
    },
  };
}
