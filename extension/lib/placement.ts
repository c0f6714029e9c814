/**
 * Where the toolbar or panel goes: next to the selection and never over it: below it, else above it, else
 * beside it (after it in the text's direction, else before), else the side with the most room; always whole
 * inside the viewport (8 px margin). Left-to-right text aligns the card's left edge with the selection's
 * start, right-to-left text its right edge. Pure: boxes in, a position out.
 */
import type { Box } from './frames';

export interface Size {
  w: number;
  h: number;
}

const M = 8;
const GAP = 8;

const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(v, Math.max(lo, hi)));

export function placeCard(
  anchor: Box,
  card: Size,
  view: Size,
  dir: 'ltr' | 'rtl' = 'ltr',
): { left: number; top: number; side: 'below' | 'above' | 'after' | 'before' | 'over' } {
  const alignedLeft = clamp(dir === 'rtl' ? anchor.right - card.w : anchor.left, M, view.w - card.w - M);
  const midTop = clamp((anchor.top + anchor.bottom) / 2 - card.h / 2, M, view.h - card.h - M);
  // Scrolled past the viewport's edge, the anchor keeps the card at that edge (never outside the viewport).
  if (anchor.bottom + GAP + card.h <= view.h - M)
    return { left: alignedLeft, top: Math.max(M, anchor.bottom + GAP), side: 'below' };
  if (anchor.top - GAP - card.h >= M)
    return { left: alignedLeft, top: Math.min(anchor.top - GAP - card.h, view.h - card.h - M), side: 'above' };
  const roomRight = view.w - M - (anchor.right + GAP);
  const roomLeft = anchor.left - GAP - M;
  const right = { left: anchor.right + GAP, top: midTop };
  const left = { left: anchor.left - GAP - card.w, top: midTop };
  const [first, second] = dir === 'rtl' ? [left, right] : [right, left];
  const [firstRoom, secondRoom] = dir === 'rtl' ? [roomLeft, roomRight] : [roomRight, roomLeft];
  if (card.w <= firstRoom) return { ...first, side: 'after' };
  if (card.w <= secondRoom) return { ...second, side: 'before' };
  // No room anywhere (a selection taller than the viewport): where it covers least, inside the viewport.
  const below = view.h - anchor.bottom;
  const above = anchor.top;
  const top = below >= above ? view.h - card.h - M : M;
  return { left: alignedLeft, top: clamp(top, M, view.h - card.h - M), side: 'over' };
}
