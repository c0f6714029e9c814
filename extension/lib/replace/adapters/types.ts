import type { Strategy, UndoStrategy } from '../strategies';

/**
 * What one kind of editor needs, chosen by feature detection on the editable element (never by the page's
 * address). An adapter only orders strategies; every attempt is still verified by reading the field back.
 */
export interface EditorAdapter {
  name: string;
  matches(root: HTMLElement): boolean;
  /** Tried in order until the field reads back the new text. */
  strategies: readonly Strategy[];
  /**
   * For text with line breaks, when the order differs: the browser's insertText splits blocks in the DOM, which
   * editors that diff the DOM per block (Draft.js) misread and others record as several undo steps (CKEditor),
   * so editors' own paste handling comes first.
   */
  multiline?: readonly Strategy[];
  /** The editor's own undo, tried in order until the field reads back the original. */
  undo: readonly UndoStrategy[];
}
