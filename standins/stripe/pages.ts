/**
 * Dev pages: the Checkout and billing portal URLs the stand-in hands out, with buttons doing what Stripe would
 * do (complete the Checkout; cancel at the period end or now), sending the webhooks when there is a target.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { completeCheckout, endSubscription, setCancelAtPeriodEnd } from './scenarios';
import type { StripeState } from './state';
import type { Obj } from './types';
import { canDeliver, deliver } from './webhooks';

const BANNER =
  '<p style="background:#fee;padding:.5rem;border:1px solid #c00"><b>OFFLINE STRIPE STAND-IN</b> — ' +
  'a local test double, not Stripe. No money moves.</p>';

function page(res: ServerResponse, title: string, body: string): void {
  const head = `<!doctype html><meta charset="utf-8"><title>${title}</title>`;
  const html = `${head}<body style="font-family:system-ui;max-width:40rem;margin:3rem auto">\n${BANNER}${body}</body>`;
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(html);
}

function redirect(res: ServerResponse, to: string): void {
  res.writeHead(303, { Location: to });
  res.end();
}

const checkoutPage = (session: Obj) =>
  [
    '<h1>Redraft Pro — $20/month + $0.002 per 1,000 tokens over 500,000</h1>' +
      `<p>Customer ${session.customer ?? '(new)'}.</p>`,
    `<form method="post" action="/checkout/${session.id}/complete"><button>Pay (stand-in)</button></form>` +
      `<p><a href="${session.cancel_url ?? '#'}">Cancel</a></p>`,
  ].join('\n');

const portalPage = (portal: Obj, subscriptions: string) =>
  [
    `<h1>Billing portal</h1><p>Customer ${portal.customer}: ${subscriptions || 'no subscription'}.</p>`,
    `<form method="post" action="/portal/${portal.id}/cancel-at-end"><button>Cancel at period end</button></form>`,
    `<form method="post" action="/portal/${portal.id}/cancel-now"><button>Cancel now</button></form>` +
      `<p><a href="${portal.return_url ?? '#'}">Back</a></p>`,
  ].join('\n');

/** Answers a dev page; false when `path` is none of them. */
export async function devPage(
  s: StripeState,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<boolean> {
  let m = /^\/checkout\/([^/]+)(\/complete)?$/.exec(path);
  if (m) {
    const session = s.sessions.get(m[1]!);
    if (!session) return false;
    if (m[2] && req.method === 'POST') {
      const events = completeCheckout(s, m[1]!);
      if (canDeliver(s)) await deliver(s, events).catch(() => []);
      redirect(res, String(session.success_url).replace('{CHECKOUT_SESSION_ID}', String(session.id)));
      return true;
    }
    page(res, 'Checkout (stand-in)', checkoutPage(session));
    return true;
  }
  m = /^\/portal\/([^/]+)(\/(cancel-at-end|cancel-now))?$/.exec(path);
  if (m) {
    const portal = s.portals.get(m[1]!);
    if (!portal) return false;
    const subs = [...s.subscriptions.values()].filter((x) => x.customer === portal.customer && x.status !== 'canceled');
    if (m[3] && req.method === 'POST') {
      for (const sub of subs) {
        const events = m[3] === 'cancel-now' ? endSubscription(s, sub.id) : setCancelAtPeriodEnd(s, sub.id, true);
        if (canDeliver(s)) await deliver(s, events).catch(() => []);
      }
      redirect(res, String(portal.return_url ?? '/'));
      return true;
    }
    const list = subs.map((x) => `${x.id} (${x.status}${x.cancel_at_period_end ? ', cancels at period end' : ''})`);
    page(res, 'Billing portal (stand-in)', portalPage(portal, list.join(', ')));
    return true;
  }
  if (path === '/done') {
    page(res, 'Done (stand-in)', '<h1>Done.</h1><p>You can close this tab.</p>');
    return true;
  }
  return false;
}
