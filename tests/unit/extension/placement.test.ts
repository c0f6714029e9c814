import { describe, expect, it } from 'vitest';
import { placeCard } from '../../../extension/lib/placement';

const view = { w: 1000, h: 700 };
const card = { w: 400, h: 150 };
const box = (left: number, top: number, right: number, bottom: number) => ({ left, top, right, bottom });
const overlaps = (a: { left: number; top: number }, b: ReturnType<typeof box>) =>
  a.left < b.right && a.left + card.w > b.left && a.top < b.bottom && a.top + card.h > b.top;

describe('placeCard', () => {
  it('below the selection, aligned with its start; above when there is no room below', () => {
    expect(placeCard(box(100, 100, 300, 120), card, view)).toEqual({ left: 100, top: 128, side: 'below' });
    const low = box(100, 600, 300, 620);
    const p = placeCard(low, card, view);
    expect(p).toEqual({ left: 100, top: 442, side: 'above' });
    expect(overlaps(p, low)).toBe(false);
  });

  it('right-to-left text aligns the right edges', () => {
    expect(placeCard(box(600, 100, 900, 120), card, view, 'rtl')).toMatchObject({ left: 500, side: 'below' });
  });

  it('never clipped at the viewport edges', () => {
    const p = placeCard(box(900, 100, 990, 120), card, view);
    expect(p.left + card.w).toBeLessThanOrEqual(view.w - 8);
    expect(placeCard(box(-50, 100, 20, 120), card, view).left).toBe(8);
  });

  it('a tall selection: beside it (after, in the text direction), else before, never over it while there is room', () => {
    const tall = box(100, 50, 500, 650);
    const p = placeCard(tall, card, view);
    expect(p.side).toBe('after');
    expect(overlaps(p, tall)).toBe(false);
    const tallRight = box(520, 50, 990, 650);
    const q = placeCard(tallRight, card, view);
    expect(q.side).toBe('before');
    expect(overlaps(q, tallRight)).toBe(false);
    expect(placeCard(tallRight, card, view, 'rtl').side).toBe('after');
  });

  it('no room anywhere: inside the viewport, on the side with more room', () => {
    const huge = box(0, 0, 1000, 700);
    const p = placeCard(huge, card, view);
    expect(p.side).toBe('over');
    expect(p.top).toBeGreaterThanOrEqual(8);
    expect(p.top + card.h).toBeLessThanOrEqual(view.h - 8);
  });
});
