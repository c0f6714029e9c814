import { describe, expect, it } from 'vitest';
import {
  isOpenToolbarMessage,
  MAX_MESSAGE_TEXT,
  newRequestId,
  openToolbarRoute,
  parseClientMessage,
  PROTOCOL_VERSION,
  REWRITE_PORT,
} from '../../../extension/lib/protocol';
import { REQUEST_ID_PATTERN, RewriteRequestSchema } from '../../../shared/contract';

const start = { type: 'start', requestId: 'rd_abcdef123456', text: 'Our shoes are good.', action: 'rewrite' };

describe('port protocol', () => {
  it('carries its version in the port name', () => {
    expect(REWRITE_PORT).toBe(`redraft/rewrite@${PROTOCOL_VERSION}`);
  });

  it('accepts well-formed start and stop messages, dropping unknown fields', () => {
    expect(parseClientMessage(start)).toEqual(start);
    expect(parseClientMessage({ ...start, extra: 'ignored' })).toEqual(start);
    expect(parseClientMessage({ type: 'stop' })).toEqual({ type: 'stop' });
    expect(parseClientMessage({ ...start, action: 'tone', tone: 'friendly' })).toEqual({
      ...start,
      action: 'tone',
      tone: 'friendly',
    });
    expect(parseClientMessage({ ...start, action: 'social_post', platform: 'x' })).toEqual({
      ...start,
      action: 'social_post',
      platform: 'x',
    });
  });

  it('what it accepts, the API schema accepts too', () => {
    for (const m of [
      start,
      { ...start, action: 'tone', tone: 'casual' },
      { ...start, action: 'social_post', platform: 'linkedin' },
    ]) {
      const parsed = parseClientMessage(m);
      expect(parsed?.type).toBe('start');
      if (parsed?.type !== 'start') continue;
      const { type: _type, ...body } = parsed;
      expect(RewriteRequestSchema.safeParse(body).success).toBe(true);
    }
  });

  it.each([
    ['not an object', 'start'],
    ['unknown type', { type: 'chunk', text: 'x' }],
    ['bad requestId (short)', { ...start, requestId: 'short' }],
    ['bad requestId (chars)', { ...start, requestId: 'has spaces in it' }],
    ['empty text', { ...start, text: '   ' }],
    ['text not a string', { ...start, text: 42 }],
    ['text too long', { ...start, text: 'a'.repeat(MAX_MESSAGE_TEXT + 1) }],
    ['unknown action', { ...start, action: 'translate' }],
    ['tone missing', { ...start, action: 'tone' }],
    ['unknown tone', { ...start, action: 'tone', tone: 'angry' }],
    ['tone on another action', { ...start, tone: 'casual' }],
    ['platform missing', { ...start, action: 'social_post' }],
    ['unknown platform', { ...start, action: 'social_post', platform: 'myspace' }],
    ['platform on another action', { ...start, platform: 'x' }],
  ])('refuses %s', (_name, msg) => {
    expect(parseClientMessage(msg)).toBeNull();
  });

  it('makes request ids the API accepts, different each time', () => {
    const a = newRequestId();
    const b = newRequestId();
    expect(a).toMatch(REQUEST_ID_PATTERN);
    expect(b).toMatch(REQUEST_ID_PATTERN);
    expect(a).not.toBe(b);
    expect(newRequestId(() => 'x'.repeat(100))).toHaveLength(64);
  });
});

describe('open-toolbar routing', () => {
  it('the shortcut goes to every frame (only the focused one answers); the context menu to the frame it was opened in', () => {
    expect(openToolbarRoute({ kind: 'command' })).toEqual({
      message: { type: 'redraft/open-toolbar', scope: 'focused' },
      frameId: null,
    });
    expect(openToolbarRoute({ kind: 'menu', frameId: 7 })).toEqual({
      message: { type: 'redraft/open-toolbar', scope: 'frame' },
      frameId: 7,
    });
    expect(openToolbarRoute({ kind: 'menu' }).frameId).toBe(0);
    expect(isOpenToolbarMessage(openToolbarRoute({ kind: 'command' }).message)).toBe(true);
  });
});
