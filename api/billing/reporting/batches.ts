/**
 * Pure rules of usage reporting: what a batch's meter event identifier is, where its timestamp goes, which
 * invoice takes it, and the backoff between attempts (how a Stripe failure is classified is the gateway's:
 * ../stripe/failures.ts). No I/O; unit-tested in tests/unit/billing.test.ts.
 */

/** A claimed batch: consecutive billable ledger events of one user, one period and one Stripe customer. */
export interface Batch {
  userId: string;
  customerId: string;
  /** The period the usage belongs to (epoch ms, end exclusive). */
  periodStart: number;
  periodEnd: number;
  /** Sum of the events' billed tokens. */
  value: number;
  events: number;
  /** Stream id of the batch's last ledger event: the batch covers (cursor, lastId]. */
  lastId: string;
  /** When the last event of the batch ended (epoch ms). */
  lastEndedAt: number;
}

/** What the reporter knows besides the batch when it claims one. */
export interface BatchState {
  /** When the batch was claimed (epoch ms): no attempt to send it can be older. */
  claimedAt: number;
  /** 'item' once the batch is being billed as an invoice item (its period's invoice was final). */
  route: 'meter' | 'item';
  /** The batch period's totals so far: delivered as meter events, billed as invoice items, refused by Stripe's asynchronous validation. */
  sentTokens: number;
  itemTokens: number;
  errorTokens: number;
  /** The user's current Stripe subscription, if known (invoice items go onto its next invoice). */
  subscriptionId: string | undefined;
}

/** Stripe meter event identifiers: unique per user, period and ledger position; at most 100 characters. */
const MAX_IDENTIFIER = 100;
const SAFE = /^[A-Za-z0-9_-]+$/;

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * `rd_<userId>_<periodStartSeconds>_<lastStreamId>`: the same batch always gets the same identifier, so a
 * retry, a restart after a crash, or a second reporter sending it again is rejected by Stripe as a
 * duplicate instead of billed twice. A user id that is long or has characters outside [A-Za-z0-9_-] is
 * replaced by a SHA-256 prefix (still deterministic).
 */
export async function meterEventIdentifier(b: Pick<Batch, 'userId' | 'periodStart' | 'lastId'>): Promise<string> {
  const tail = `${Math.floor(b.periodStart / 1000)}_${b.lastId}`;
  const readable = `rd_${b.userId}_${tail}`;
  if (SAFE.test(b.userId) && readable.length <= MAX_IDENTIFIER) return readable;
  return `rd_h${(await sha256Hex(b.userId)).slice(0, 32)}_${tail}`;
}

/**
 * The identifier of a meter event we sent, read back (Stripe's asynchronous errors name identifiers only):
 * the user id (or, for hashed ids, the hash to look up), the period start (seconds) and the batch's last
 * ledger stream id. Undefined for identifiers that are not ours.
 */
export function parseIdentifier(
  identifier: string,
): { userId?: string; hash?: string; periodSec: number; lastId: string } | undefined {
  const m = /^rd_(.+)_(\d+)_(\d+-\d+)$/.exec(identifier);
  if (!m) return undefined;
  const [, who, periodSec, lastId] = m as unknown as [string, string, string, string];
  const hashed = /^h([0-9a-f]{32})$/.exec(who);
  return { ...(hashed ? { hash: hashed[1] } : {}), userId: who, periodSec: Number(periodSec), lastId };
}

/**
 * Stripe rejects a repeated identifier only within a rolling window of at least 24 hours. A pending batch
 * claimed longer ago than this may have reached Stripe more than 24 h ago — then a blind re-send would be
 * counted again — so it is re-sent only after Stripe's own record (the period's meter summary) says it
 * did not land. Every attempt to send a batch happens after its claim, so the claim's age bounds them all.
 */
export const BLIND_RESEND_MS = 20 * 3_600_000;

/**
 * Whether a pending batch reached Stripe, from the meter summary of its period: `total` is what Stripe
 * holds for the customer in the period's window, `delivered` what our committed batches of the period put
 * there (sent minus what Stripe's asynchronous validation refused). Every earlier batch of the period was
 * committed before this one was claimed, so their summaries have settled. 'no' can also mean the batch
 * landed in the last minutes (not aggregated yet): then Stripe still remembers its identifier, and a
 * re-send is rejected as a duplicate — never counted twice. Anything else: something else differs.
 */
export function landedFromSummary(total: number, delivered: number, value: number): 'yes' | 'no' | 'unclear' {
  if (total === delivered + value) return 'yes';
  if (total === delivered) return 'no';
  return 'unclear';
}

