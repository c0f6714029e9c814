/**
 * How one failed Stripe call is classified: the gateway's own rules (its callers act on the kind it reports).
 * Pure; unit-tested in tests/unit/billing.test.ts.
 */

/** How one failed Stripe call is treated. */
export type FailureKind = 'duplicate' | 'retry' | 'permanent';

export interface StripeFailure {
  statusCode?: number;
  type?: string;
  /** Stripe's error code (`error.code`), when it sends one. */
  code?: string;
  message?: string;
  headers?: Record<string, string>;
}

const DUPLICATE = /already exists with identifier/i;

/**
 * - A 400 "An event already exists with identifier …" (v1 meter events, no code) or with the code
 *   `duplicate_meter_event` (v2) means Stripe already holds this batch: delivered.
 * - 429, 409 (idempotency key in use), 5xx, timeouts and dropped connections are retried with backoff
 *   (Stripe's own `Stripe-Should-Retry` header wins when present).
 * - Anything else (a bad request, a wrong key, an unknown meter) will fail the same way again: the batch
 *   stays pending and the run reports it.
 */
export function classifyFailure(f: StripeFailure): FailureKind {
  if (f.statusCode === 400 && (f.code === 'duplicate_meter_event' || DUPLICATE.test(f.message ?? '')))
    return 'duplicate';
  const should = headerOf(f.headers, 'stripe-should-retry');
  if (should === 'true') return 'retry';
  if (should === 'false') return 'permanent';
  if (f.type === 'StripeConnectionError' || f.statusCode === undefined) return 'retry';
  if (f.statusCode === 429 || f.statusCode === 409 || f.statusCode >= 500) return 'retry';
  return 'permanent';
}

function headerOf(h: Record<string, string> | undefined, name: string): string | undefined {
  if (!h) return undefined;
  for (const [k, v] of Object.entries(h)) if (k.toLowerCase() === name) return String(v).toLowerCase();
  return undefined;
}
