/** Tiptap 3 with StarterKit (its undo/redo included); text read from the ProseMirror doc under it. */
import { Editor } from '@tiptap/core';
import StarterKit from '@tiptap/starter-kit';
import { INITIAL_HTML } from './content';
import { editorTest, mount } from './harness';

const editor = new Editor({
  element: mount(),
  extensions: [StarterKit],
  content: INITIAL_HTML,
  onUpdate: () => test.changed(), // Tiptap emits `update` only for transactions with docChanged
});
const test = editorTest(() => editor.state.doc.textBetween(0, editor.state.doc.content.size, '\n'));
test.ready();
