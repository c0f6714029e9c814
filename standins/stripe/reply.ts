/** The stand-in's JSON answers, with a Request-Id as Stripe's. */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';

export function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'Request-Id': `req_${randomBytes(7).toString('hex')}`,
    ...headers,
  });
  res.end(body);
}
