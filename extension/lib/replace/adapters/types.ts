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
  /** The editor's own undo, tried in order until the field reads back the original. */
  undo: readonly UndoStrategy[];
}
