/** Quill 2 (snow theme): the initial paragraphs are in the container before Quill takes it over. */
import Quill from 'quill';
import 'quill/dist/quill.snow.css';
import { INITIAL_HTML } from './content';
import { editorTest, mount } from './harness';

const container = mount();
container.innerHTML = INITIAL_HTML;
const quill = new Quill(container, { theme: 'snow', modules: { toolbar: [['bold', 'italic']] } });
// getText() always ends with the document's final '\n'.
const test = editorTest(() => quill.getText().replace(/\n$/, ''));
quill.on('text-change', () => test.changed());
test.ready();
