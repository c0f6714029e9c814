import { describe, expect, it } from 'vitest';
import {
  checkApiUrl,
  clerkFrontendApiOf,
  DEFAULT_API_URL,
  manifestFor,
  originPattern,
  resolveBuildConfig,
} from '../../../extension/lib/build-config';

const pk = (host: string, kind = 'test') => `pk_${kind}_${Buffer.from(`${host}$`).toString('base64')}`;

describe('API URL validation', () => {
  it.each([
    ['https://api.redraft.example', 'https://api.redraft.example'],
    ['https://api.redraft.example/', 'https://api.redraft.example'],
    ['  http://127.0.0.1:8787 ', 'http://127.0.0.1:8787'],
    ['http://localhost:3000/', 'http://localhost:3000'],
    ['https://API.Example.com:8443', 'https://api.example.com:8443'],
  ])('accepts %s', (input, origin) => {
    expect(checkApiUrl(input)).toEqual({ ok: true, origin });
  });

  it.each([
    ['', /Enter the API address/],
    ['api.example.com', /not a URL/],
    ['ftp://api.example.com', /must start with https/],
    ['http://api.example.com', /only allowed for this machine/],
    ['https://user:pw@api.example.com', /user name or password/],
    ['https://api.example.com/v1', /only the origin/],
    ['https://api.example.com/?x=1', /only the origin/],
    ['javascript:alert(1)', /must start with https/],
  ])('refuses %j', (input, reason) => {
    const r = checkApiUrl(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it('host permission patterns have no port (Chrome matches every port)', () => {
    expect(originPattern('http://127.0.0.1:8787')).toBe('http://127.0.0.1/*');
    expect(originPattern('https://api.example.com')).toBe('https://api.example.com/*');
  });
});

describe('build configuration', () => {
  it('defaults: local API, dev sign-in, no Clerk, no key', () => {
    const c = resolveBuildConfig({});
    expect(c).toEqual({
      apiUrl: DEFAULT_API_URL,
      clerkPublishableKey: null,
      clerkFrontendApi: null,
      clerkSyncHost: null,
      devAuth: true,
      extensionKey: null,
    });
    const m = manifestFor(c);
    expect(m.permissions).toEqual(['storage', 'contextMenus', 'alarms']);
    expect(m.host_permissions).toEqual(['http://127.0.0.1/*', 'http://localhost/*']);
    expect(m).not.toHaveProperty('key');
    expect(m.commands['open-toolbar'].suggested_key.default).toBe('Alt+Shift+R');
  });

  it('production: https API, Clerk with syncHost (cookies + host permissions), stable key, no dev sign-in', () => {
    const c = resolveBuildConfig({
      REDRAFT_API_URL: 'https://api.redraft.example',
      REDRAFT_CLERK_PUBLISHABLE_KEY: pk('clerk.redraft.example', 'live'),
      REDRAFT_CLERK_SYNC_HOST: 'https://app.redraft.example',
      REDRAFT_EXTENSION_KEY: 'MIIBIjANBgkq\nhkiG9w0BAQEFAAOCAQ8A',
    });
    expect(c).toMatchObject({
      apiUrl: 'https://api.redraft.example',
      clerkFrontendApi: 'https://clerk.redraft.example',
      clerkSyncHost: 'https://app.redraft.example',
      devAuth: false,
      extensionKey: 'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A',
    });
    const m = manifestFor(c);
    expect(m.permissions).toContain('cookies');
    expect(m.host_permissions).toEqual([
      'https://api.redraft.example/*',
      'https://clerk.redraft.example/*',
      'https://app.redraft.example/*',
    ]);
    expect(m.key).toBe('MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A');
  });

  it('REDRAFT_DEV_AUTH overrides the default either way', () => {
    expect(resolveBuildConfig({ REDRAFT_DEV_AUTH: '0' }).devAuth).toBe(false);
    expect(resolveBuildConfig({ REDRAFT_API_URL: 'https://staging.example', REDRAFT_DEV_AUTH: '1' }).devAuth).toBe(
      true,
    );
    expect(() => resolveBuildConfig({ REDRAFT_DEV_AUTH: 'yes' })).toThrow(/0 or 1/);
  });

  it('refuses secrets and malformed values', () => {
    expect(() => resolveBuildConfig({ REDRAFT_CLERK_PUBLISHABLE_KEY: 'sk_live_abc' })).toThrow(/SECRET key/);
    expect(() => resolveBuildConfig({ REDRAFT_CLERK_PUBLISHABLE_KEY: 'pk_test_bm90LWEtaG9zdA==' })).toThrow(
      /Frontend API host/,
    );
    expect(() => resolveBuildConfig({ REDRAFT_API_URL: 'http://api.example.com' })).toThrow(/REDRAFT_API_URL/);
    expect(() => resolveBuildConfig({ REDRAFT_CLERK_SYNC_HOST: 'https://app.example' })).toThrow(
      /needs REDRAFT_CLERK_PUBLISHABLE_KEY/,
    );
    expect(() => resolveBuildConfig({ REDRAFT_EXTENSION_KEY: '-----BEGIN PUBLIC KEY-----' })).toThrow(/base64/);
  });

  it('decodes the Frontend API from a publishable key', () => {
    expect(clerkFrontendApiOf(pk('happy-cat-12.clerk.accounts.dev'))).toBe('https://happy-cat-12.clerk.accounts.dev');
  });
});
