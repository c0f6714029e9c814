/**
 * v1 meter events, as strict as Stripe: an `identifier` (at most 100 characters) is rejected with Stripe's 400
 * ("An event already exists with identifier …", `Stripe-Should-Retry: false`) only within a rolling window (24 h
 * by default, `identifierWindowMs`) — after it the same identifier is accepted and counted again; timestamps
 * must be within 35 days back / 5 minutes ahead; values with more than 15 digits are refused. Like Stripe, some
 * checks happen after the event was accepted (200): an unknown or deleted customer, no customer, a value that is
 * not a whole number, an event name no meter has. Such events are not counted; they are reported later as thin
 * v2 events (webhooks.ts, flushMeterErrors).
 */
import type { StripeState } from '../state';
import type { MeterEventError, Obj } from '../types';
import { ApiError, missingParam, str } from '../values';
import type { Router } from './router';

/** Significant digits of a decimal string (Stripe refuses meter values with more than 15). */
const significantDigits = (v: string) => v.replace(/^[-+]/, '').replace('.', '').replace(/^0+/, '').length;

const TIMESTAMP_RANGE = 'Timestamp must be within the past 35 calendar days or up to 5 minutes in the future.';

/** The checks Stripe makes after answering 200: why an accepted event is not counted, if it is not. */
function validationError(
  s: StripeState,
  eventName: string,
  meter: Obj | undefined,
  custKey: string,
  customer: string | undefined,
  rawValue: string | undefined,
): Pick<MeterEventError, 'code' | 'message'> | undefined {
  const cust = customer ? s.customers.get(customer) : undefined;
  if (!meter) {
    return { code: 'no_meter', message: `No active meter was found that matches the event_name \`${eventName}\`.` };
  }
  if (!customer) {
    return { code: 'meter_event_no_customer_defined', message: `The event payload has no \`${custKey}\`.` };
  }
  if (!cust || cust.deleted) {
    return { code: 'meter_event_customer_not_found', message: `No customer with id \`${customer}\` was found.` };
  }
  if (typeof rawValue !== 'string' || !/^\d+$/.test(rawValue)) {
    const message = `The value \`${rawValue ?? ''}\` in the event payload is not a whole number.`;
    return { code: 'meter_event_invalid_value', message };
  }
  return undefined;
}

export function meterEventRoutes(s: StripeState, r: Router): void {
  /** A 400 counted as a rejected meter event. */
  const rejected = (error: ApiError) => {
    s.stats.meterEvents.rejected++;
    return error;
  };
  const invalid = (message: string, code: string, param: string) => rejected(new ApiError(400, message, code, param));

  r.route('POST', '/v1/billing/meter_events', (_m, p) => {
    const eventName = str(p.event_name);
    if (!eventName) throw rejected(missingParam('event_name'));
    const payload = (p.payload ?? {}) as Record<string, string>;
    if (typeof payload !== 'object' || Object.keys(payload).length === 0) {
      throw rejected(missingParam('payload'));
    }
    const identifier = str(p.identifier) ?? s.id('mev');
    if (identifier.length > 100) {
      const message = 'Invalid string: identifier must be at most 100 characters.';
      throw invalid(message, 'parameter_invalid_string', 'identifier');
    }
    const t = p.timestamp !== undefined ? Number(p.timestamp) : s.nowSec();
    if (!Number.isInteger(t) || t < s.nowSec() - 35 * 86_400 || t > s.nowSec() + 300) {
      throw invalid(TIMESTAMP_RANGE, 'parameter_invalid_integer', 'timestamp');
    }
    const meter = [...s.meters.values()].find((x) => x.event_name === eventName && x.status === 'active');
    const custKey = meter ? ((meter.customer_mapping as Obj).event_payload_key as string) : 'stripe_customer_id';
    const valueKey = meter ? ((meter.value_settings as Obj).event_payload_key as string) : 'value';
    const rawValue = payload[valueKey];
    if (typeof rawValue === 'string' && significantDigits(rawValue) > 15) {
      const message = `The value in the event payload can have at most 15 digits. Received ${rawValue}.`;
      throw invalid(message, 'parameter_invalid', `payload[${valueKey}]`);
    }
    // Identifiers are unique only within a rolling window: after it, the same identifier is a new event.
    const seen = s.identifierStatus(identifier);
    if (seen === 'duplicate') {
      s.stats.meterEvents.duplicates++;
      const answer = s.duplicateAnswer;
      const message = answer ? answer.message(identifier) : `An event already exists with identifier ${identifier}.`;
      throw new ApiError(400, message, answer?.code, 'identifier', { 'Stripe-Should-Retry': 'false' });
    }
    if (seen === 'reused') s.stats.identifierReuses++;
    s.rememberIdentifier(identifier);
    const accepted = {
      object: 'billing.meter_event',
      created: s.nowSec(),
      event_name: eventName,
      identifier,
      livemode: false,
      payload,
      timestamp: t,
    };

    // Validated after acceptance, as Stripe does: the caller got its 200 either way.
    const customer = payload[custKey];
    const error = validationError(s, eventName, meter, custKey, customer, rawValue);
    s.stats.meterEvents.accepted++; // answered 200 (counted below unless it fails validation)
    if (error) {
      const meterId = meter ? String(meter.id) : undefined;
      s.meterErrors.push({ identifier, eventName, ...error, meterId, receivedAt: s.now() });
      s.stats.meterEventErrors++;
      return accepted;
    }
    const value = Number(rawValue);
    s.recordMeterEvent({
      identifier,
      eventName,
      customer: customer!,
      value,
      timestamp: t,
      created: s.nowSec(),
      receivedAt: s.now(),
    });
    return accepted;
  });
}
