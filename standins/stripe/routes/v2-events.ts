/**
 * v2 event destinations (`POST /v2/core/event_destinations`), which receive the thin events of the
 * asynchronous meter validation (webhooks.ts), and those events in full (`GET /v2/core/events/:id`).
 */
import { randomBytes } from 'node:crypto';
import type { StoredDestination, StripeState } from '../state';
import type { Obj } from '../types';
import { ApiError, iso, str } from '../values';
import type { Router } from './router';

const destinationObject = (d: StoredDestination, include: string[]) => ({
  id: d.id,
  object: 'v2.core.event_destination',
  created: d.created,
  updated: d.created,
  description: d.description,
  name: d.name,
  type: 'webhook_endpoint',
  event_payload: d.event_payload,
  enabled_events: d.enabled_events,
  livemode: false,
  status: d.status,
  webhook_endpoint: {
    ...(include.includes('webhook_endpoint.url') ? { url: d.url } : {}),
    ...(include.includes('webhook_endpoint.signing_secret') ? { signing_secret: d.secret } : {}),
  },
});

const includes = (v: unknown) => (Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : []);

/** v2's 404. */
const notFound = (what: string, id: string | undefined) =>
  new ApiError(404, `No such ${what}: '${id}'`, 'not_found', 'id');

export function v2EventRoutes(s: StripeState, r: Router): void {
  r.route('POST', '/v2/core/event_destinations', (_m, p) => {
    const url = str((p.webhook_endpoint as Obj | undefined)?.url);
    if (p.type !== 'webhook_endpoint' || !url) {
      const message = 'This stand-in supports type=webhook_endpoint with webhook_endpoint.url only.';
      throw new ApiError(400, message, 'invalid_request', 'type');
    }
    const enabled = Array.isArray(p.enabled_events) ? (p.enabled_events as string[]) : [];
    if (enabled.length === 0 || !str(p.name)) {
      throw new ApiError(400, 'name and enabled_events are required.', 'parameter_missing', 'enabled_events');
    }
    const d: StoredDestination = {
      id: s.id('ed'),
      name: str(p.name)!,
      url,
      enabled_events: enabled,
      event_payload: p.event_payload === 'snapshot' ? 'snapshot' : 'thin',
      secret: `whsec_${randomBytes(24).toString('hex')}`,
      status: 'enabled',
      created: iso(s.now()),
      description: str(p.description) ?? '',
    };
    s.destinations.set(d.id, d);
    return destinationObject(d, includes(p.include));
  });
  r.route('GET', '/v2/core/event_destinations', (_m, _p, q) => ({
    data: [...s.destinations.values()].map((d) => destinationObject(d, includes(q.include))),
    next_page_url: null,
    previous_page_url: null,
  }));
  r.route('POST', '/v2/core/event_destinations/:id', (m, p) => {
    const d = s.destinations.get(m[1]!);
    if (!d) throw notFound('event destination', m[1]);
    if (Array.isArray(p.enabled_events)) d.enabled_events = p.enabled_events as string[];
    const url = str((p.webhook_endpoint as Obj | undefined)?.url);
    if (url) d.url = url;
    return destinationObject(d, includes(p.include));
  });
  r.route('DELETE', '/v2/core/event_destinations/:id', (m) => {
    if (!s.destinations.delete(m[1]!)) throw notFound('event destination', m[1]);
    return { id: m[1], object: 'v2.core.event_destination', deleted: true };
  });
  r.route('GET', '/v2/core/events/:id', (m) => {
    const e = s.v2Events.get(m[1]!);
    if (!e) throw notFound('event', m[1]);
    return e;
  });
}
