import { describe, expect, it } from 'vitest';
import { rewriteEventParser } from './sse';

const sse =
  'event: text\ndata: "Hello"\n\nevent: text\ndata: " wörld \\n\\"ok\\""\n\n: keep-alive\n\nevent: done\ndata: {"finishReason":"length"}\n\n';

describe('rewriteEventParser', () => {
  it('reads pieces and the finish reason', () => {
    expect(rewriteEventParser().push(sse)).toEqual([
      { type: 'text', text: 'Hello' },
      { type: 'text', text: ' wörld \n"ok"' },
      { type: 'done', done: { finishReason: 'length' } },
    ]);
  });

  it('gives the same events however the stream is split (one character at a time, CRLF lines)', () => {
    const p = rewriteEventParser();
    const events = [...sse.replace(/\n/g, '\r\n')].flatMap((ch) => p.push(ch));
    expect(events).toEqual(rewriteEventParser().push(sse));
  });

  it('ignores unknown events, maps unknown finish reasons to other, flags data that is not JSON', () => {
    const p = rewriteEventParser();
    expect(
      p.push(
        'event: ping\ndata: {}\n\nevent: done\ndata: {"finishReason":"tool-calls"}\n\nevent: text\ndata: oops\n\n',
      ),
    ).toEqual([
      { type: 'done', done: { finishReason: 'other' } },
      { type: 'bad', reason: "the text event's data is not JSON" },
    ]);
  });

  it('keeps an unfinished event until its blank line arrives', () => {
    const p = rewriteEventParser();
    expect(p.push('event: text\ndata: "a"')).toEqual([]);
    expect(p.push('\n\n')).toEqual([{ type: 'text', text: 'a' }]);
  });
});
