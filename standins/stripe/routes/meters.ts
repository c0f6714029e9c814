/**
 * Billing meters (one active meter per event name) and their event summaries: sums per customer over
 * minute-aligned windows, eventually — an event shows in them `summaryLagMs` (60 s by default) after it was
 * received.
 */
import type { StripeState } from '../state';
import type { Obj } from '../types';
import { ApiError, missingParam, mustFind, str } from '../values';
import type { Router } from './router';

/** A `start_time`/`end_time` query: whole seconds on a minute boundary. */
function minuteAligned(q: Obj, param: 'start_time' | 'end_time'): number {
  const t = Number(q[param]);
  if (!Number.isInteger(t) || t % 60 !== 0) {
    throw new ApiError(400, `${param} must be aligned with minute boundaries.`, 'parameter_invalid_integer', param);
  }
  return t;
}

export function meterRoutes(s: StripeState, r: Router): void {
  r.route('POST', '/v1/billing/meters', (_m, p) => {
    const eventName = str(p.event_name);
    if (!eventName) throw missingParam('event_name');
    if ([...s.meters.values()].some((x) => x.event_name === eventName && x.status === 'active')) {
      const message = `An active meter with event_name \`${eventName}\` already exists.`;
      throw new ApiError(400, message, 'resource_already_exists', 'event_name');
    }
    const agg = (p.default_aggregation as Obj | undefined)?.formula;
    const customerKey = str((p.customer_mapping as Obj | undefined)?.event_payload_key);
    const valueKey = str((p.value_settings as Obj | undefined)?.event_payload_key);
    const meter = {
      id: s.id('mtr'),
      object: 'billing.meter',
      display_name: str(p.display_name) ?? eventName,
      event_name: eventName,
      default_aggregation: { formula: str(agg) ?? 'sum' },
      customer_mapping: { type: 'by_id', event_payload_key: customerKey ?? 'stripe_customer_id' },
      value_settings: { event_payload_key: valueKey ?? 'value' },
      event_time_window: null,
      status: 'active',
      status_transitions: { deactivated_at: null },
      created: s.nowSec(),
      updated: s.nowSec(),
      livemode: false,
    };
    s.meters.set(meter.id, meter);
    return meter;
  });
  r.route('GET', '/v1/billing/meters', (_m, _p, q) => {
    const data = [...s.meters.values()].filter((x) => !q.status || x.status === q.status);
    return { object: 'list', data, has_more: false, url: '/v1/billing/meters' };
  });
  r.route('GET', '/v1/billing/meters/:id', (m) => mustFind(s.meters, m[1]!, 'billing meter'));
  r.route('GET', '/v1/billing/meters/:id/event_summaries', (m, _p, q) => {
    const meter = mustFind(s.meters, m[1]!, 'billing meter');
    const customer = str(q.customer);
    if (!customer) throw missingParam('customer');
    const start = minuteAligned(q, 'start_time');
    const end = minuteAligned(q, 'end_time');
    const grouping = q.value_grouping_window;
    const windowSec = grouping === 'hour' ? 3600 : grouping === 'day' ? 86_400 : undefined;
    // Eventually consistent: an event shows in summaries `summaryLagMs` after it was received.
    const settled = s.now() - s.summaryLagMs;
    const events = (s.meterEventsByCustomer.get(customer) ?? []).filter(
      (e) => e.eventName === meter.event_name && e.timestamp >= start && e.timestamp < end && e.receivedAt <= settled,
    );
    const windows: [number, number][] = [];
    if (!windowSec) windows.push([start, end]);
    else for (let t = start; t < end; t += windowSec) windows.push([t, Math.min(end, t + windowSec)]);
    const sumOf = (from: number, to: number) =>
      events.filter((x) => x.timestamp >= from && x.timestamp < to).reduce((sum, x) => sum + x.value, 0);
    const data = windows.map(([from, to]) => ({
      id: s.id('mtrusg'),
      object: 'billing.meter_event_summary',
      aggregated_value: sumOf(from, to),
      start_time: from,
      end_time: to,
      meter: meter.id,
      livemode: false,
    }));
    return { object: 'list', data, has_more: false, url: `/v1/billing/meters/${meter.id}/event_summaries` };
  });
}
