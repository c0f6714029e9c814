/** Vanilla Lexical (no React): rich text + history, text read from the editor state. */
import { $createParagraphNode, $createTextNode, $getRoot, createEditor } from 'lexical';
import { HeadingNode, QuoteNode, registerRichText } from '@lexical/rich-text';
import { createEmptyHistoryState, registerHistory } from '@lexical/history';
import { mergeRegister } from '@lexical/utils';
import { FIRST, SECOND } from './content';
import { editorTest, mount } from './harness';

const editor = createEditor({
  namespace: 'redraft-e2e',
  nodes: [HeadingNode, QuoteNode],
  onError: (error) => {
    throw error;
  },
});
const test = editorTest(() =>
  editor
    .getEditorState()
    .read(() => $getRoot().getTextContent())
    .replace(/\n\n/g, '\n'),
);

editor.setRootElement(mount());
editor.update(
  () => {
    const root = $getRoot().clear();
    for (const text of [FIRST, SECOND]) root.append($createParagraphNode().append($createTextNode(text)));
  },
  { discrete: true },
);

// The initial content is the history's starting point, so undo stops there instead of emptying the editor.
const history = createEmptyHistoryState();
history.current = { editor, editorState: editor.getEditorState() };
mergeRegister(
  registerRichText(editor),
  registerHistory(editor, history, 300),
  editor.registerUpdateListener(({ dirtyElements, dirtyLeaves }) => {
    if (dirtyElements.size > 0 || dirtyLeaves.size > 0) test.changed();
  }),
);
test.ready();
