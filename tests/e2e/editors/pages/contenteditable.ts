/**
 * A plain `contenteditable` div (also loaded inside the frame-srcdoc frame): the DOM is its only model, so
 * `text()` joins its paragraphs' text. The browser's own editing and undo apply.
 */
import { editorTest, mount } from './harness';

const field = mount();
const test = editorTest(() =>
  Array.from(field.children)
    .map((p) => p.textContent ?? '')
    .join('\n'),
);
field.addEventListener('input', () => test.changed());
test.ready();
