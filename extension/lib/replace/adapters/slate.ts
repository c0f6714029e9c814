/**
 * Slate (slate-react): the editable carries `data-slate-editor`.
 *
 * Slate takes its input from `beforeinput` only. The browser's insertText changes the DOM but not Slate's
 * model (`editor.children`), and the DOM then reads back as if it had worked, until Slate's next render
 * wipes it and typing lands at the start of the document. So the command is never used here: a synthetic
 * `beforeinput` (Slate applies it to its model), else a paste (Slate's own paste handling).
 */
import type { EditorAdapter } from './types';

export const slate: EditorAdapter = {
  name: 'Slate',
  matches: (root) => root.getAttribute('data-slate-editor') === 'true',
  strategies: ['beforeinput', 'paste'],
  undo: ['keydown', 'historyUndo'],
};
