/**
 * CKEditor 5: its editable carries `ck-editor__editable`.
 *
 * One line goes the generic way (CKEditor takes the browser's insertText into its model once its selection has
 * synced). Text with line breaks must not go as `beforeinput`: CKEditor splits it into one insertText and one
 * insertParagraph per line, each its own undo step, so Ctrl+Z would take several presses. Its clipboard
 * pipeline inserts the whole text in one undo step, so paste comes first.
 */
import { genericEditable } from './generic';
import type { EditorAdapter } from './types';

export const ckeditor: EditorAdapter = {
  name: 'CKEditor 5',
  matches: (root) => root.classList.contains('ck-editor__editable'),
  strategies: genericEditable.strategies,
  multiline: ['paste', 'execCommand'],
  undo: genericEditable.undo,
};
