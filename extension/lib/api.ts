/**
 * The background's non-streaming API calls (the streaming one is relay.ts). Injected fetch/token: unit-tested.
 */
import type { BackgroundResponses, UsageResult, UsageWithBilling } from './protocol';
import type { StyleResponse, StylesResponse } from '../../shared/contract';
import { errorFromResponse } from './relay';
import { isLoopbackOrigin } from './build-config';

export interface ApiDeps {
  fetch: typeof fetch;
  apiUrl(): Promise<string>;
  getToken(fresh?: boolean): Promise<string | null>;
}

/**
 * Billing endpoints (the billing issue). Expected: POST with the session token, answering `{ url }` (a Stripe
 * Checkout or Customer Portal URL). The popup shows the buttons only when GET /v1/usage says
 * `billing.canUpgrade` / `billing.canManage` in GET /v1/usage.
 */
export const BILLING_ENDPOINTS = { checkout: '/v1/billing/checkout', portal: '/v1/billing/portal' } as const;

async function authed(deps: ApiDeps, path: string, init: RequestInit = {}): Promise<Response | { signedOut: true }> {
  const apiUrl = await deps.apiUrl();
  let token = await deps.getToken();
  if (!token) return { signedOut: true };
  const call = (t: string) =>
    deps.fetch(`${apiUrl}${path}`, {
      ...init,
      headers: { ...(init.headers as Record<string, string> | undefined), Authorization: `Bearer ${t}` },
    });
  let res = await call(token);
  if (res.status === 401) {
    const fresh = await deps.getToken(true);
    if (fresh && fresh !== token) {
      token = fresh;
      res = await call(token);
    }
  }
  return res;
}

