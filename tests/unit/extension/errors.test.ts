import { describe, expect, it } from 'vitest';
import { explainError } from '../../../extension/lib/errors';

const e = (status: number, code: string, extra: Record<string, unknown> = {}) =>
  explainError({ status, code: code as never, message: 'server text', ...extra });

describe('API errors as sentences with the next step', () => {
  it('401: sign in', () => {
    expect(e(401, 'unauthenticated')).toEqual({
      sentence: expect.stringMatching(/not signed in.*Sign in/),
      next: 'sign_in',
    });
  });

  it('402: upgrade, with the reset date', () => {
    const x = e(402, 'quota_exhausted', { periodEnd: '2026-12-24T09:30:00.000Z' });
    expect(x.next).toBe('upgrade');
    expect(x.sentence).toBe(
      'You have used all your tokens for this period; they reset on December 24. Upgrade your plan from the Redraft button to keep rewriting now.',
    );
    expect(e(402, 'quota_exhausted').sentence).toMatch(/^You have used all your tokens for this period\. Upgrade/);
  });

  it('413: select less', () => {
    expect(e(413, 'text_too_long')).toMatchObject({
      next: 'shorten',
      sentence: expect.stringMatching(/too long.*shorter passage/),
    });
    expect(e(413, 'payload_too_large').next).toBe('shorten');
  });

  it('429: wait N seconds', () => {
    expect(e(429, 'rate_limited', { retryAfterSeconds: 17 })).toEqual({
      sentence: 'You are rewriting faster than your plan allows. Wait 17 seconds, then try again.',
      next: 'wait',
      waitSeconds: 17,
    });
    expect(e(429, 'rate_limited', { retryAfterSeconds: 0.2 })).toMatchObject({
      sentence: expect.stringContaining('Wait 1 second,'),
      waitSeconds: 1,
    });
  });

  it('503: nothing was charged, try again', () => {
    expect(e(503, 'metering_unavailable')).toMatchObject({
      next: 'retry',
      sentence: expect.stringMatching(/nothing was run or charged/),
    });
    expect(e(503, 'model_unavailable')).toMatchObject({
      next: 'retry',
      sentence: expect.stringMatching(/nothing was charged/),
    });
    expect(e(503, 'something_new')).toMatchObject({
      next: 'retry',
      sentence: expect.stringMatching(/temporarily unavailable/),
    });
  });

  it("the extension's own failures", () => {
    expect(e(0, 'network').next).toBe('options');
    expect(e(0, 'stream_interrupted').sentence).toMatch(/charged only for the text shown/);
    expect(e(400, 'bad_message').next).toBe('reload');
    expect(e(400, 'invalid_request').sentence).toContain('server text');
    expect(e(500, 'internal')).toMatchObject({ next: 'retry' });
  });
});
