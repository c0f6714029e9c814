import { describe, expect, it } from 'vitest';
import { bearerMatches } from './index';

describe('bearerMatches (the one check of /metrics, /internal/report-usage and /health details)', () => {
  const secret = 'operator-secret-0123456789';
  it('accepts exactly the secret, with the scheme in any case and spaces after it', async () => {
    for (const h of [`Bearer ${secret}`, `bearer ${secret}`, `BEARER ${secret}`, `Bearer   ${secret}`])
      expect(await bearerMatches(h, secret), h).toBe(true);
  });
  it('refuses anything else: other schemes, prefixes, extensions, case changes, empty', async () => {
    for (const h of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      `Basic ${secret}`,
      `Bearer ${secret.slice(0, -1)}`,
      `Bearer ${secret}0`,
      `Bearer ${secret.toUpperCase()}`,
      `Bearer ${secret} extra`,
      `Bearer${secret}`,
      secret,
    ]) {
      expect(await bearerMatches(h, secret), String(h)).toBe(false);
    }
  });
});