export async function fetchUsage(deps: ApiDeps, now: () => Date = () => new Date()): Promise<UsageResult> {
  try {
    const res = await authed(deps, '/v1/usage');
    if ('signedOut' in res) return { ok: false, status: 401, code: 'unauthenticated', message: 'Not signed in.' };
    if (!res.ok) {
      const e = await errorFromResponse(res);
      return { ok: false, status: e.status, code: e.code, message: e.message };
    }
    const usage = (await res.json()) as UsageWithBilling;
    if (typeof usage?.remainingTokens !== 'number' || typeof usage.usedTokens !== 'number')
      return { ok: false, status: 502, code: 'bad_response', message: 'The API answered an unexpected usage shape.' };
    return { ok: true, usage, fetchedAt: now().toISOString() };
  } catch (err) {
    return {
      ok: false,
      status: 0,
      code: 'network',
      message: `Could not reach the Redraft API: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}

/**
 * Whether a billing page address from the API may be opened in a tab: https anywhere; plain http only for
 * this machine (localhost, 127.0.0.1, [::1]: the local Stripe stand-in in dev and tests), and only while the
 * API itself is on this machine — an API reached over https (production) only ever gets https pages opened.
 */
export function isOpenableBillingUrl(url: string, apiUrl: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.username || u.password) return false;
  if (u.protocol === 'https:') return true;
  return u.protocol === 'http:' && isLoopbackOrigin(u.href) && isLoopbackOrigin(apiUrl);
}

/** Asks the API for a Checkout/Portal URL; only https URLs are ever opened (http only on this machine, see above). */
export async function billingUrl(
  deps: ApiDeps,
  kind: keyof typeof BILLING_ENDPOINTS,
): Promise<{ ok: true; url: string } | { ok: false; message: string }> {
  try {
    const res = await authed(deps, BILLING_ENDPOINTS[kind], {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    if ('signedOut' in res) return { ok: false, message: 'Sign in first.' };
    if (!res.ok)
      return { ok: false, message: (await errorFromResponse(res)).message || `The API answered ${res.status}.` };
    const body = (await res.json().catch(() => null)) as { url?: unknown } | null;
    const url = typeof body?.url === 'string' ? body.url : '';
    if (!URL.canParse(url)) return { ok: false, message: 'The API did not return a billing page address.' };
    if (!isOpenableBillingUrl(url, await deps.apiUrl())) {
      const u = new URL(url);
      return {
        ok: false,
        message: `The API returned a billing page that is not https (${u.origin === 'null' ? u.protocol : u.origin}); it was not opened.`,
      };
    }
    return { ok: true, url };
  } catch (err) {
    return {
      ok: false,
      message: `Could not reach the Redraft API: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}

/** The user's saved styles (brand voice): list, create or replace, delete. */
export async function styles(
  deps: ApiDeps,
  op:
    | { kind: 'list' }
    | { kind: 'put'; id: string; name: string; instructions: string }
    | { kind: 'delete'; id: string },
): Promise<
  BackgroundResponses['styles/list'] | BackgroundResponses['styles/put'] | BackgroundResponses['styles/delete']
> {
  try {
    const path = op.kind === 'list' ? '/v1/styles' : `/v1/styles/${encodeURIComponent(op.id)}`;
    const init: RequestInit =
      op.kind === 'put'
        ? {
            method: 'PUT',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ name: op.name, instructions: op.instructions }),
          }
        : op.kind === 'delete'
          ? { method: 'DELETE' }
          : {};
    const res = await authed(deps, path, init);
    if ('signedOut' in res) return { ok: false, message: 'Sign in first.' };
    if (!res.ok)
      return { ok: false, message: (await errorFromResponse(res)).message || `The API answered ${res.status}.` };
    const body = (await res.json()) as StylesResponse & StyleResponse;
    if (op.kind === 'list')
      return Array.isArray(body.styles)
        ? { ok: true, styles: body.styles }
        : { ok: false, message: 'The API answered an unexpected styles shape.' };
    if (op.kind === 'put')
      return body.style
        ? { ok: true, style: body.style }
        : { ok: false, message: 'The API answered an unexpected style shape.' };
    return { ok: true };
  } catch (err) {
    return {
      ok: false,
      message: `Could not reach the Redraft API: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}

/**
 * The user's overage spending cap (Pro): `GET /v1/settings` → `{ overageCapUsd, maxOverageCapUsd }` and
 * `PUT /v1/settings { overageCapUsd: number | null }` (null = the plan's maximum) answering the same shape.
 * An API without the endpoint (404: older than the setting) reports `unsupported`: the popup hides the control.
 */
export const SETTINGS_ENDPOINT = '/v1/settings';

export interface CapSettings {
  /** The user's own cap in USD per period; null = the plan's maximum. */
  overageCapUsd: number | null;
  /** The most the plan allows; null when the plan has no overage (no cap to set). */
  maxOverageCapUsd: number | null;
}

export type SettingsResult =
  | { ok: true; settings: CapSettings }
  | { ok: false; status: number; code: string; message: string; unsupported: boolean };

const usdOrNull = (v: unknown): v is number | null =>
  v === null || (typeof v === 'number' && Number.isFinite(v) && v >= 0);

async function settingsCall(deps: ApiDeps, init: RequestInit): Promise<SettingsResult> {
  try {
    const res = await authed(deps, SETTINGS_ENDPOINT, init);
    if ('signedOut' in res)
      return { ok: false, status: 401, code: 'unauthenticated', message: 'Not signed in.', unsupported: false };
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {});
      return {
        ok: false,
        status: 404,
        code: 'not_found',
        message: 'This Redraft API has no spending-cap setting yet.',
        unsupported: true,
      };
    }
    if (!res.ok) {
      const e = await errorFromResponse(res);
      return {
        ok: false,
        status: e.status,
        code: e.code,
        message: e.message || `The API answered ${res.status}.`,
        unsupported: false,
      };
    }
    const body = (await res.json().catch(() => null)) as Record<string, unknown> | null;
    if (!body || !usdOrNull(body.overageCapUsd) || !usdOrNull(body.maxOverageCapUsd))
      return {
        ok: false,
        status: 502,
        code: 'bad_response',
        message: 'The API answered an unexpected settings shape.',
        unsupported: false,
      };
    return { ok: true, settings: { overageCapUsd: body.overageCapUsd, maxOverageCapUsd: body.maxOverageCapUsd } };
  } catch (err) {
    return {
      ok: false,
      status: 0,
      code: 'network',
      message: `Could not reach the Redraft API: ${err instanceof Error ? err.message : String(err)}`,
      unsupported: false,
    };
  }
}

export const fetchSettings = (deps: ApiDeps): Promise<SettingsResult> => settingsCall(deps, {});

export const saveOverageCap = (deps: ApiDeps, overageCapUsd: number | null): Promise<SettingsResult> =>
  settingsCall(deps, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ overageCapUsd }),
  });

/**
 * A spending cap typed by the user, in USD: "" → null (the plan's maximum), else a number ≥ 0 with at most
 * two decimals, at most `max`. The API checks again; this only gives a sentence before the round trip.
 */
export function parseCapInput(
  input: string,
  max: number,
): { ok: true; value: number | null } | { ok: false; message: string } {
  const s = input.trim().replace(/^\$\s*/, '');
  if (s === '') return { ok: true, value: null };
  if (!/^\d+(\.\d{1,2})?$/.test(s)) return { ok: false, message: 'Enter an amount in US dollars, like 20 or 12.50.' };
  const value = Number(s);
  if (value > max) return { ok: false, message: `The most the plan allows is $${max}.` };
  return { ok: true, value };
}
