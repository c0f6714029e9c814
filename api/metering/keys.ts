/**
 * Redis key layout. Every per-user key carries the hash tag {userId}: the keys one script touches
 * live in one Redis Cluster slot.
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
};
