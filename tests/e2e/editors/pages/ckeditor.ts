/** CKEditor 5 ClassicEditor (GPL license key); text read by walking the model root's paragraphs. */
import { Bold, ClassicEditor, Essentials, Italic, Paragraph, type ModelElement } from 'ckeditor5';
import 'ckeditor5/ckeditor5.css';
import { INITIAL_HTML } from './content';
import { editorTest, mount } from './harness';

const editor = await ClassicEditor.create(mount(), {
  licenseKey: 'GPL',
  plugins: [Essentials, Paragraph, Bold, Italic],
  toolbar: ['undo', 'redo', '|', 'bold', 'italic'],
  initialData: INITIAL_HTML,
});

const blockText = (block: ModelElement) =>
  Array.from(editor.model.createRangeIn(block).getItems())
    // A soft break (Shift+Enter, or a pasted single line break) is a line break of the text.
    .map((item) => (item.is('$textProxy') ? item.data : item.is('element', 'softBreak') ? '\n' : ''))
    .join('');
const test = editorTest(() => {
  const root = editor.model.document.getRoot();
  if (!root) return '';
  return Array.from(root.getChildren())
    .map((block) => (block.is('element') ? blockText(block) : ''))
    .join('\n');
});
editor.model.document.on('change:data', () => test.changed());
test.ready();
