/**
 * 500 concurrent rewrites for one user whose remaining quota fits about 40 of them: the hard cap holds
 * and the ledger sums to the usage counter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerOf, startStack, usedOf, type Stack } from '../support/stack';
import { buildMessages } from '../../shared/prompts';
import { outputTokenCap } from '../../shared/actions';
import { countChatTokens } from '../../api/model/estimate';
import { reservationFor } from '../../api/metering/settlement';
import { keys } from '../../api/metering/keys';

let stack: Stack;
beforeAll(async () => {
  // The model always writes to the cap, so actual usage ≈ the reservation.
  stack = await startStack({
    env: { RATE_LIMIT_RPM: '10000', RATE_LIMIT_TPM: '100000000' },
    model: { outputTokens: 100_000 },
  });
});
afterAll(async () => {
  await stack?.close();
});

describe('concurrency', () => {
  it('never charges past the hard cap with 500 requests in flight', async () => {
    const user = 'user_burst';
    const token = await stack.token(user);
    const body = {
      text: 'Announce our spring sale on all running shoes, this weekend only.',
      action: 'rewrite' as const,
    };
    const messages = buildMessages(body);
    const input = countChatTokens(messages);
    const { want } = reservationFor(input, outputTokenCap(body, input));

    // Warm up the scripts, then leave room for about 40 requests.
    const first = await stack.rewrite(token, body);
    expect(first.status).toBe(200);
    await first.text();
    await expect.poll(() => ledgerOf(stack.db, user)).toHaveLength(1);
    const warm = await usedOf(stack.db, user);
    const seeded = 20_000 - 40 * want;
    await stack.db.hset(keys.quota(user), 'used', seeded);

    const statuses = await Promise.all(
      Array.from({ length: 500 }, async () => {
        const res = await stack.rewrite(token, body);
        if (res.status === 200) await res.text();
        else await res.arrayBuffer();
        return res.status;
      }),
    );
    const count = (s: number) => statuses.filter((x) => x === s).length;
    expect(count(200) + count(402)).toBe(500);
    expect(count(200)).toBeGreaterThanOrEqual(35);
    expect(count(200)).toBeLessThanOrEqual(60);

    await expect.poll(async () => (await ledgerOf(stack.db, user)).length, { timeout: 20_000 }).toBe(1 + count(200));
    const used = await usedOf(stack.db, user);
    const ledger = await ledgerOf(stack.db, user);
    const billedInBurst = ledger.slice(1).reduce((s, e) => s + Number(e.billed), 0);
    expect(used).toBeLessThanOrEqual(20_000);
    expect(used - seeded).toBe(billedInBurst);
    expect(Number(ledger[0]!.billed)).toBe(warm);
    expect(new Set(ledger.map((e) => e.id)).size).toBe(ledger.length);
    expect(await stack.db.zcard(keys.inflight(user))).toBe(0);
    console.log(
      `burst: ${count(200)} served, ${count(402)} refused (402); used ${used}/20000; reservation ${want} tokens each`,
    );
  });
});
