/**
 * v1 webhook endpoints (with `api_version`; without one, the account's default): events are rendered in the
 * endpoint's API version (events.ts); the secret is shown once, on creation.
 */
import { randomBytes } from 'node:crypto';
import type { StoredEndpoint, StripeState } from '../state';
import { ApiError, listOf, meta, mustFind, str } from '../values';
import type { Router } from './router';

/** The API version of an endpoint created without one, unless the account's is given. */
const OLDER_ACCOUNT_API_VERSION = '2025-02-24.acacia';

const endpointObject = (e: StoredEndpoint, withSecret = false) => ({
  id: e.id,
  object: 'webhook_endpoint',
  api_version: e.api_version,
  application: null,
  created: e.created,
  description: e.description,
  enabled_events: e.enabled_events,
  livemode: false,
  metadata: e.metadata,
  status: e.status,
  url: e.url,
  ...(withSecret ? { secret: e.secret } : {}),
});

export function webhookEndpointRoutes(s: StripeState, r: Router): void {
  r.route('POST', '/v1/webhook_endpoints', (_m, p) => {
    const url = str(p.url);
    if (!url || !/^https?:\/\//.test(url)) {
      throw new ApiError(400, 'Invalid URL: url must be an http(s) URL.', 'url_invalid', 'url');
    }
    const enabled = Array.isArray(p.enabled_events) ? (p.enabled_events as string[]) : [];
    if (enabled.length === 0) {
      throw new ApiError(400, 'Missing required param: enabled_events.', 'parameter_missing', 'enabled_events');
    }
    const e: StoredEndpoint = {
      id: s.id('we'),
      url,
      api_version: str(p.api_version) ?? s.accountApiVersion ?? OLDER_ACCOUNT_API_VERSION,
      enabled_events: enabled,
      secret: `whsec_${randomBytes(24).toString('hex')}`,
      status: 'enabled',
      created: s.nowSec(),
      description: str(p.description) ?? null,
      metadata: meta(p.metadata),
    };
    s.endpoints.set(e.id, e);
    return endpointObject(e, true);
  });
  r.route('GET', '/v1/webhook_endpoints', (_m, _p, q) => {
    const data = [...s.endpoints.values()].reverse().map((e) => endpointObject(e));
    return listOf(data, q, '/v1/webhook_endpoints');
  });
  r.route('POST', '/v1/webhook_endpoints/:id', (m, p) => {
    const e = mustFind(s.endpoints, m[1]!, 'webhook endpoint');
    if (p.api_version !== undefined) {
      throw new ApiError(400, 'Received unknown parameter: api_version', 'parameter_unknown', 'api_version');
    }
    if (Array.isArray(p.enabled_events)) e.enabled_events = p.enabled_events as string[];
    if (str(p.url)) e.url = str(p.url)!;
    if (p.disabled !== undefined) e.status = p.disabled === 'true' ? 'disabled' : 'enabled';
    if (p.description !== undefined) e.description = str(p.description) ?? null;
    return endpointObject(e);
  });
  r.route('DELETE', '/v1/webhook_endpoints/:id', (m) => {
    if (!s.endpoints.delete(m[1]!)) {
      throw new ApiError(404, `No such webhook endpoint: '${m[1]}'`, 'resource_missing', 'id');
    }
    return { id: m[1], object: 'webhook_endpoint', deleted: true };
  });
}
