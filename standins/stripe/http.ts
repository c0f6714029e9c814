/**
 * One HTTP request to the stand-in: its controls (/_standin/), the dev pages, or the API — authorized with a test
 * key, routed, put through the fault plan (before or after the request takes effect) and, for a POST with an
 * `Idempotency-Key`, answered as the key's first answer was (for 24 h by default).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { control } from './control';
import type { FaultKind } from './faults';
import { parseForm } from './form';
import { devPage } from './pages';
import { send } from './reply';
import type { Router } from './routes';
import type { StripeState } from './state';
import type { Obj } from './types';
import { ApiError, errorBody } from './values';

const unrecognized = (req: IncomingMessage, path: string) =>
  JSON.stringify({
    error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${path}).` },
  });

const INVALID_KEY = JSON.stringify({
  error: { type: 'invalid_request_error', message: 'Invalid API Key provided (stand-in: use a sk_test_ key).' },
});

/** The answer of a fault that strikes before the request takes effect (none: a timeout or a drop). */
const FAULT_BEFORE: Partial<Record<FaultKind, [number, ApiError]>> = {
  rate_limit: [429, new ApiError(429, 'Too many requests hit the API too quickly (stand-in fault).', 'rate_limit')],
  server_error: [500, new ApiError(500, 'An unknown error occurred (stand-in fault, before the request took effect).')],
  bad_request: [400, new ApiError(400, 'Invalid request (stand-in fault).', 'parameter_invalid')],
};
const FAULT_AFTER = new ApiError(500, 'An unknown error occurred (stand-in fault, after the request took effect).');

export async function handle(s: StripeState, router: Router, req: IncomingMessage, res: ServerResponse): Promise<void> {
  s.stats.requests++;
  const [path = '/', query = ''] = (req.url ?? '/').split('?');
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks).toString('utf8');

  if (path.startsWith('/_standin/')) {
    if (!(await control(s, req, res, path, body))) send(res, 404, '{}');
    return;
  }
  if (!path.startsWith('/v1/') && !path.startsWith('/v2/')) {
    if (!(await devPage(s, req, res, path))) send(res, 404, unrecognized(req, path));
    return;
  }

  const key = (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
  if (s.apiKey ? key !== s.apiKey : !/^(sk|rk)_test_\S+$/.test(key)) return send(res, 401, INVALID_KEY);
  const route = router.find(req.method, path);
  if (!route) return send(res, 404, unrecognized(req, path));
  s.stats.byRoute[route.name] = (s.stats.byRoute[route.name] ?? 0) + 1;

  const fault = s.faults.draw(`${req.method} ${path}`);
  if (fault) s.stats.faults[fault] = (s.stats.faults[fault] ?? 0) + 1;
  const hold = () => {
    const t = setTimeout(() => res.destroy(), s.faults.holdMs);
    res.once('close', () => clearTimeout(t));
  };
  const before = fault ? FAULT_BEFORE[fault] : undefined;
  if (before) return send(res, before[0], errorBody(before[1]));
  if (fault === 'timeout') return hold();
  if (fault === 'drop') return void req.socket.destroy();

  const idemKey = req.method === 'POST' ? req.headers['idempotency-key'] : undefined;
  const idemId = typeof idemKey === 'string' ? `${path}\n${idemKey}` : undefined;
  let status = 200;
  let out: string;
  let headers: Record<string, string> = {};
  // Keys are pruned after 24 h: a replay after that runs the request again.
  const saved = idemId ? s.savedAnswer(idemId) : undefined;
  if (saved) {
    status = saved.status;
    out = saved.body;
    headers = { 'Idempotent-Replayed': 'true' };
  } else {
    try {
      // v1 bodies are form-encoded, v2 bodies JSON.
      const v2 = path.startsWith('/v2/');
      const params = req.method !== 'POST' ? {} : v2 ? ((body ? JSON.parse(body) : {}) as Obj) : parseForm(body);
      out = JSON.stringify(route.run(path.match(route.pattern)!, params, parseForm(query)));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      status = err.status;
      out = errorBody(err);
      headers = err.headers;
    }
    // Stripe saves the result of a POST under its idempotency key (errors from validation included).
    if (idemId && status < 500) s.saveAnswer(idemId, status, out);
  }

  if (fault === 'server_error_after') return send(res, 500, errorBody(FAULT_AFTER));
  if (fault === 'timeout_after') return hold();
  if (fault === 'drop_after') return void req.socket.destroy();
  send(res, status, out, headers);
}
