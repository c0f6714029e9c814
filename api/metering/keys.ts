/**
 * Redis key layout. Every per-user key carries the hash tag {userId}: the keys one script touches
 * live in one Redis Cluster slot. The few global keys (billing registry, schedule, lock, Stripe
 * customer → user) are only ever touched by single-key commands.
 */
const tag = (userId: string) => `{${userId}}`;

export const keys = {
  /** Rate limiter identifier: the limiter appends its own suffixes after the tag. */
  rateLimitId: (userId: string) => tag(userId),
  quota: (userId: string) => `rd:${tag(userId)}:quota`,
  request: (userId: string, requestId: string) => `rd:${tag(userId)}:req:${requestId}`,
  inflight: (userId: string) => `rd:${tag(userId)}:inflight`,
  /** Tombstone of an attempt given up before its reservation reached Redis. */
  cancel: (userId: string, attempt: string) => `rd:${tag(userId)}:cancel:${attempt}`,
  ledger: (userId: string) => `rd:${tag(userId)}:ledger`,
  daily: (userId: string, periodStart: number) => `rd:${tag(userId)}:daily:${periodStart}`,
  /** Usage alerts reached: field `<periodStart>:<threshold>` → epoch ms. */
  alerts: (userId: string) => `rd:${tag(userId)}:alerts`,
  /** Stripe entitlement: subscription, item, status, period, ordering key of the newest applied event. */
  billing: (userId: string) => `rd:${tag(userId)}:billing`,
  /** Marker of one processed Stripe webhook event (kept 30 days). */
  stripeEvent: (userId: string, eventId: string) => `rd:${tag(userId)}:stripe-evt:${eventId}`,
  /** Usage reporter state: ledger cursor, the pending (write-ahead) batch, totals sent per period. */
  report: (userId: string) => `rd:${tag(userId)}:report`,
  /** Batches that could not be placed in Stripe (period older than Stripe accepts): listed by reconcile. */
  reportLate: (userId: string) => `rd:${tag(userId)}:report:late`,
  /** Saved styles (brand voice): a hash of style id → JSON { name, instructions, updatedAt }. */
  styles: (userId: string) => `rd:${tag(userId)}:styles`,
  /** The last committed batches (identifier, period, tokens, how): Stripe's asynchronous meter errors name a batch by identifier. */
  reportLog: (userId: string) => `rd:${tag(userId)}:report:log`,
  /** Asynchronous meter errors Stripe reported for this user's batches (listed by reconcile). */
  reportErrors: (userId: string) => `rd:${tag(userId)}:report:errors`,

  /** Global: Stripe customer id → user id. */
  customerUser: (customerId: string) => `rd:stripe:customer:${customerId}`,
  /** Global: every user who ever had a Stripe subscription (the reporter's work list). */
  billingUsers: 'rd:billing:users',
  /** Global sorted set: user → when their current paid period must be flushed to Stripe (epoch ms). */
  reportDue: 'rd:billing:due',
  /** Global: one scheduled report run at a time. */
  reportLock: 'rd:billing:report-lock',
  /** Global: summary of the last report run (JSON), shown in /health. */
  reportLastRun: 'rd:billing:last-run',
  /** Global: the user behind a hashed meter event identifier (`rd_h<hash>_…`): Stripe's meter errors name identifiers only. */
  identifierUser: (hash: string) => `rd:billing:ident-user:${hash}`,
  /** Global hash: model price lists published with `npm run prices:publish` (version → the list as JSON). */
  modelPrices: 'rd:prices:lists',
  /** Global: marker of one processed thin Stripe event (kept 30 days). */
  thinEvent: (eventId: string) => `rd:stripe:thin-evt:${eventId}`,
};
