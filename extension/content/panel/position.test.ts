import { describe, expect, it } from 'vitest';
import type { SelectionReport } from '../../lib/frames';
import { moveReport, placeCardFor, placePill } from './position';

const view = { w: 1000, h: 700 };
const card = { w: 400, h: 120 };
const report = (o: Partial<SelectionReport> = {}): SelectionReport => ({
  id: 's',
  text: 'x',
  editable: true,
  kind: 'editable',
  rect: { left: 100, top: 200, right: 300, bottom: 220 },
  point: null,
  fromCommand: false,
  mode: 'toolbar',
  nonce: 'n',
  dir: 'ltr',
  dark: false,
  oneLine: false,
  ...o,
});

describe('placeCardFor', () => {
  it('below the selection, in the frame offset, never over it', () => {
    expect(placeCardFor(report(), { x: 0, y: 0 }, card, view)).toEqual({ left: 100, top: 228, offscreen: false });
    expect(placeCardFor(report(), { x: 50, y: 100 }, card, view)).toEqual({ left: 150, top: 328, offscreen: false });
  });

  it('scrolled below the viewport: the card stays whole at the bottom edge and says the selection is away', () => {
    const away = moveReport(report(), { left: 100, top: 900, right: 300, bottom: 920 });
    const p = placeCardFor(away, { x: 0, y: 0 }, card, view);
    expect(p.top).toBe(700 - 120 - 8);
    expect(p.offscreen).toBe(true);
  });

  it('scrolled above the viewport: at the top edge', () => {
    const p = placeCardFor(
      moveReport(report(), { left: 100, top: -300, right: 300, bottom: -280 }),
      { x: 0, y: 0 },
      card,
      view,
    );
    expect(p).toEqual({ left: 100, top: 8, offscreen: true });
  });

  it('a frame whose offset is unknown: the top-right corner', () => {
    expect(placeCardFor(report(), null, card, view)).toEqual({ left: 592, top: 8, offscreen: false });
  });

  it('a text field anchors at the pointer inside its box', () => {
    const f = report({
      kind: 'field',
      rect: { left: 100, top: 100, right: 700, bottom: 500 },
      point: { x: 400, y: 150 },
    });
    expect(placeCardFor(f, { x: 0, y: 0 }, card, view)).toMatchObject({ left: 400, top: 168 });
  });
});

describe('placePill', () => {
  it('just past the end of the selection, the start of it in RTL, inside the viewport', () => {
    expect(placePill(report(), { x: 0, y: 0 }, view)).toEqual({ left: 306, top: 224, offscreen: false });
    expect(placePill(report({ dir: 'rtl' }), { x: 0, y: 0 }, view)).toEqual({ left: 66, top: 224, offscreen: false });
    expect(placePill(report({ rect: { left: 900, top: 680, right: 999, bottom: 699 } }), { x: 0, y: 0 }, view)).toEqual(
      { left: 964, top: 664, offscreen: false },
    );
  });
});

describe('moveReport', () => {
  it('moves the box and the pointer by the same delta', () => {
    const r = moveReport(report({ point: { x: 150, y: 210 } }), { left: 90, top: 150, right: 290, bottom: 170 });
    expect(r.rect.top).toBe(150);
    expect(r.point).toEqual({ x: 140, y: 160 });
  });
});
