/**
 * Where the pill, the toolbar, the panel and the chip go in the top frame's viewport, anchored to the
 * selection (lib/placement says where a card goes next to a box), and how the anchor moves when the page
 * scrolls. Pure: a report, its frame's offset and sizes in, a position out.
 */
import { offsetBox, type Box, type SelectionReport } from '../../lib/frames';
import { placeCard, type Size } from '../../lib/placement';
import type { Offset } from '../geometry';

export interface Placed {
  left: number;
  top: number;
  /** The selection is out of the viewport (scrolled away): the pill and the toolbar wait until it is back. */
  offscreen: boolean;
}

const M = 8;

/** The selection's box in this viewport; a text field anchors at the pointer (its own box is the whole field). */
function anchorOf(report: SelectionReport, offset: Offset): Box {
  const r = offsetBox(report.rect, offset.x, offset.y);
  if (report.point && report.kind === 'field') {
    const p = { x: report.point.x + offset.x, y: report.point.y + offset.y };
    // The pointer inside the field's box (a scroll moved both).
    const x = Math.min(Math.max(p.x, r.left), r.right);
    const y = Math.min(Math.max(p.y, r.top), r.bottom);
    return { left: x, top: y - 10, right: x + 1, bottom: y + 10 };
  }
  return r;
}

const outside = (b: Box, view: Size) => b.bottom < 0 || b.top > view.h || b.right < 0 || b.left > view.w;

/** The toolbar, the panel or the chip: next to the selection, never over it while there is room, always inside the viewport. */
export function placeCardFor(report: SelectionReport, offset: Offset | null, card: Size, view: Size): Placed {
  // A frame whose position could not be found: the top-right corner, not a guess over the text.
  if (!offset) return { left: Math.max(M, view.w - card.w - M), top: M, offscreen: false };
  const anchor = anchorOf(report, offset);
  const { left, top } = placeCard(anchor, card, view, report.dir);
  return { left: Math.round(left), top: Math.round(top), offscreen: outside(anchor, view) };
}

/** The small button: just past the end of the selection (the pointer in a text field), inside the viewport. */
export function placePill(report: SelectionReport, offset: Offset | null, view: Size, size = 28): Placed {
  const o = offset ?? { x: 0, y: 0 };
  const r = offsetBox(report.rect, o.x, o.y);
  const anchor = anchorOf(report, o);
  const at =
    report.point && report.kind === 'field'
      ? { x: anchor.left + 10, y: anchor.bottom - 4 }
      : report.dir === 'rtl'
        ? { x: r.left - size - 6, y: r.bottom + 4 }
        : { x: r.right + 6, y: r.bottom + 4 };
  return {
    left: Math.round(Math.max(M, Math.min(at.x, view.w - size - M))),
    top: Math.round(Math.max(M, Math.min(at.y, view.h - size - M))),
    offscreen: outside(anchor, view),
  };
}

/** The report with the selection's new box: the pointer (for fields) moves with it. */
export function moveReport(report: SelectionReport, rect: Box): SelectionReport {
  const dx = rect.left - report.rect.left;
  const dy = rect.top - report.rect.top;
  return { ...report, rect, point: report.point ? { x: report.point.x + dx, y: report.point.y + dy } : null };
}
