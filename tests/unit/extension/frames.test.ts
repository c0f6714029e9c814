// @vitest-environment happy-dom
/**
 * Messages between frames (lib/frames.ts): what another frame's agent, or the page itself, may send is
 * validated; anything malformed is dropped. And the canvas heuristic behind "not supported here".
 */
import { describe, expect, it } from 'vitest';
import { offsetBox, parseAgentCall, parseAgentEvent, parseGeometry, parseReport } from '../../../extension/lib/frames';
import { drawsTextOnCanvas } from '../../../extension/lib/selection';

const report = {
  id: 'abc123',
  text: 'Our shoes are good.',
  editable: true,
  kind: 'editable',
  rect: { left: 10, top: 20, right: 110, bottom: 40 },
  point: null,
  fromCommand: false,
  nonce: 'n0nce',
  dir: 'ltr',
  mode: 'button',
  dark: false,
  oneLine: false,
};

describe('frame messages', () => {
  it('a well-formed selection report passes; malformed ones are dropped', () => {
    expect(parseReport(report)).toEqual(report);
    expect(parseReport({ ...report, dir: 'sideways' })?.dir).toBe('ltr');
    for (const bad of [
      { ...report, id: 'has spaces' },
      { ...report, id: 'x'.repeat(65) },
      { ...report, text: '   ' },
      { ...report, text: 'x'.repeat(200_001) },
      { ...report, kind: 'canvas' },
      { ...report, rect: { left: 0, top: 0, right: Infinity, bottom: 1 } },
      { ...report, point: { x: 'a', y: 1 } },
      { ...report, editable: 'yes' },
      null,
      [],
    ]) {
      expect(parseReport(bad)).toBeNull();
    }
  });

  it('agent events and calls', () => {
    expect(parseAgentEvent({ type: 'selection', report })).toEqual({ type: 'selection', report });
    expect(parseAgentEvent({ type: 'dismiss', reason: 'escape' })).toEqual({ type: 'dismiss', reason: 'escape' });
    expect(parseAgentEvent({ type: 'dismiss', reason: 'scroll' })).toBeNull(); // a scroll moves the UI, it no longer closes it
    expect(parseAgentEvent({ type: 'moved', extra: 1 })).toEqual({ type: 'moved' });
    expect(parseAgentEvent({ type: 'dismiss', reason: 'boom' })).toBeNull();
    expect(parseAgentEvent({ type: 'no-selection', canvas: true })).toEqual({ type: 'no-selection', canvas: true });
    expect(parseAgentEvent({ type: 'replacement-changed', id: 'abc', state: 'reverted' })).toEqual({
      type: 'replacement-changed',
      id: 'abc',
      state: 'reverted',
    });
    expect(parseAgentEvent({ type: 'eval', code: 'x' })).toBeNull();
    expect(parseAgentCall({ op: 'replace', id: 'abc', text: 'New text' })).toEqual({
      op: 'replace',
      id: 'abc',
      text: 'New text',
    });
    expect(parseAgentCall({ op: 'replace', id: 'abc', text: '' })).toBeNull();
    expect(parseAgentCall({ op: 'insert', id: 'abc', text: 'Below' })).toEqual({
      op: 'insert',
      id: 'abc',
      text: 'Below',
    });
    expect(parseAgentCall({ op: 'insert', id: 'abc', text: ' \n ' })).toBeNull();
    expect(parseAgentCall({ op: 'locate', id: 'abc' })).toEqual({ op: 'locate', id: 'abc' });
    expect(parseAgentCall({ op: 'undo', id: 'abc', extra: 1 })).toEqual({ op: 'undo', id: 'abc' });
    expect(parseAgentCall({ op: 'delete-all', id: 'abc' })).toBeNull();
  });

  it('geometry carries a nonce and finite numbers only', () => {
    expect(parseGeometry({ redraftGeometry: 1, nonce: 'n0nce', x: 1.5, y: 2 })).toEqual({
      redraftGeometry: 1,
      nonce: 'n0nce',
      x: 1.5,
      y: 2,
    });
    expect(parseGeometry({ redraftGeometry: 1, nonce: 'n0nce', x: NaN, y: 2 })).toBeNull();
    expect(parseGeometry({ nonce: 'n0nce', x: 1, y: 2 })).toBeNull();
    expect(offsetBox({ left: 1, top: 2, right: 3, bottom: 4 }, 10, 20)).toEqual({
      left: 11,
      top: 22,
      right: 13,
      bottom: 24,
    });
  });
});

describe('canvas editors', () => {
  const rect = (left: number, top: number, width: number, height: number) =>
    ({
      left,
      top,
      right: left + width,
      bottom: top + height,
      width,
      height,
      x: left,
      y: top,
      toJSON: () => ({}),
    }) as DOMRect;

  it('a canvas covering a good part of the viewport counts; a small chart does not', () => {
    document.body.innerHTML = '<canvas id="a"></canvas>';
    const w = window.innerWidth;
    const hgt = window.innerHeight;
    expect(drawsTextOnCanvas(document, () => rect(0, 0, w, hgt / 2))).toBe(true);
    expect(drawsTextOnCanvas(document, () => rect(0, 0, 200, 100))).toBe(false);
    // Off screen does not count.
    expect(drawsTextOnCanvas(document, () => rect(0, hgt + 10, w, hgt))).toBe(false);
    document.body.innerHTML = '<p>No canvas</p>';
    expect(drawsTextOnCanvas(document)).toBe(false);
  });
});
