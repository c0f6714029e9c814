/**
 * The stand-in's own controls over HTTP, for dev and benchmarks in another process: `GET /_standin/stats`,
 * `GET /_standin/totals`, `POST /_standin/flush-meter-errors` and `POST /_standin/faults` (a FaultPlan as JSON,
 * `route` a RegExp source; neither `rate` nor `times`: clear the faults).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultPlan } from './faults';
import { send } from './reply';
import type { StripeState } from './state';
import { flushMeterErrors } from './webhooks';

/** Answers a control path; false when `path` is none of them. */
export async function control(
  s: StripeState,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  body: string,
): Promise<boolean> {
  if (path === '/_standin/stats') return (send(res, 200, JSON.stringify(s.stats)), true);
  if (path === '/_standin/totals') return (send(res, 200, JSON.stringify(Object.fromEntries(s.totals()))), true);
  if (path === '/_standin/flush-meter-errors' && req.method === 'POST') {
    return (send(res, 200, JSON.stringify({ statuses: await flushMeterErrors(s) })), true);
  }
  if (path === '/_standin/faults' && req.method === 'POST') {
    const f = JSON.parse(body || '{}') as Omit<FaultPlan, 'route'> & { route?: string };
    if (f.rate === undefined && f.times === undefined) s.faults.clear();
    else s.faults.inject({ ...f, route: f.route ? new RegExp(f.route) : undefined });
    return (send(res, 200, '{"ok":true}'), true);
  }
  return false;
}
