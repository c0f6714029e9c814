/**
 * Webhooks out of the stand-in: snapshot events signed with `stripe.webhooks.generateTestHeaderString` and
 * POSTed to the webhook target and the registered endpoints (each in its API version), and the thin v2 events
 * of Stripe's asynchronous meter validation, sent to the event destinations.
 */
import Stripe from 'stripe';
import { renderEvent } from './events';
import type { StripeState } from './state';
import type { MeterEventError, WebhookDelivery, WebhookTarget } from './types';
import { iso } from './values';

/** Sample errors per error code in one asynchronous error report. */
const METER_ERROR_SAMPLES = 5;

/** Sign and POST one payload; logs the delivery and returns the status answered (0: no answer). */
async function post(s: StripeState, url: string, secret: string, body: unknown, logged: WebhookDelivery) {
  const payload = JSON.stringify(body, null, 2);
  const header = Stripe.webhooks.generateTestHeaderString({ payload, secret });
  s.deliveryLog.push(logged);
  // No answer (an unreachable URL) is status 0, as Stripe's delivery log shows a failed attempt.
  const headers = { 'Content-Type': 'application/json', 'Stripe-Signature': header };
  const res = await fetch(url, { method: 'POST', headers, body: payload }).catch(() => undefined);
  await res?.arrayBuffer();
  logged.status = res?.status ?? 0;
  return logged.status;
}

/**
 * Sign and POST events, in order; returns the statuses. To `to` (rendered in `to.apiVersion`, default the
 * SDK's), or without it to the webhook target (every type, the SDK's version) and to every registered webhook
 * endpoint enabled for the type, each in its API version.
 */
export async function deliver(
  s: StripeState,
  events: Stripe.Event[],
  to?: WebhookTarget & { apiVersion?: string },
): Promise<number[]> {
  type Target = WebhookTarget & { apiVersion: string; types?: string[] };
  const endpoints = [...s.endpoints.values()].filter((e) => e.status === 'enabled');
  const targets: Target[] = to
    ? [{ url: to.url, secret: to.secret, apiVersion: to.apiVersion ?? Stripe.API_VERSION }]
    : [
        ...(s.webhookTarget ? [{ ...s.webhookTarget, apiVersion: Stripe.API_VERSION }] : []),
        ...endpoints.map((e) => ({ url: e.url, secret: e.secret, apiVersion: e.api_version, types: e.enabled_events })),
      ];
  if (targets.length === 0) throw new Error('stand-in: no webhook URL to deliver to');
  const statuses: number[] = [];
  for (const e of events) {
    for (const t of targets) {
      if (t.types && !t.types.includes('*') && !t.types.includes(e.type)) continue;
      const logged = { eventId: e.id, type: e.type, url: t.url, status: 0 };
      statuses.push(await post(s, t.url, t.secret, renderEvent(e, t.apiVersion), logged));
    }
  }
  return statuses;
}

/** Whether `deliver` without a target has anywhere to send to (the pages' buttons deliver only then). */
export const canDeliver = (s: StripeState) => Boolean(s.webhookTarget) || s.endpoints.size > 0;

/**
 * Stripe's asynchronous meter validation reports: one `v1.billing.meter.error_report_triggered` per meter
 * (and one `v1.billing.meter.no_meter_found`) for the errors since the last report, with the count per
 * error code and a few samples (identifier and message) each — not every failed event is named. Thin
 * payloads go to the event destinations; the full event is at GET /v2/core/events/:id.
 */
export async function flushMeterErrors(s: StripeState): Promise<number[]> {
  const pending = s.meterErrors.filter((e) => !e.reportedIn);
  const groups = new Map<string, MeterEventError[]>();
  for (const e of pending) {
    const k = e.code === 'no_meter' ? 'no_meter' : `meter:${e.meterId}`;
    groups.set(k, [...(groups.get(k) ?? []), e]);
  }
  const statuses: number[] = [];
  for (const [k, list] of groups) {
    const type = k === 'no_meter' ? 'v1.billing.meter.no_meter_found' : 'v1.billing.meter.error_report_triggered';
    const byCode = new Map<string, MeterEventError[]>();
    for (const e of list) byCode.set(e.code, [...(byCode.get(e.code) ?? []), e]);
    const evtId = s.id('evt_test');
    const meterId = list[0]!.meterId;
    const meter = meterId ? { id: meterId, type: 'billing.meter', url: `/v1/billing/meters/${meterId}` } : undefined;
    const thin = {
      id: evtId,
      object: 'v2.core.event',
      type,
      created: iso(s.now()),
      livemode: false,
      ...(meter ? { related_object: meter } : {}),
    };
    const samples = (errs: MeterEventError[]) =>
      errs.slice(0, METER_ERROR_SAMPLES).map((e) => ({
        error_message: e.message,
        request: { identifier: e.identifier },
      }));
    const errorTypes = [...byCode].map(([code, errs]) => ({
      code,
      error_count: errs.length,
      sample_errors: samples(errs),
    }));
    const firstReceived = iso(Math.min(...list.map((e) => e.receivedAt)));
    const summary = `There were ${list.length} invalid meter event(s) between ${firstReceived} and ${iso(s.now())}.`;
    s.v2Events.set(evtId, {
      ...thin,
      data: {
        developer_message_summary: summary,
        reason: { error_count: list.length, error_types: errorTypes },
        validation_start: firstReceived,
        validation_end: iso(s.now()),
      },
    });
    for (const e of list) e.reportedIn = evtId;
    const destinations = [...s.destinations.values()].filter(
      (d) => d.status === 'enabled' && d.event_payload === 'thin' && d.enabled_events.includes(type),
    );
    const targets = [
      ...(s.thinTarget ? [s.thinTarget] : []),
      ...destinations.map((d) => ({ url: d.url, secret: d.secret })),
    ];
    for (const t of targets) {
      statuses.push(await post(s, t.url, t.secret, thin, { eventId: evtId, type, url: t.url, status: 0 }));
    }
  }
  return statuses;
}
