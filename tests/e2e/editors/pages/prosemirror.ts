/** ProseMirror with the basic schema, history and base keymap; text read from the state's doc. */
import { EditorState } from 'prosemirror-state';
import { EditorView } from 'prosemirror-view';
import { DOMParser } from 'prosemirror-model';
import { schema } from 'prosemirror-schema-basic';
import { history, redo, undo } from 'prosemirror-history';
import { keymap } from 'prosemirror-keymap';
import { baseKeymap } from 'prosemirror-commands';
import 'prosemirror-view/style/prosemirror.css';
import { INITIAL_HTML } from './content';
import { editorTest, mount } from './harness';

const source = document.createElement('div');
source.innerHTML = INITIAL_HTML;

const view: EditorView = new EditorView(mount(), {
  state: EditorState.create({
    doc: DOMParser.fromSchema(schema).parse(source),
    plugins: [history(), keymap({ 'Mod-z': undo, 'Mod-y': redo, 'Shift-Mod-z': redo }), keymap(baseKeymap)],
  }),
  dispatchTransaction(tr) {
    view.updateState(view.state.apply(tr));
    if (tr.docChanged) test.changed();
  },
});
const test = editorTest(() => view.state.doc.textBetween(0, view.state.doc.content.size, '\n'));
test.ready();
