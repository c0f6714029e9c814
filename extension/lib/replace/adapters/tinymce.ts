/**
 * TinyMCE (iframe and inline modes): its editable body carries `mce-content-body`.
 *
 * The browser's insertText changes TinyMCE's content, but its undo manager records no level for it, so
 * the user's Ctrl+Z then undoes something else. TinyMCE handles `paste` itself (through `insertContent`
 * inside an undo transaction), so a synthetic paste comes first; its Ctrl+Z shortcut is its own undo.
 */
import type { EditorAdapter } from './types';

export const tinymce: EditorAdapter = {
  name: 'TinyMCE',
  matches: (root) => root.classList.contains('mce-content-body'),
  strategies: ['paste', 'beforeinput', 'execCommand'],
  undo: ['keydown', 'execCommand'],
};