/**
 * Which invoice takes a batch's usage. Stripe takes usage for an ended period only until that period's
 * invoice is finalized (1 h after the period ends by default, up to 72 h); events sent later are accepted
 * and show in summaries, but are on no invoice.
 * - open: the period runs, or its invoice is a draft that finalizes more than `marginMs` from now (or not
 *   by itself), or Stripe has not created it yet within an hour of the period's end: a meter event.
 * - closing: the draft finalizes within `marginMs` (a meter event might be aggregated too late): usage not
 *   sent yet goes onto the next invoice as an invoice item; a batch that may have been sent waits for the
 *   invoice to be final, which tells whether it made it.
 * - closed: the invoice is final (or none came within the hour): invoice items only.
 */
export type PeriodState = 'open' | 'closing' | 'closed';

/** Meter events stop this long before a draft invoice finalizes: covers Stripe's asynchronous aggregation and clock skew. */
export const INVOICE_MARGIN_MS = 15 * 60_000;
/** Stripe's default finalization grace period: an invoice not even created this long after its period ended is not coming. */
export const DEFAULT_INVOICE_GRACE_MS = 3_600_000;

export function periodState(
  periodEnd: number,
  invoice: { status: string; autoFinalizesAt: number | null } | undefined,
  now: number,
  marginMs = INVOICE_MARGIN_MS,
): PeriodState {
  if (now < periodEnd) return 'open';
  if (!invoice) return now < periodEnd + DEFAULT_INVOICE_GRACE_MS - marginMs ? 'open' : 'closed';
  if (invoice.status !== 'draft') return 'closed';
  if (invoice.autoFinalizesAt === null) return 'open';
  return invoice.autoFinalizesAt * 1000 - now > marginMs ? 'open' : 'closing';
}

/**
 * The overage in `tokens` more usage of a period, billed after `invoiced` tokens of it (graduated price:
 * the first `included` tokens of a period are free): what an invoice item for late usage charges.
 */
export function overageTokens(invoiced: number, tokens: number, included: number): number {
  return Math.max(0, invoiced + tokens - included) - Math.max(0, invoiced - included);
}

/** Stripe accepts meter event timestamps up to 35 days back; keep an hour of margin for slow retries. */
export const STRIPE_BACKDATE_LIMIT_MS = 35 * 86_400_000;
const BACKDATE_MARGIN_MS = 3_600_000;

const floorMinuteSec = (ms: number) => Math.floor(ms / 60_000) * 60;

/**
 * The minute-aligned window of a period that reconcile (and the summary check) asks Stripe's meter event
 * summaries for, in seconds: from the minute the period starts in to the start of the minute it ends in.
 * Every timestamp placeBatch gives a batch of the period lies inside it, and inside the period itself —
 * also usage of the period's first, partial minute reported within that minute — so the windows of
 * consecutive periods never overlap and each holds exactly its period's batches.
 */
export function periodWindowSec(periodStart: number, periodEnd: number): { start: number; end: number } {
  const start = floorMinuteSec(periodStart);
  const end = floorMinuteSec(periodEnd);
  if (end - start < 60) return { start: Math.floor(periodStart / 1000), end: Math.floor(periodEnd / 1000) };
  return { start, end };
}

export type Placement = { ok: true; timestamp: number } | { ok: false; reason: 'too_old' | 'too_early' };

/**
 * Where a batch's meter event goes on Stripe's time line: when its last event ended, clamped into the
 * period (from its first whole second to the second before the minute it ends in, so it lands on this
 * period's invoice even when the request ended after the boundary) and never in the future. A period that
 * ended more than ~35 days ago can no longer be placed (Stripe refuses it, and its invoice is long final):
 * the batch is set aside and listed by reconcile.
 */
export function placeBatch(b: Pick<Batch, 'periodStart' | 'periodEnd' | 'lastEndedAt'>, now: number): Placement {
  const w = periodWindowSec(b.periodStart, b.periodEnd);
  const first = Math.ceil(b.periodStart / 1000);
  let ts = Math.floor(b.lastEndedAt / 1000);
  ts = Math.max(first, Math.min(ts, w.end - 1));
  ts = Math.min(ts, Math.floor(now / 1000));
  if (ts * 1000 < b.periodStart) return { ok: false, reason: 'too_early' }; // within the period's first second: next run
  if (ts * 1000 < now - STRIPE_BACKDATE_LIMIT_MS + BACKDATE_MARGIN_MS) return { ok: false, reason: 'too_old' };
  return { ok: true, timestamp: ts };
}

/** Exponential backoff with full jitter: attempt 0 → up to `baseMs`, doubling to `capMs`. `random` is injectable for tests. */
export function backoffMs(
  attempt: number,
  opts: { baseMs?: number; capMs?: number; random?: () => number } = {},
): number {
  const base = opts.baseMs ?? 250;
  const cap = opts.capMs ?? 8_000;
  const ceiling = Math.min(cap, base * 2 ** attempt);
  return Math.round((opts.random ?? Math.random)() * ceiling);
}
