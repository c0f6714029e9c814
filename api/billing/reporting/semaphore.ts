/** At most `n` holders at once: the reporter's Stripe calls and users in progress. */
export function semaphore(n: number) {
  let free = Math.max(1, n);
  const waiting: (() => void)[] = [];
  return {
    async acquire(): Promise<void> {
      if (free > 0) {
        free--;
        return;
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    },
    release(): void {
      const next = waiting.shift();
      if (next) next();
      else free++;
    },
  };
}
