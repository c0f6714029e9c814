/**
 * Any contenteditable, and every editor without an adapter of its own: first a synthetic `beforeinput`
 * (taken by editors that own their model: Lexical, CKEditor 5; ignored by a plain contenteditable), then
 * the browser's `insertText` command (ProseMirror/Tiptap, Draft.js, Quill and plain contenteditable read
 * the DOM change back, with native undo), then a synthetic paste. Text with line breaks goes by paste before
 * the command: editors split it into blocks in one undo step, where the command's block splits are misread by
 * Draft.js and take several undo steps in CKEditor.
 */
import type { EditorAdapter } from './types';

export const genericEditable: EditorAdapter = {
  name: 'contenteditable',
  matches: () => true,
  strategies: ['beforeinput', 'execCommand', 'paste'],
  multiline: ['beforeinput', 'paste', 'execCommand'],
  undo: ['keydown', 'historyUndo', 'execCommand'],
};

/** Text fields: the browser's insertText (native undo, React sees the input), else setRangeText + input. */
export const textField: EditorAdapter = {
  name: 'text field',
  matches: (el) => el.tagName === 'TEXTAREA' || el.tagName === 'INPUT',
  strategies: ['execCommand', 'setRangeText'],
  undo: ['keydown', 'execCommand'],
};
