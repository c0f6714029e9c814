/**
 * Reading back what a field holds, and waiting for an editor to finish reacting to a change.
 *
 * Replace never trusts that an insertion "worked": after each attempt it waits for the editor to settle
 * (editors re-render, or revert DOM changes they did not make, a few milliseconds later) and compares the
 * field's text with what it must be. Depends on: the DOM only.
 */
import type { FieldElement } from '../selection';

/**
 * Text compared without whitespace and the invisible characters editors put in their DOM (zero-width
 * spaces, BOMs, word joiners, soft hyphens): blocks, `<br>`s and fillers differ between editors, words do not.
 */
export const squash = (s: string): string => s.replace(/[\s\u00AD\u200B-\u200D\u2060\uFEFF]+/g, '');

/** The text of an editable root in textContent units (the units offsets are kept in). */
export const rootText = (root: Node): string => root.textContent ?? '';

export const fieldText = (el: FieldElement): string => el.value;

/** The value a replacement must leave: the text before the selection, the new text, the text after. */
export const spliced = (whole: string, start: number, length: number, text: string): string =>
  whole.slice(0, start) + text + whole.slice(start + length);

export type Settle = (root: Node) => Promise<void>;

/**
 * Resolves once the DOM under `root` has been quiet for `quietMs` (after at least one frame), or after
 * `maxMs`. A frame alone is not enough: CKEditor reverts foreign DOM changes ~4 ms later and React
 * editors re-render after their state update.
 */
export function settleDom({ quietMs = 30, maxMs = 500 }: { quietMs?: number; maxMs?: number } = {}): Settle {
  return (root) =>
    new Promise<void>((resolve) => {
      const view = (root.ownerDocument ?? (root as Document)).defaultView ?? globalThis;
      let quiet: ReturnType<typeof setTimeout> | undefined;
      let framed = false;
      const observer = typeof view.MutationObserver === 'function' ? new view.MutationObserver(() => arm()) : null;
      const done = () => {
        observer?.disconnect();
        clearTimeout(quiet);
        clearTimeout(cap);
        resolve();
      };
      const arm = () => {
        clearTimeout(quiet);
        if (framed) quiet = setTimeout(done, quietMs);
      };
      const cap = setTimeout(done, maxMs);
      observer?.observe(root, { subtree: true, childList: true, characterData: true, attributes: false });
      // rAF does not run in a hidden tab: a timer stands in for the frame there.
      const frame = () => {
        if (framed) return;
        framed = true;
        arm();
      };
      if (typeof view.requestAnimationFrame === 'function') view.requestAnimationFrame(() => setTimeout(frame, 0));
      setTimeout(frame, 50);
    });
}
