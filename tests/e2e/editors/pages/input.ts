/** An `<input type="text" id="field">` holding the second paragraph: `text()` is its value. */
import { editorTest, mount } from './harness';

const field = mount('field') as HTMLInputElement;
const test = editorTest(() => field.value);
field.addEventListener('input', () => test.changed());
test.ready();
